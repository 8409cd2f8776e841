"""Unlinking services' Redis keys for `reset`, from a forked helper process when it can.

redis-py takes 100-200 ms to import here, longer than the database part of a reset, and a
thread importing it holds the GIL against the reset's own psycopg calls (measured: the database
part went from ~65 to ~150 ms). Forked before psycopg is imported, a child loads redis-py on the
other core while the parent imports psycopg and resets the databases. The child unlinks a
service's keys only when the parent asks, after that service's database part succeeded, so a
failed reset leaves Redis as it was, as it did in process.

Fork is used on Linux only, and only while the process has one thread and has not loaded
redis-py yet (a CLI run; not a pytest worker, not a library caller that already paid for it).
macOS warns against fork without exec once system frameworks may be loaded, and Windows has
none: there, and whenever the child is gone, the keys are unlinked in process.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import IO

from devenv.errors import DevenvError

# service name -> (Redis admin URL, key prefix)
Jobs = dict[str, tuple[str, str]]


def unlink_prefix(url: str, prefix: str) -> int:
    """UNLINK every key under the prefix; SCAN, never KEYS, so Redis never blocks."""
    import redis

    client = redis.Redis.from_url(url)
    removed = 0
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=_glob_escape(prefix) + "*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                removed += int(client.unlink(*batch))
                batch = []
        if batch:
            removed += int(client.unlink(*batch))
    finally:
        client.close()
    return removed


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


class KeyFlusher:
    """`flush(name)` unlinks that service's keys; `close()` ends the helper, if any."""

    def __init__(self, jobs: Jobs, *, fork: bool | None = None) -> None:
        """`fork` None: decide as the module docstring says; tests force either way."""
        self._jobs = jobs
        self._pid = 0
        self._requests: IO[str] | None = None
        self._replies: IO[str] | None = None
        if fork is None:
            fork = ("redis" not in sys.modules and sys.platform == "linux"
                    and threading.active_count() == 1)
        if jobs and fork:
            self._fork()
        elif jobs and "redis" not in sys.modules:  # at least overlap it with the database work
            import importlib

            threading.Thread(target=importlib.import_module, args=("redis",),
                             daemon=True).start()

    def _fork(self) -> None:
        to_child, from_parent = os.pipe()
        to_parent, from_child = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(from_parent)
                os.close(to_parent)
                _serve(self._jobs, to_child, from_child)
                code = 0
            finally:
                os._exit(code)  # never the parent's atexit handlers or buffered output
        os.close(to_child)
        os.close(from_child)
        self._pid = pid
        self._requests = os.fdopen(from_parent, "w", buffering=1)
        self._replies = os.fdopen(to_parent, "r")

    def flush(self, name: str) -> int:
        reply = (self._ask(name) if self._pid else "") or _outcome(*self._jobs[name])
        status, _, text = reply.partition(" ")
        if status == "ok":
            return int(text)
        raise DevenvError(f"cannot clear Redis keys of '{name}' ({text})",
                          hint="is the stack up? run `devenv up`")

    def _ask(self, name: str) -> str:
        assert self._requests is not None and self._replies is not None
        try:
            self._requests.write(name + "\n")
            return self._replies.readline().rstrip("\n")
        except OSError:  # BrokenPipeError: the child died
            return ""

    def close(self) -> None:
        if not self._pid:
            return
        for stream in (self._requests, self._replies):
            if stream is not None:
                with contextlib.suppress(OSError):  # a dead child's pipe
                    stream.close()
        with contextlib.suppress(ChildProcessError):  # already reaped
            os.waitpid(self._pid, 0)  # EOF on its requests ends the child
        self._pid = 0

    def __enter__(self) -> KeyFlusher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(jobs: Jobs, requests_fd: int, replies_fd: int) -> None:
    """The child: load redis-py at once, then one reply line per request line until EOF."""
    import redis  # noqa: F401 - the reason this process exists

    with os.fdopen(requests_fd) as requests, os.fdopen(replies_fd, "w", buffering=1) as replies:
        for line in requests:
            replies.write(_outcome(*jobs[line.rstrip("\n")]) + "\n")


def _outcome(url: str, prefix: str) -> str:
    """`ok <keys removed>` or `err <the error on one line>`: the child's reply, and what
    `flush` reads when it unlinks in process (no child, or the child is gone)."""
    try:
        return f"ok {unlink_prefix(url, prefix)}"
    except Exception as exc:  # redis.RedisError, without importing redis in the parent
        return "err " + " ".join(str(exc).split())
