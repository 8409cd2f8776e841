"""The standby's hand-over rules, over its real socket (no stack: the resets are in
tests/integration/test_reset.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv import standby


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".devenv").mkdir(mode=0o700)
    manifest = tmp_path / "devenv.yaml"
    manifest.write_text("project: demo\n")
    return manifest


@pytest.fixture
def serving(project: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=standby.serve, args=(project,),
                              kwargs={"launched_ns": time.time_ns()}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not standby.socket_path(project).exists():
        assert thread.is_alive() and time.monotonic() < deadline, capsys.readouterr().out
        time.sleep(0.01)
    yield thread
    standby.stop(project)
    thread.join(10)


def test_fingerprint_is_the_code_not_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The environment travels with each request instead (tests/integration/test_reset.py).
    before = standby.fingerprint()
    monkeypatch.setenv("DEVENV_SPARES", "0")
    monkeypatch.setenv("PGSSLMODE", "require")
    assert standby.fingerprint() == before


def test_without_a_standby_the_cli_resets_itself(project: Path) -> None:
    assert standby.forward(project, ["auth"], all_=False, quiet=False) is None
    standby.stop(project)  # nothing to stop: no error


def test_the_socket_is_private_and_stop_ends_the_standby(
        project: Path, serving: threading.Thread, capsys: pytest.CaptureFixture[str]) -> None:
    sock = standby.socket_path(project)
    assert sock.stat().st_mode & 0o777 == 0o600
    standby.stop(project)
    serving.join(10)
    assert not serving.is_alive() and not sock.exists()
    assert "standby: exits (asked to stop)" in capsys.readouterr().out


def test_a_client_with_other_code_is_refused_and_the_standby_exits(
        project: Path, serving: threading.Thread, capsys: pytest.CaptureFixture[str]) -> None:
    # What another devenv (another checkout, version or interpreter) would send.
    reply = standby._ask(standby.socket_path(project),
                         {"fingerprint": "another devenv", "manifest": str(project.resolve()),
                          "cwd": str(project.parent), "env": {}, "names": ["auth"]}, 10)
    assert reply == {"stale": True}
    serving.join(10)
    assert not serving.is_alive()
    assert "standby: exits (devenv's code changed)" in capsys.readouterr().out


def test_another_manifest_in_the_same_folder_is_not_served(
        project: Path, serving: threading.Thread) -> None:
    other = project.with_name("other.yaml")
    other.write_text("project: other\n")
    assert standby.socket_path(other) == standby.socket_path(project)
    assert standby.forward(other, ["auth"], all_=False, quiet=False) is None
    time.sleep(0.2)
    assert serving.is_alive()  # still there for its own manifest


def test_code_edited_while_it_started_is_never_served(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    standby.serve(project, launched_ns=0)  # every file is newer than that
    assert not standby.socket_path(project).exists()
    assert "not serving (devenv's files changed while it started)" in capsys.readouterr().out


def test_a_second_standby_for_the_same_stack_leaves_it_to_the_first(
        project: Path, serving: threading.Thread, capsys: pytest.CaptureFixture[str]) -> None:
    inode = standby.socket_path(project).stat().st_ino
    standby.serve(project, launched_ns=time.time_ns())  # returns at once: the lock is held
    assert standby.socket_path(project).stat().st_ino == inode
    assert serving.is_alive()


def test_a_killed_standbys_socket_is_ignored_then_replaced(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    stale = standby.socket_path(project)
    with socket.socket(socket.AF_UNIX) as dead:  # bound, never listening: what a kill leaves
        dead.bind(str(stale))
    assert stale.exists()
    assert standby.forward(project, ["auth"], all_=False, quiet=False) is None
    thread = threading.Thread(target=standby.serve, args=(project,),
                              kwargs={"launched_ns": time.time_ns()}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while "standby: listening" not in capsys.readouterr().out:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.01)
    standby.stop(project)
    thread.join(10)
    assert not thread.is_alive() and not stale.exists()


def test_a_connection_that_says_nothing_is_ignored(
        project: Path, serving: threading.Thread) -> None:
    import socket

    for garbage in (b"", b"not json\n", b"[1, 2]\n"):
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(standby.socket_path(project)))
            client.sendall(garbage)
    time.sleep(0.3)
    assert serving.is_alive()
    assert standby._ask(standby.socket_path(project), {"stop": True}, 10) == {"stopped": True}
