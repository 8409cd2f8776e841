"""Non-secret state in .devenv/state.json: chosen `auto` ports, the last good `up`, and when
`up` last connected to each server itself (`verified`)."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from devenv.errors import DevenvError
from devenv.model.stack import Stack
from devenv.store.files import ensure_private_dir, write_private

STATE_FILE = "state.json"
LOCK_FILE = "lock"


@dataclass(frozen=True)
class Verified:
    """`up` connected to this server itself (SELECT 1 / PING) at `at` (epoch seconds), in the
    container `container`: a recreated container has another id, so the claim lapses."""

    container: str
    at: float


@dataclass
class State:
    ports: dict[str, int] = field(default_factory=dict)
    fingerprint: str = ""
    # The services the fingerprint was taken for: a warm `up` of any of them is warm (the
    # pytest plugin starts only the services its tests ask for, after a full `devenv up`).
    covers: list[str] = field(default_factory=list)
    verified: dict[str, Verified] = field(default_factory=dict)
    # The PostgreSQL major each server's data volume was created with (devenv.engine.images).
    majors: dict[str, int] = field(default_factory=dict)
    # Image id -> the extensions and libraries it ships (devenv.engine.images.check_contents).
    contents: dict[str, dict[str, list[str]]] = field(default_factory=dict)


def load(stack: Stack) -> State:
    path = stack.root / stack.state_dir / STATE_FILE
    try:
        data = json.loads(path.read_text())
        ports = {str(k): int(v) for k, v in data.get("ports", {}).items()}
        verified = {str(k): Verified(str(v["container"]), float(v["at"]))
                    for k, v in data.get("verified", {}).items()}
        majors = {str(k): int(v) for k, v in data.get("majors", {}).items()}
        contents = {str(k): {str(n): [str(x) for x in xs] for n, xs in v.items()}
                    for k, v in data.get("contents", {}).items()}
        covers = [str(name) for name in data.get("covers", [])]
        return State(ports=ports, fingerprint=str(data.get("fingerprint", "")), covers=covers,
                     verified=verified, majors=majors, contents=contents)
    except FileNotFoundError:
        return State()
    except (OSError, ValueError, AttributeError, TypeError, KeyError) as exc:
        raise DevenvError(
            f"{path}: cannot read devenv's state ({exc})",
            hint=f"delete {path}: it only holds chosen ports and a cache key") from None


def save(stack: Stack, state: State) -> None:
    body = json.dumps({"ports": state.ports, "fingerprint": state.fingerprint,
                       "covers": state.covers,
                       "verified": {k: {"container": v.container, "at": v.at}
                                    for k, v in state.verified.items()},
                       "majors": state.majors, "contents": state.contents}, indent=2)
    write_private(stack.root / stack.state_dir / STATE_FILE, body + "\n")


@contextmanager
def locked(stack: Stack) -> Iterator[None]:
    """One devenv changing a project at a time; the kernel drops the lock if we are killed."""
    lock = ProjectLock.take(stack)
    try:
        yield
    finally:
        lock.release()


class ProjectLock:
    """The project lock as an object, for a holder that hands it on: the pytest plugin's
    early start takes it, and the `up` that finishes the start releases it.

    flock belongs to the open file, not to a thread, so any thread may release it.
    """

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def take(cls, stack: Stack) -> ProjectLock:
        """The lock, once free."""
        lock = cls._open(stack, fcntl.LOCK_EX)
        assert lock is not None  # a blocking flock returns only with the lock
        return lock

    @classmethod
    def try_take(cls, stack: Stack) -> ProjectLock | None:
        """The lock if it is free now; None if another holds it."""
        return cls._open(stack, fcntl.LOCK_EX | fcntl.LOCK_NB)

    @classmethod
    def _open(cls, stack: Stack, operation: int) -> ProjectLock | None:
        state_dir = stack.root / stack.state_dir
        ensure_private_dir(state_dir)
        fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, operation)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return cls(fd)

    def release(self) -> None:
        """Idempotent: the early start and its finisher may both end up here."""
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

