"""`devenv doctor` on this machine's engine: healthy, no daemon, a taken port, --json."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.fault_stack import small_stack
from tests.integration.stacks import CopiedStack

pytestmark = pytest.mark.xdist_group("test_doctor")

CHECKS = ["docker installed", "daemon answering", "engine features", "compose v2",
          "images present", "host ports free", "ports on loopback", "disk space",
          ".devenv/ state", "generated files fresh"]
NO_DAEMON = "unix:///tmp/devenv-doctor-no-such.sock"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[CopiedStack]:
    with small_stack(tmp_path / "p", prefix="t-doctor") as stack:
        yield stack


def _lines(text: str) -> dict[str, str]:
    """Check name -> its line, from `ok   name: detail` / `FAIL  name: detail`."""
    out = {}
    for line in text.splitlines():
        if line[:4] in ("ok  ", "warn", "FAIL") and ":" in line:
            out[line[6:].split(":", 1)[0]] = line
    return out


def test_healthy_engine(project: CopiedStack) -> None:
    project.ok("generate")
    result = project.devenv("doctor")
    assert result.code == 0, result.explain()
    lines = _lines(result.stdout)
    assert list(lines) == CHECKS, result.stdout
    assert all(not line.startswith("FAIL") for line in lines.values())
    assert lines["daemon answering"].startswith("ok")


def test_no_daemon(project: CopiedStack) -> None:
    result = project.devenv("doctor", env={"DOCKER_HOST": NO_DAEMON})
    assert result.code == 1, result.explain()
    assert "Traceback" not in result.stdout + result.stderr
    lines = _lines(result.stdout)
    assert lines["daemon answering"].startswith("FAIL"), result.stdout
    after = result.stdout.split(lines["daemon answering"], 1)[1].lstrip("\n")
    assert after.startswith("      fix: start Docker"), result.stdout
    assert "daemon answering" in result.stderr


def test_port_taken(project: CopiedStack) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", project.ports["cache"]))
        holder.listen()
        result = project.devenv("doctor")
    assert result.code == 1, result.explain()
    line = _lines(result.stdout)["host ports free"]
    assert line.startswith("FAIL"), result.stdout
    assert str(project.ports["cache"]) in line and "'cache'" in line
    assert "host ports free" in result.stderr


def test_json(project: CopiedStack) -> None:
    result = project.devenv("doctor", "--json")
    data = json.loads(result.stdout)
    assert [c["name"] for c in data] == CHECKS
    assert all(set(c) == {"name", "status", "detail", "fix"} for c in data)
    assert all(c["status"] in ("ok", "warn", "fail") for c in data)
    bad = json.loads(project.devenv("doctor", "--json",
                                    env={"DOCKER_HOST": NO_DAEMON}).stdout)
    daemon = next(c for c in bad if c["name"] == "daemon answering")
    assert daemon["status"] == "fail" and daemon["fix"]


def test_right_after_init_the_compose_file_is_not_generated_yet_not_stale(
        tmp_path: Path) -> None:
    stack = CopiedStack(tmp_path, "t-doctor-init")
    stack.ok("init")
    result = stack.devenv("doctor", env={"DOCKER_HOST": NO_DAEMON})  # local checks only
    lines = _lines(result.stdout)
    assert lines["generated files fresh"] == (
        "ok    generated files fresh: not generated yet: compose/compose.yaml, .env.example "
        "(run `devenv up` or `devenv generate`)"), result.explain()
    assert "stale" not in result.stdout
