"""The project lock: one devenv changing a project at a time, and handed on between threads."""

from __future__ import annotations

import threading
from pathlib import Path

from devenv.model.stack import Stack
from devenv.store.state import ProjectLock, locked


class _Stack:
    """What the lock reads of a Stack: where its .devenv/ is."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_dir = ".devenv"


def stack(tmp_path: Path) -> Stack:
    return _Stack(tmp_path)  # type: ignore[return-value]


def test_a_held_lock_is_not_taken_again_until_released(tmp_path: Path) -> None:
    first = ProjectLock.take(stack(tmp_path))
    assert ProjectLock.try_take(stack(tmp_path)) is None
    first.release()
    second = ProjectLock.try_take(stack(tmp_path))
    assert second is not None
    second.release()


def test_another_thread_may_release_it_and_releasing_twice_is_harmless(tmp_path: Path) -> None:
    lock = ProjectLock.take(stack(tmp_path))
    thread = threading.Thread(target=lock.release)
    thread.start()
    thread.join()
    lock.release()
    again = ProjectLock.try_take(stack(tmp_path))
    assert again is not None
    again.release()


def test_locked_waits_for_the_holder(tmp_path: Path) -> None:
    held = ProjectLock.take(stack(tmp_path))
    entered = threading.Event()

    def waiter() -> None:
        with locked(stack(tmp_path)):
            entered.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    assert not entered.wait(0.2)
    held.release()
    assert entered.wait(5)
    thread.join()
