"""Every superuser session opens in Context.admin_connect (issue 27): the one place that keeps
a service's objects out of its search_path. Other connections are listed with who they are."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from devenv.console import Console
from devenv.engine import context
from devenv.engine.context import Context
from devenv.model.replicas import replicas_of
from tests.model.test_replicas import secrets_for, stack_of

PACKAGE = Path(context.__file__).resolve().parents[1]

# (module, function) -> whose session it opens. Only the first may carry an admin URL.
ALLOWED = {
    ("devenv/engine/context.py", "Context.admin_connect"): "the superuser: the one place",
    ("devenv/engine/context.py", "Context.console_session"): "PgBouncer's console user",
    ("devenv/engine/probes.py", "service_session"): "a service role (readiness)",
    ("devenv/migrations/connect.py", "connect"): "the URL a migration run is given",
    ("devenv/cli/migrate.py", "migrate_in_cluster"): "a service role (its env Secret)",
    ("devenv/data/testing.py", "Database.conn"): "a test's own service role",
}


def _connects() -> set[tuple[str, str]]:
    """(module, enclosing Class.function) of every `psycopg.connect(...)` in the package."""
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        module = path.relative_to(PACKAGE.parent).as_posix()

        def walk(node: ast.AST, scope: tuple[str, ...], module: str = module) -> None:
            for child in ast.iter_child_nodes(node):
                inner = scope
                if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                    inner = (*scope, child.name)
                if (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
                        and child.func.attr == "connect"
                        and isinstance(child.func.value, ast.Name)
                        and child.func.value.id == "psycopg"):
                    found.add((module, ".".join(scope)))
                if isinstance(child, ast.ImportFrom) and child.module == "psycopg" and any(
                        a.name == "connect" for a in child.names):
                    found.add((module, "from psycopg import connect"))
                walk(child, inner)

        walk(tree, ())
    return found


def test_psycopg_connect_is_called_only_where_listed() -> None:
    assert _connects() == set(ALLOWED)


def test_only_the_context_builds_admin_urls() -> None:
    """No other module can hand an admin URL to a connect of its own."""
    users = {path.relative_to(PACKAGE.parent).as_posix() for path in PACKAGE.rglob("*.py")
             if ".admin_url(" in path.read_text()}
    assert users == {"devenv/engine/context.py"}


def _ctx() -> Context:
    stack = stack_of("")
    ports = {r.name: 7001 + i for i, r in enumerate(replicas_of(stack.servers["db"]))}
    return Context(stack, secrets_for(stack), ports, None, Console(quiet=True))  # type: ignore[arg-type]


def _recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    import psycopg

    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(psycopg, "connect",
                        lambda url, **kw: calls.append((url, kw)))  # type: ignore[func-returns-value]
    return calls


def test_an_admin_session_searches_the_catalog_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A startup option, so it overrides `ALTER DATABASE ... SET search_path` by the
    service that owns the database."""
    calls = _recorded(monkeypatch)
    ctx = _ctx()
    server = ctx.stack.servers["db"]
    ctx.admin_session(server, "app")
    ctx.admin_session(server, replica=replicas_of(server)[0])
    assert [(url.rsplit("@", 1)[1], kw) for url, kw in calls] == [
        ("127.0.0.1:7000/app", {"autocommit": True, "connect_timeout": 5,
                                "options": "-c search_path=pg_catalog,pg_temp"}),
        ("127.0.0.1:7001/postgres", {"autocommit": True, "connect_timeout": 5,
                                     "options": "-c search_path=pg_catalog,pg_temp"}),
    ]


def test_a_deadline_bounds_the_connect_and_every_statement(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _recorded(monkeypatch)
    monkeypatch.setattr(context.time, "monotonic", lambda: 100.0)
    _ctx().admin_session("db", deadline=102.5)
    assert calls[0][1] == {"autocommit": True, "connect_timeout": 2,
                           "options": "-c search_path=pg_catalog,pg_temp "
                                      "-c statement_timeout=2500"}


def test_an_unreachable_replica_is_named_as_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    def refuse(url: str, **kw: object) -> None:
        raise psycopg.OperationalError("connection failed\nConnection refused")

    monkeypatch.setattr(psycopg, "connect", refuse)
    ctx = _ctx()
    server = ctx.stack.servers["db"]
    with pytest.raises(context.DevenvError) as failed:
        ctx.admin_session(server, replica=replicas_of(server)[0])
    assert str(failed.value) == ("cannot reach replica 'db-replica-1' (Connection refused)\n"
                                 f"Hint: {context.STACK_DOWN_HINT}")


def test_a_replica_port_from_the_manifest_needs_no_chosen_port(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _recorded(monkeypatch)
    stack = stack_of("""
        project: rep
        servers:
          db: {kind: postgres, port: 7000, replicas: [{port: 7100}]}
        services:
          app: {postgres: true}
    """)
    ctx = Context(stack, secrets_for(stack), {}, None, Console(quiet=True))  # type: ignore[arg-type]
    server = stack.servers["db"]
    ctx.admin_session(server, replica=replicas_of(server)[0])
    assert calls[0][0].rsplit("@", 1)[1] == "127.0.0.1:7100/postgres"
