"""The standby: the process that refilled a reset's spares stays to run the next reset.

A `devenv reset` spends about 0.3 s of its 0.4 s starting Python and importing psycopg, redis-py
and devenv (measured on a 2-core VM); the database part is ~65 ms. The refill process the
previous reset started (devenv.spares) has all of that loaded already. It listens on
.devenv/standby.sock for IDLE_SECONDS and runs the next reset itself: the same `reset.reset`,
the stack re-read from disk, the output sent back for the CLI to print. Then it makes the next
spares and waits again, as Gradle's daemon or dmypy keep a warm process for the next run.

The CLI hands a reset over only to a standby running the same devenv code (version, files,
interpreter): a fingerprint. On a mismatch the standby exits and the CLI does the reset itself;
it does so too when no standby answers or an answer is cut short, which is safe because a reset
can always run again. `--hard` is never handed over. The standby runs each reset in the CLI's
environment variables and working directory (libpq's PG* variables, DEVENV_SPARES, the PATH a
migration command is found on, paths in messages), as the CLI itself would.

Only the user can connect: the socket sits in the 0700 .devenv/ with mode 0600. The standby
exits when idle, on `devenv down`, on a mismatch, or when its socket or .devenv/ is removed.
Its lines go to .devenv/spares.log. `DEVENV_STANDBY=0` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOCKET = "standby.sock"
LOCK = "standby.lock"
IDLE_SECONDS = 600.0
TICK_SECONDS = 2.0  # how often an idle standby checks that its socket is still there
ANSWER_SECONDS = 600.0  # a reset that rebuilds its template runs every migration
STATE_DIR = ".devenv"  # devenv.stack.STATE_DIR, not imported: the CLI's fast path stays small


def enabled() -> bool:
    return (hasattr(socket, "AF_UNIX") and os.environ.get("DEVENV_STANDBY", "1").strip().lower()
            not in ("0", "false", "no", "off"))


def socket_path(manifest: Path) -> Path:
    return manifest.resolve().parent / STATE_DIR / SOCKET


def fingerprint(*, newest: list[int] | None = None) -> str:
    """devenv's code: its version, the interpreter, every file's path, size and mtime.

    `newest`, if given, receives the latest mtime among devenv's files.
    """
    import devenv

    digest = hashlib.sha256(f"{devenv.__version__}\0{sys.executable}\0".encode())
    latest = 0
    for folder, subfolders, files in os.walk(Path(devenv.__file__).parent):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        for name in sorted(files):
            stat = os.stat(os.path.join(folder, name))
            latest = max(latest, stat.st_mtime_ns)
            digest.update(f"{folder}/{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    if newest is not None:
        newest.append(latest)
    return digest.hexdigest()


# -- the CLI's side ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Served:
    out: str
    err: str
    code: int


def forward(manifest: Path, names: list[str], *, all_: bool, quiet: bool) -> Served | None:
    """The standby's run of `devenv reset`, or None: then the caller resets in process."""
    if not enabled():
        return None
    try:
        cwd = os.getcwd()
    except OSError:  # run from a removed folder: the CLI says what that breaks
        return None
    request = {"fingerprint": fingerprint(), "manifest": str(manifest.resolve()), "cwd": cwd,
               "env": dict(os.environ), "names": names, "all": all_, "quiet": quiet}
    reply = _ask(socket_path(manifest), request, ANSWER_SECONDS)
    if reply is None or not isinstance(reply.get("code"), int):
        return None  # no standby, a stale one, or a failure it could not report
    return Served(str(reply.get("out", "")), str(reply.get("err", "")), reply["code"])


def stop(manifest: Path) -> None:
    """Ask this stack's standby, if there is one, to exit (`devenv down`)."""
    _ask(socket_path(manifest), {"stop": True}, 5.0)


def _ask(path: Path, request: dict[str, Any], timeout: float) -> dict[str, Any] | None:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(json.dumps(request).encode() + b"\n")
            with sock.makefile("rb") as answers:
                line = answers.readline()
        reply = json.loads(line) if line else None
    except (OSError, ValueError):  # none listening, a path too long for AF_UNIX, cut short
        return None
    return reply if isinstance(reply, dict) else None


# -- the standby's side ------------------------------------------------------------------------
def serve(manifest: Path, *, launched_ns: int, idle: float = IDLE_SECONDS) -> None:
    """Serve resets of this manifest's stack until idle (a no-op if another standby does).

    `launched_ns`: when this process was started. Everything a reset needs is imported first;
    a devenv file changed since the launch may or may not be what got loaded, so then it does
    not serve at all. A change after this check changes the fingerprint: clients see it.
    """
    import fcntl

    if not enabled():
        return
    import redis  # noqa: F401 - loaded now, while idle, not during a reset

    from devenv import commands, keyflush, reset  # noqa: F401

    newest: list[int] = []
    mine = fingerprint(newest=newest)
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
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                if not _ours(path, inode):
                    why = f"{STATE_DIR}/{SOCKET} was removed"
                    break
                continue
            with conn:
                why = _handle(conn, manifest, mine)
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


def _handle(conn: socket.socket, manifest: Path, mine: str) -> str:
    """Answer one request; a reason to exit, or "" to go on serving."""
    conn.settimeout(10.0)
    try:
        with conn.makefile("rb") as requests:
            line = requests.readline()
        request = json.loads(line) if line else None
    except (OSError, ValueError):
        return ""
    if not isinstance(request, dict):  # a connection closed unsaid, or garbage: ignored
        return ""
    if request.get("stop"):
        _reply(conn, {"stopped": True})
        return "asked to stop"
    if request.get("fingerprint") != mine:
        _reply(conn, {"stale": True})
        return "devenv's code changed"
    if request.get("manifest") != str(manifest):
        _reply(conn, {"stale": True})  # another manifest beside ours: the CLI does it
        return ""
    from devenv import spares

    names = [str(n) for n in request.get("names", [])]
    env = request.get("env")
    try:
        with _as_the_cli(str(request.get("cwd")), env if isinstance(env, dict) else {}):
            reply, reset = _reset(manifest, names, all_=bool(request.get("all")),
                                  quiet=bool(request.get("quiet")))
            _reply(conn, reply)
            if reset and spares.enabled():
                spares.refill(manifest, reset)
    except OSError:  # its working directory is gone
        _reply(conn, {"retry": True})
    return ""


@contextlib.contextmanager
def _as_the_cli(cwd: str, env: dict[str, str]) -> Iterator[None]:
    """The CLI's working directory and environment variables, for one request."""
    home, own = os.getcwd(), dict(os.environ)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in env.items()})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(own)
        os.chdir(home)


def _reset(manifest: Path, names: list[str], *, all_: bool,
           quiet: bool) -> tuple[dict[str, Any], list[str]]:
    """Run the reset as the CLI would; the reply and the services to refill."""
    import io
    import traceback

    from devenv import reset
    from devenv.commands import load
    from devenv.console import Console
    from devenv.errors import DevenvError

    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    try:
        done = reset.reset(load(manifest), Console(quiet=quiet, out=out, err=err), names=names,
                           all_=all_, hard=False, refill=False)
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


def log(text: str) -> None:
    """A line of .devenv/spares.log (this process's stdout), timestamped, known passwords
    masked as in every other output; the refill's lines too."""
    from devenv.secrets import mask_known

    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {mask_known(text)}", flush=True)
