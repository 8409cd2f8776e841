"""The standby's hand-over rules, over its real socket (no stack: the resets are in
tests/integration/test_reset.py)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv.data import standby, standbyd
from devenv.store.stackcache import code_fingerprint


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".devenv").mkdir(mode=0o700)
    manifest = tmp_path / "devenv.yaml"
    manifest.write_text("project: demo\n")
    return manifest


@pytest.fixture
def serving(project: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=standbyd.serve, args=(project,),
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
    before = code_fingerprint()
    monkeypatch.setenv("DEVENV_SPARES", "0")
    monkeypatch.setenv("PGSSLMODE", "require")
    assert code_fingerprint() == before


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
    reply = standby.ask(standby.socket_path(project),
                         {"fingerprint": "another devenv", "manifest": str(project.resolve()),
                          "cwd": str(project.parent), "env": {}, "names": ["auth"],
                          "all": False, "quiet": False, "sent": time.time()}, 10)
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
    # Still there for its own manifest: it answers the next request (it serves one at a time).
    assert standby.ask(standby.socket_path(project), {"stop": True}, 10) == {"stopped": True}


def test_code_edited_while_it_started_is_never_served(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    standbyd.serve(project, launched_ns=0)  # every file is newer than that
    assert not standby.socket_path(project).exists()
    assert "not serving (devenv's files changed while it started)" in capsys.readouterr().out


def test_a_second_standby_for_the_same_stack_leaves_it_to_the_first(
        project: Path, serving: threading.Thread, capsys: pytest.CaptureFixture[str]) -> None:
    inode = standby.socket_path(project).stat().st_ino
    standbyd.serve(project, launched_ns=time.time_ns())  # returns at once: the lock is held
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
    thread = threading.Thread(target=standbyd.serve, args=(project,),
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
    # Served one at a time: an answer to the next request means each of those was handled.
    assert standby.ask(standby.socket_path(project), {"stop": True}, 10) == {"stopped": True}


def test_a_request_of_another_shape_is_refused_never_coerced() -> None:
    good = {"fingerprint": "f", "manifest": "/p/devenv.yaml", "cwd": "/p", "env": {},
            "names": ["auth"], "all": False, "quiet": True, "sent": 1.5}
    parsed = standbyd.parse(json.dumps(good).encode())
    assert isinstance(parsed, standbyd.Request) and parsed.names == ["auth"]
    assert standbyd.parse(b'{"stop": true}') == "stop"
    for bad in ({**good, "names": "auth"},  # once read as the services a, u, t, h
                {**good, "names": [1]}, {**good, "all": "yes"}, {**good, "env": {"A": 1}},
                {**good, "extra": 1}, {k: v for k, v in good.items() if k != "quiet"},
                {**good, "sent": "now"}, {**good, "sent": True},
                {"stop": "please"}, [good]):
        assert standbyd.parse(json.dumps(bad).encode()) is None, bad


def test_only_the_variables_a_reset_reads_travel_or_are_taken() -> None:
    env = {"PATH": "/bin", "HOME": "/h", "DEVENV_SPARES": "0", "LC_ALL": "C",
           "PGHOSTADDR": "10.0.0.9", "PGPASSWORD": "x", "AWS_SECRET_ACCESS_KEY": "s"}
    assert standby.passed_on(env) == {"PATH": "/bin", "HOME": "/h", "DEVENV_SPARES": "0",
                                      "LC_ALL": "C"}
    request = {"fingerprint": "f", "manifest": "/m", "cwd": "/", "env": env, "names": [],
               "all": True, "quiet": False, "sent": 0}
    parsed = standbyd.parse(json.dumps(request).encode())
    assert isinstance(parsed, standbyd.Request)
    assert "PGHOSTADDR" not in parsed.env and "AWS_SECRET_ACCESS_KEY" not in parsed.env


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to listen as another user")
def test_a_socket_planted_by_another_user_gets_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """Another local user bound .devenv/standby.sock first (a .devenv/ others can write):
    the CLI checks the listener's uid before sending a byte, and resets in process."""
    root = Path(tempfile.mkdtemp(prefix="devenv-planted-", dir="/tmp"))
    try:
        root.chmod(0o755)
        (root / ".devenv").mkdir(mode=0o777)
        (root / ".devenv").chmod(0o777)
        project = root / "devenv.yaml"
        project.write_text("project: demo\n")
        received_r, received_w = os.pipe()
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the attacker, as nobody
            try:
                os.setuid(65534)
                with socket.socket(socket.AF_UNIX) as listener:
                    listener.bind(str(standby.socket_path(project)))
                    listener.listen(1)
                    os.write(ready_w, b"1")
                    listener.settimeout(10)
                    conn, _ = listener.accept()
                    conn.settimeout(3)
                    try:
                        got = conn.recv(65536)
                    except OSError:
                        got = b""
                    os.write(received_w, got or b"-")
            finally:
                os._exit(0)
        os.close(ready_w)
        os.close(received_w)
        assert os.read(ready_r, 1) == b"1", "the attacker could not bind"
        (root / ".devenv").chmod(0o700)  # the folder looks fine again; the socket stays theirs
        assert standby.forward(project, ["auth"], all_=False, quiet=False) is None
        os.waitpid(pid, 0)
        assert os.read(received_r, 65536) == b"-"  # not one byte of the request
        assert "is served by uid 65534, not by you: ignored" in capsys.readouterr().err
    finally:
        shutil.rmtree(root, ignore_errors=True)
