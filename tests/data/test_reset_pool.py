"""reset.paused_pool's order of KILLs on PgBouncer's console (pure logic: a recording console).

A stack that gained `replicas:` while PgBouncer still runs its old config has no `<db>_readonly`
entry: the reset must refuse before pausing the service's own entry, so nothing is left paused.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from psycopg import sql

from devenv.data.reset import paused_pool
from devenv.errors import DevenvError


class Console:
    """PgBouncer's admin console as paused_pool uses it; `missing` entries are unknown."""

    def __init__(self, missing: set[str]) -> None:
        self.missing, self.said = missing, []

    def __enter__(self) -> Console:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def execute(self, query: sql.Composed, prepare: bool = False) -> None:
        verb, name = _words(query)
        if name in self.missing:
            raise psycopg.errors.ProgrammingError(f"no such database: {name}")
        self.said.append(f"{verb} {name}")


def _words(query: sql.Composed) -> tuple[str, str]:
    parts = list(query)
    verb = str(parts[0]._obj).split()[0]  # the SQL("KILL {}") part
    return verb, ".".join(parts[1]._obj)  # the Identifier


def _ctx(replicas: int) -> Any:
    server = SimpleNamespace(replicas=replicas)
    return SimpleNamespace(stack=SimpleNamespace(servers={"db": server}))


SVC: Any = SimpleNamespace(name="app", database="app", server="db")


def test_a_missing_readonly_entry_refuses_before_pausing_anything() -> None:
    console = Console(missing={"app_readonly"})
    with pytest.raises(DevenvError) as err, paused_pool(_ctx(1), SVC, console):  # type: ignore[arg-type]
        raise AssertionError("the reset must not run")
    assert "PgBouncer has no entry 'app_readonly' for app's replicas" in err.value.message
    assert "`devenv up`" in (err.value.hint or "")
    assert console.said == []  # app's own entry was never KILLed, so nothing stays paused


def test_without_replicas_only_the_service_entry_is_paused_and_resumed() -> None:
    console = Console(missing=set())
    with paused_pool(_ctx(0), SVC, console):  # type: ignore[arg-type]
        assert console.said == ["KILL app"]
    assert console.said == ["KILL app", "RESUME app"]
