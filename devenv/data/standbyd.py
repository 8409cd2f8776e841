"""The reset standby, the server's side: refill the spares, then serve the next resets.

`python -m devenv.data.standbyd MANIFEST LAUNCHED_NS SERVICE...` is the detached process a
reset starts (devenv.data.spares). It makes the services' next spares, then listens on
.devenv/standby.sock for IDLE_SECONDS. Each request is served by a child forked from this warm
process: the child takes the client's working directory and environment, runs the same
`reset.reset` the CLI would, sends the output back, makes the next spares and exits. The
long-lived parent never changes its own directory or environment and runs no reset itself, so
no request leaves state behind for the next one (a fork server, as in multiprocessing's
forkserver).

Only this user is served: the socket sits in the 0700 .devenv/ with mode 0600, and the peer's
uid is checked (SO_PEERCRED). A request must have exactly the shape the CLI sends. The standby
exits when idle, on `devenv down`, when its socket or .devenv/ is removed, and when a client
runs other devenv code. Its lines go to .devenv/spares.log.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devenv.console import Console
from devenv.data import reset, spares
from devenv.data.spares import log
from devenv.data.standby import SOCKET, STALE_SECONDS, enabled, passed_on, peer_uid
from devenv.errors import DevenvError
from devenv.model.stack import STATE_DIR
from devenv.store import stackcache

LOCK = "standby.lock"
IDLE_SECONDS = 600.0
TICK_SECONDS = 2.0  # how often an idle standby checks that its socket is still there
READ_SECONDS = 10.0  # a client that connects and says nothing is dropped after this


@dataclass(frozen=True)
class Request:
    fingerprint: str
    manifest: str
    cwd: str
    env: dict[str, str]
    names: list[str]
    all: bool
    quiet: bool
    sent: float  # the client's time.time(): a standby that was stopped takes no old request


def parse(line: bytes) -> Request | str | None:
    """A reset request, "stop", or None for anything that is not exactly what the CLI sends
    (a wrong type is never coerced: `"names": "auth"` is not the services a, u, t, h)."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if data == {"stop": True}:
        return "stop"
    if not isinstance(data, dict) or set(data) != {f for f in Request.__dataclass_fields__}:
        return None
    strings = all(isinstance(data[k], str) for k in ("fingerprint", "manifest", "cwd"))
    flags = all(isinstance(data[k], bool) for k in ("all", "quiet"))
    names = isinstance(data["names"], list) and all(isinstance(n, str) for n in data["names"])
    env = isinstance(data["env"], dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in data["env"].items())
    sent = isinstance(data["sent"], (int, float)) and not isinstance(data["sent"], bool)
    if not (strings and flags and names and env and sent):
        return None
    return Request(data["fingerprint"], data["manifest"], data["cwd"], passed_on(data["env"]),
                   list(data["names"]), data["all"], data["quiet"], float(data["sent"]))


def main(argv: list[str]) -> int:
    manifest, launched, names = Path(argv[0]), int(argv[1]), argv[2:]
    failed = spares.refill(manifest, names)
    if not failed:  # a stack that is down (or going) gets no standby
        serve(manifest, launched_ns=launched)
    return failed


def serve(manifest: Path, *, launched_ns: int, idle: float = IDLE_SECONDS) -> None:
    """Serve resets of this manifest's stack until idle (a no-op if another standby does).

    `launched_ns`: when this process was started. A devenv file changed since then may or may
    not be what got imported, so then it does not serve at all. A change after this check
    changes the fingerprint: clients see it.
    """
    if not enabled():
        return
    newest: list[int] = []
    mine = stackcache.code_fingerprint(newest=newest)
    if newest[0] > launched_ns:
        log("standby: not serving (devenv's files changed while it started)")
        return
    manifest = manifest.resolve()
    state = manifest.parent / STATE_DIR
    try:
        lock = os.open(state / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # .devenv/ is gone
        return
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock)
        return  # another standby serves this stack
    try:
        _listen(manifest, state / SOCKET, mine, idle)
    finally:
        os.close(lock)


def _listen(manifest: Path, path: Path, mine: str, idle: float) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a killed standby's
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        umask = os.umask(0o177)
        try:
            listener.bind(str(path))
        except OSError as exc:
            log(f"standby: not listening ({exc})")
            return
        finally:
            os.umask(umask)
        listener.listen(8)
        listener.settimeout(TICK_SECONDS)
        inode = path.stat().st_ino
        log(f"standby: listening on {STATE_DIR}/{SOCKET} (exits after {idle:.0f} s idle)")
        why = "idle"
        deadline = time.monotonic() + idle
        while time.monotonic() < deadline:
            _reap()
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                if not _ours(path, inode):
                    why = f"{STATE_DIR}/{SOCKET} was removed"
                    break
                continue
            with conn:
                why = _handle(conn, listener, manifest, mine)
            if why:
                break
            why = "idle"
            deadline = time.monotonic() + idle
        if _ours(path, inode):
            path.unlink()
    log(f"standby: exits ({why})")


