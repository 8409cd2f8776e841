"""replication.wait_replayed: "paused" has one meaning, a replica that will not replay until
resumed, never "caught up" (`db clone` handed out a read-only URL that did not work yet)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from devenv.console import Console
from devenv.engine import replication
from devenv.engine.context import Context
from devenv.errors import DevenvError
from tests.model.test_replicas import secrets_for, stack_of


class Replica:
    """A replica's session answering replay_position's query: (recovering, paused, ...)."""

    def __init__(self, paused: bool) -> None:
        self.row = (True, paused, not paused, True)

    def __enter__(self) -> Replica:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def execute(self, query: str, params: object = None) -> Replica:
        return self

    def fetchone(self) -> tuple[bool, ...]:
        return self.row


def _ctx(monkeypatch: pytest.MonkeyPatch, *, paused: bool) -> tuple[Context, io.StringIO]:
    stack = stack_of("")
    err = io.StringIO()
    ctx = Context(stack, secrets_for(stack), {"db-replica-1": 7001}, None,  # type: ignore[arg-type]
                  Console(quiet=True, err=err))
    monkeypatch.setattr(replication, "primary_lsn", lambda ctx, server: "0/3000060")
    monkeypatch.setattr(Context, "admin_connect",
                        lambda self, *a, **kw: Replica(paused))
    return ctx, err


def test_a_paused_replica_is_an_error_naming_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, _ = _ctx(monkeypatch, paused=True)
    with pytest.raises(DevenvError) as failed:
        replication.wait_replayed(ctx, ctx.stack.servers["db"], timeout=5)
    assert str(failed.value) == (
        "replica 'db-replica-1' is paused: it will not replay 0/3000060 until resumed\n"
        "Hint: `devenv replica resume db` (a test that paused it should resume it before "
        "waiting)")


def test_a_caller_may_skip_a_paused_replica_and_is_told(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, err = _ctx(monkeypatch, paused=True)
    assert replication.wait_replayed(ctx, ctx.stack.servers["db"], timeout=5,
                                     skip_paused=True) == ["db-replica-1"]
    assert err.getvalue() == ("warning: replica 'db-replica-1' is paused: it replays this once "
                              "resumed (`devenv replica resume db`)\n")


def test_a_replayed_replica_returns_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, err = _ctx(monkeypatch, paused=False)
    assert replication.wait_replayed(ctx, ctx.stack.servers["db"], timeout=5) == []
    assert err.getvalue() == ""


def test_one_replay_timeout() -> None:
    """Defined once: the waits of reset, `db clone` and the pytest fixture share it."""
    package = Path(replication.__file__).resolve().parents[1]
    defined = [p.relative_to(package.parent).as_posix() for p in sorted(package.rglob("*.py"))
               if re.search(r"^REPLAY_TIMEOUT\b.*=", p.read_text(), re.MULTILINE)]
    assert defined == ["devenv/engine/replication.py"]
