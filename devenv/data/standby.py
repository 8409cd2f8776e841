"""The reset standby, the CLI's side: hand a `devenv reset` to a warm process, or say no.

A `devenv reset` spends most of its time starting Python and importing psycopg, redis-py and
devenv; the database part is ~65 ms. The process that refilled the previous reset's spares has
all of that loaded: it stands by on .devenv/standby.sock (devenv.data.standbyd) and runs the
next reset in a child forked from its warm imports, like Gradle's daemon or dmypy.

This module is what the CLI imports before anything heavy: only the socket protocol. A reset
is handed over only when the socket's owner is this user (SO_PEERCRED) and the standby runs the
same devenv code (`code_fingerprint`); otherwise the CLI resets in process, which is always
safe because a reset can run again. The request carries the working directory, the reset's
arguments and only the environment variables a reset reads (`ENVIRONMENT`): never libpq's
PG* (a PGHOSTADDR would redirect the admin session), never anything else of the user's.
`DEVENV_STANDBY=0` turns it off.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devenv import switches
from devenv.model.stack import STATE_DIR
from devenv.store.files import require_private_dir
from devenv.store.stackcache import code_fingerprint

SOCKET = "standby.sock"
ANSWER_SECONDS = 600.0  # a reset that rebuilds its template runs every migration
# A standby takes a request at once (each reset runs in a child of its own): one that has not
# said so within this long is stopped or stuck, and the CLI resets in process instead of
# waiting in silence (issue 27). It takes no request older than half of it, so a standby that
# wakes up later never runs a reset its client gave up on.
ACK_SECONDS = 2.0
STALE_SECONDS = ACK_SECONDS / 2
NOTICE_SECONDS = 10.0  # then every this often: still working, said on stderr
# What a reset may read from the environment: where to find commands and files (a template
# rebuild runs migrations, maybe a `command:`), locale, devenv's and Docker's own settings.
ENVIRONMENT = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR",
               "VIRTUAL_ENV", "PYTHONPATH", "NO_COLOR", "CI", "DOCKER_HOST", "DOCKER_CONTEXT",
               "DOCKER_CONFIG")
ENVIRONMENT_PREFIXES = ("DEVENV_", "LC_")


def enabled() -> bool:
    return hasattr(socket, "AF_UNIX") and switches.on("DEVENV_STANDBY")


def socket_path(manifest: Path) -> Path:
    return manifest.resolve().parent / STATE_DIR / SOCKET


def passed_on(env: dict[str, str]) -> dict[str, str]:
    """The variables of `env` a reset reads (the rest never leaves the CLI)."""
    return {k: v for k, v in env.items()
            if k in ENVIRONMENT or k.startswith(ENVIRONMENT_PREFIXES)}


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a unix socket (None where unknown)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:  # not Linux: the 0700 .devenv/ is the only guard
        return os.getuid()
    pid_uid_gid = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    return int(struct.unpack("3i", pid_uid_gid)[1])


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
    require_private_dir(socket_path(manifest).parent)  # never talk to a planted socket
    request = {"fingerprint": code_fingerprint(), "manifest": str(manifest.resolve()),
               "cwd": cwd, "env": passed_on(dict(os.environ)), "names": list(names),
               "all": all_, "quiet": quiet, "sent": time.time()}
    reply = _ask_reset(socket_path(manifest), request, quiet=quiet)
    if reply is None or not isinstance(reply.get("code"), int):
        return None  # no standby, a stale one, or a failure it could not report
    return Served(str(reply.get("out", "")), str(reply.get("err", "")), reply["code"])


def _ask_reset(path: Path, request: dict[str, Any], *, quiet: bool) -> dict[str, Any] | None:
    """A reset request: taken within ACK_SECONDS (or None: the CLI resets itself, and says
    why), then its reply, with a line on stderr every NOTICE_SECONDS while it works."""
    try:
        sock = _connect(path, ACK_SECONDS)
        if sock is None:
            return None
        with sock:
            sock.sendall(json.dumps(request).encode() + b"\n")
            pending = bytearray()
            first = _line(sock, pending, ACK_SECONDS)
            if first is None:
                print(f"warning: the reset standby ({path}) did not take the request within "
                      f"{ACK_SECONDS:.0f} s (stopped or stuck): resetting in this process",
                      file=sys.stderr)
                return None
            reply = json.loads(first) if first else None
            if reply != {"accepted": True}:
                return reply if isinstance(reply, dict) else None
            waited = 0.0
            while (line := _line(sock, pending, NOTICE_SECONDS)) is None:
                waited += NOTICE_SECONDS
                if waited >= ANSWER_SECONDS:
                    return None
                if not quiet:
                    print(f"  still resetting in the standby ({waited:.0f} s; a template build "
                          "runs every migration)", file=sys.stderr)
            reply = json.loads(line) if line else None
    except (OSError, ValueError):  # none listening, a path too long for AF_UNIX, cut short
        return None
    return reply if isinstance(reply, dict) else None


def _connect(path: Path, timeout: float) -> socket.socket | None:
    """A connection to the standby at `path` when this user runs it; None (and a warning)
    when another uid serves it. OSError when none listens."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(str(path))
        owner = peer_uid(sock)
    except BaseException:
        sock.close()
        raise
    if owner != os.getuid():
        sock.close()
        print(f"warning: {path} is served by uid {owner}, not by you: ignored (a "
              "planted socket?); resetting in process", file=sys.stderr)
        return None
    return sock


def _line(sock: socket.socket, pending: bytearray, timeout: float) -> bytes | None:
    """The next line from `sock` (b"" when it closed first), or None after `timeout`."""
    sock.settimeout(timeout)
    while b"\n" not in pending:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return None
        if not chunk:
            return b""
        pending += chunk
    line, _, rest = bytes(pending).partition(b"\n")
    pending[:] = rest
    return line


def stop(manifest: Path) -> None:
    """Ask this stack's standby, if there is one, to exit (`devenv down`)."""
    ask(socket_path(manifest), {"stop": True}, 5.0)


def ask(path: Path, request: dict[str, Any], timeout: float) -> dict[str, Any] | None:
    """One request, one reply line; None when nobody (or somebody else) answers."""
    try:
        sock = _connect(path, timeout)
        if sock is None:
            return None
        with sock:
            sock.sendall(json.dumps(request).encode() + b"\n")
            with sock.makefile("rb") as answers:
                line = answers.readline()
        reply = json.loads(line) if line else None
    except (OSError, ValueError):  # none listening, a path too long for AF_UNIX, cut short
        return None
    return reply if isinstance(reply, dict) else None
