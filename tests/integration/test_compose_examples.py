"""The example stacks' generated compose files, run by a real Docker engine with plain compose.

Each example's manifest is copied to a tmp folder under a unique project name with free host
ports, so the test clashes neither with a developer's running stack nor with other tests.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.devenv_cli import devenv_command

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "capsule": REPO / "devenv.yaml",
    "pcc": REPO / "examples" / "pcc" / "devenv.yaml",
}
UP_TIMEOUT = 300


def devenv(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "DEVENV_FILE"}
    return subprocess.run([*devenv_command(), *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=120, check=False)


def free_ports(count: int) -> list[int]:
    """Distinct ports the kernel just gave out on 127.0.0.1 (all held open until all are chosen)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                 for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


def compose(cwd: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "compose", "-f", "compose/compose.yaml", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)


def ps_entries(text: str) -> list[dict[str, Any]]:
    """`docker compose ps --format json`: a JSON array (older v2) or one object per line."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        entries = json.loads(text)
        assert isinstance(entries, list)
        return entries
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(params=list(EXAMPLES))
def example(request: pytest.FixtureRequest,
            tmp_path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    manifest = yaml.safe_load(EXAMPLES[request.param].read_text())
    manifest["project"] = f"t{secrets.token_hex(5)}"
    servers = manifest.get("servers", {})
    for server, port in zip(servers.values(), free_ports(len(servers)), strict=True):
        server["port"] = port
    (tmp_path / "devenv.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    try:
        yield tmp_path, manifest
    finally:
        down = compose(tmp_path, "down", "-v", "--remove-orphans", "--timeout", "5")
        assert down.returncode == 0, down.stderr


def test_example_comes_up_healthy(example: tuple[Path, dict[str, Any]]) -> None:
    folder, manifest = example
    generated = devenv(folder, "generate")
    assert generated.returncode == 0, generated.stderr

    config = compose(folder, "config", "-q")
    assert config.returncode == 0, config.stderr
    assert config.stderr == "", config.stderr  # no warnings (e.g. obsolete or unknown keys)

    # The servers the manifest declares; a read replica is devenv's to start (it needs the
    # replication role, slot and pg_hba line that `devenv up` provisions on its primary).
    declared = manifest.get("servers", {})
    up = compose(folder, "up", "-d", "--wait", "--wait-timeout", str(UP_TIMEOUT), *declared,
                 timeout=UP_TIMEOUT + 60)
    if up.returncode != 0:
        logs = compose(folder, "logs", "--no-color", "--tail", "40")
        pytest.fail(f"compose up failed:\n{up.stderr}\n--- logs ---\n{logs.stdout}{logs.stderr}")

    ps = compose(folder, "ps", "--all", "--format", "json")
    assert ps.returncode == 0, ps.stderr
    entries = ps_entries(ps.stdout)
    assert sorted(e["Service"] for e in entries) == sorted(declared)
    for entry in entries:
        assert entry["State"] == "running", entry
        assert entry["Health"] == "healthy", entry
        published = {(p["URL"], p["PublishedPort"]) for p in entry.get("Publishers") or []
                     if p.get("PublishedPort")}
        assert published == {("127.0.0.1", declared[entry["Service"]]["port"])}, entry


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_committed_compose_files_are_fresh(name: str) -> None:
    done = devenv(EXAMPLES[name].parent, "generate", "--check")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "compose/ is up to date with devenv.yaml\n"