def _ours(path: Path, inode: int) -> bool:
    try:
        return path.stat().st_ino == inode
    except OSError:
        return False


def _handle(conn: socket.socket, listener: socket.socket, manifest: Path, mine: str) -> str:
    """Answer one connection; a reason to exit, or "" to go on serving."""
    uid = peer_uid(conn)
    if uid != os.getuid():
        log(f"standby: refused a connection from uid {uid}")
        return ""
    conn.settimeout(READ_SECONDS)
    try:
        with conn.makefile("rb") as requests:
            request = parse(requests.readline())
    except OSError:
        return ""
    if request is None:  # a connection closed unsaid, or garbage: ignored
        return ""
    if request == "stop":
        _reply(conn, {"stopped": True})
        return "asked to stop"
    assert isinstance(request, Request)
    if request.fingerprint != mine:
        _reply(conn, {"stale": True})
        return "devenv's code changed"
    if request.manifest != str(manifest):
        _reply(conn, {"stale": True})  # another manifest beside ours: the CLI does it
        return ""
    if time.time() - request.sent > STALE_SECONDS:  # this process was stopped meanwhile
        log("standby: refused a request older than its client waits for")
        _reply(conn, {"retry": True})
        return ""
    _reply(conn, {"accepted": True})
    _fork(conn, listener, manifest, request)
    return ""


def _fork(conn: socket.socket, listener: socket.socket, manifest: Path,
          request: Request) -> None:
    """Run the request in a child with the client's directory and environment, and go on
    serving: a reset of one service that waits (on a lock, a long template build) never holds
    another's (issue 27). Resets of one service wait for each other on its reset lock."""
    pid = os.fork()
    if pid:
        _children.add(pid)
        return
    code = 1
    try:
        listener.close()
        code = _child(conn, manifest, request)
    except BaseException:  # never let a child return into the parent's loop
        log("standby: the reset's process failed:\n" + traceback.format_exc())
    finally:
        os._exit(code)


_children: set[int] = set()  # resets running in children of this standby


def _reap() -> None:
    """Collect this standby's children that have finished (none is waited for; only its
    own: a standby in a thread of another process must not take that process's)."""
    for pid in list(_children):
        try:
            done = os.waitpid(pid, os.WNOHANG)[0] == pid
        except ChildProcessError:
            done = True
        if done:
            _children.discard(pid)


def _child(conn: socket.socket, manifest: Path, request: Request) -> int:
    try:
        os.chdir(request.cwd)
    except OSError:  # its working directory is gone: the CLI does it and says so
        _reply(conn, {"retry": True})
        return 0
    os.environ.clear()
    os.environ.update(request.env)
    reply, done = _reset(manifest, request)
    _reply(conn, reply)
    conn.close()
    if done and spares.enabled():
        spares.refill(manifest, done)
    elif done:
        log(f"standby: no refill of {' '.join(done)} (DEVENV_SPARES is off)")
    return 0


def _reset(manifest: Path, request: Request) -> tuple[dict[str, Any], list[str]]:
    """Run the reset as the CLI would; the reply and the services to refill."""
    out, err = io.StringIO(), io.StringIO()
    names = request.names
    started = time.perf_counter()
    try:
        done = reset.reset(stackcache.load(manifest),
                           Console(quiet=request.quiet, out=out, err=err), names=names,
                           all_=request.all, hard=False, refill=False)
    except DevenvError as exc:
        log(f"standby: reset {' '.join(names) or '--all'} failed: {exc.message}")
        err.write(exc.report())
        return {"out": out.getvalue(), "err": err.getvalue(), "code": 1}, []
    except Exception:  # the CLI runs it again and reports it its own way
        log("standby: reset failed, the CLI runs it itself:\n" + traceback.format_exc())
        return {"retry": True}, []
    log(f"standby: reset {' '.join(s.name for s in done)} "
        f"({(time.perf_counter() - started) * 1000:.0f} ms)")
    return {"out": out.getvalue(), "err": err.getvalue(), "code": 0}, [s.name for s in done]


def _reply(conn: socket.socket, reply: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):  # the CLI gave up (Ctrl-C): nothing to tell
        conn.sendall(json.dumps(reply).encode() + b"\n")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
