"""No generated password leaks: every command's output on a real stack is scanned for each value
of .devenv/secrets.json. Private files are 0600 in 0700 folders; ports are on loopback.
"""

from __future__ import annotations

import json
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.fault_stack import small_stack
from tests.integration.stacks import CopiedStack, Result

pytestmark = pytest.mark.xdist_group("test_secrets")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    with small_stack(tmp_path_factory.mktemp("secrets") / "p", prefix="t-secrets") as s:
        s.ok("up")
        yield s


def _leaks(stack: CopiedStack, results: dict[str, Result]) -> list[str]:
    passwords = stack.secrets()
    found = []
    for what, result in results.items():
        text = result.stdout + result.stderr
        found += [f"`devenv {what}` prints {key}" for key, pw in passwords.items() if pw in text]
    return found


def test_no_command_prints_a_password(stack: CopiedStack) -> None:
    results = {
        "up": stack.ok("up"),
        "status": stack.ok("status"),
        "status --json": stack.ok("status", "--json"),
        "env app": stack.ok("env", "app"),
        "env app --format json": stack.ok("env", "app", "--format", "json"),
        "env app --format shell": stack.ok("env", "app", "--format", "shell"),
        "info app": stack.ok("info", "app"),
        "info app --json": stack.ok("info", "app", "--json"),
        "reset app": stack.ok("reset", "app"),
        "logs": stack.ok("logs", "--tail", "500"),
        "ps": stack.ok("ps"),
        "doctor": stack.devenv("doctor"),
        "doctor --json": stack.devenv("doctor", "--json"),
        "db list": stack.ok("db", "list"),
        "migrate": stack.ok("migrate"),
        "config": stack.ok("config"),
    }
    # Failing commands: a port taken by another process, and a server that cannot start.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        data = stack.read_manifest()
        saved = dict(data["servers"]["cache"])
        data["servers"]["cache"]["port"] = holder.getsockname()[1]
        stack.write_manifest(data)
        try:
            results["up (port taken)"] = stack.devenv("up")
        finally:
            data["servers"]["cache"] = saved
            stack.write_manifest(data)
    assert results["up (port taken)"].code == 1, results["up (port taken)"].explain()
    results["psql bad args"] = stack.devenv("psql", "app", "--", "-c", "SELECT nope")
    results["up again"] = stack.ok("up")
    assert _leaks(stack, results) == []


def test_failed_server_start_prints_no_password(stack: CopiedStack) -> None:
    data = stack.read_manifest()
    data["servers"]["pg"]["settings"] = {"shared_buffers": "banana"}
    stack.write_manifest(data)
    try:
        result = stack.devenv("up", "--timeout", "20")
        assert result.code == 1, result.explain()
        assert _leaks(stack, {"up (bad setting)": result}) == []
    finally:
        del data["servers"]["pg"]["settings"]
        stack.write_manifest(data)
    stack.ok("up")


def test_db_clone_masks_the_password_unless_asked(stack: CopiedStack) -> None:
    results = {"db clone app": stack.ok("db", "clone", "app"),
               "db clone app --json": stack.ok("db", "clone", "app", "--json"),
               "db list --json": stack.ok("db", "list", "--json")}
    assert "****" in results["db clone app"].stdout
    shown = stack.ok("db", "clone", "app", "--show-secrets").stdout
    assert stack.secrets()["pg/app"] in shown
    results["db prune"] = stack.ok("db", "prune")
    assert _leaks(stack, results) == []


def test_show_secrets_shows_them(stack: CopiedStack) -> None:
    passwords = stack.secrets()
    shown = stack.ok("env", "app", "--show-secrets").stdout
    assert passwords["pg/app"] in shown
    assert passwords["cache/app"] in shown
    masked = json.loads(stack.ok("env", "app", "--format", "json").stdout)
    assert "****" in masked["DATABASE_URL"] and masked["PGPASSWORD"] == "****"


def test_private_files_and_folders(stack: CopiedStack) -> None:
    state = stack.root / ".devenv"
    paths = [state, *state.rglob("*")]
    assert any(p.name == "secrets.json" for p in paths)
    loose = [f"{p.relative_to(stack.root)} {oct(stat.S_IMODE(p.stat().st_mode))}" for p in paths
             if stat.S_IMODE(p.stat().st_mode) != (0o700 if p.is_dir() else 0o600)]
    env_files = [stack.root / s["env_file"] for s in stack.status()["services"]]
    loose += [f"{p} {oct(stat.S_IMODE(p.stat().st_mode))}" for p in env_files
              if stat.S_IMODE(p.stat().st_mode) != 0o600]
    assert loose == []


def test_published_ports_are_on_loopback(stack: CopiedStack) -> None:
    out = subprocess.run(["docker", "ps", "--filter", f"label=dev.devenv.project={stack.project}",
                          "--format", "{{.Names}}\t{{.Ports}}"], capture_output=True, text=True,
                         check=True).stdout
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 2, out
    for line in lines:
        _, _, ports = line.partition("\t")
        bindings = [p.strip() for p in ports.split(",") if "->" in p]
        assert bindings, line
        assert all(b.startswith("127.0.0.1:") for b in bindings), line


def test_doctor_warns_about_a_server_on_all_interfaces(tmp_path: Path) -> None:
    with small_stack(tmp_path / "open", prefix="t-secrets-bind",
                     pg={"bind": "0.0.0.0"}) as open_stack:
        result = open_stack.devenv("doctor")
        warn = [line for line in result.stdout.splitlines() if "ports on loopback" in line]
        assert warn and warn[0].startswith("warn") and "pg" in warn[0], result.explain()
        assert "cache" not in warn[0]
