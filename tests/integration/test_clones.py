"""`devenv db clone | drop | prune | list` end to end, on a copy of pcc (one server, `reads`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from devenv.console import Console
from devenv.engine.context import attach
from devenv.model.resolve import load_stack
from tests.integration.stacks import PCC, CopiedStack, copied

pytestmark = pytest.mark.xdist_group("test_clones")


def connect(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(url, autocommit=True, connect_timeout=10)


def admin_url(stack: CopiedStack) -> str:
    ctx = attach(load_stack(stack.manifest), Console(quiet=True))
    return ctx.admin_url(ctx.stack.servers["alloydb"])


def databases(stack: CopiedStack) -> dict[str, tuple[str, str | None, bool]]:
    """name -> (owner, comment, PUBLIC may connect) of every database on the server."""
    with connect(admin_url(stack)) as conn:
        rows = conn.execute(
            "SELECT datname, pg_get_userbyid(datdba), shobj_description(oid, 'pg_database'), "
            "has_database_privilege('public', datname, 'CONNECT') FROM pg_database").fetchall()
    return {str(r[0]): (str(r[1]), r[2], bool(r[3])) for r in rows}


@pytest.fixture(scope="module")
def pcc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    with copied(PCC, tmp_path_factory.mktemp("pcc"), prefix="t-clones") as stack:
        stack.ok("up")
        yield stack


def clone(stack: CopiedStack, service: str) -> dict[str, Any]:
    """`devenv db clone SERVICE --json --show-secrets` (the password is masked without it)."""
    result = stack.ok("db", "clone", service, "--json", "--show-secrets")
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_clone_json_gives_a_url_as_the_service_role_with_the_seeds(pcc: CopiedStack) -> None:
    data = clone(pcc, "auth")
    auth = pcc.env("auth")
    url = urlsplit(data["url"])
    assert url.path.lstrip("/") == data["database"] != auth["PGDATABASE"]
    assert url.username == auth["PGUSER"]
    assert data["env"]["PGDATABASE"] == data["database"]
    with connect(data["url"]) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (
            auth["PGUSER"], data["database"])
        ours = conn.execute("SELECT count(*) FROM users").fetchone()
        conn.execute("DELETE FROM sessions")  # writes stay in the clone
    with connect(auth["DATABASE_DIRECT_URL"]) as real:
        assert real.execute("SELECT count(*) FROM users").fetchone() == ours
        assert ours is not None and ours[0] > 0
        assert real.execute("SELECT count(*) FROM sessions").fetchone() != (0,)


def test_clone_is_owned_and_closed_like_the_service_database(pcc: CopiedStack) -> None:
    data = clone(pcc, "user")
    dbs = databases(pcc)
    real = pcc.env("user")["PGDATABASE"]
    owner, comment, public = dbs[data["database"]]
    assert (owner, public) == (dbs[real][0], False) == (pcc.env("user")["PGUSER"], False)
    assert comment is not None and comment.startswith("devenv:clone:user")
    # A service that may not connect to user's database may not connect to its clone either.
    client = urlsplit(pcc.env("client")["DATABASE_DIRECT_URL"])
    with pytest.raises(psycopg.OperationalError):
        connect(client._replace(path="/" + data["database"]).geturl()).close()
    # auth reads user: it may read the clone too, and not write.
    reader = urlsplit(pcc.env("auth")["USER_DATABASE_URL"])._replace(
        path="/" + data["database"]).geturl()
    with connect(reader) as conn:
        assert conn.execute("SELECT count(*) FROM user_profiles").fetchone() != (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM user_profiles")


def test_list_shows_clones_and_drop_drops_one(pcc: CopiedStack) -> None:
    data = clone(pcc, "client")
    listed = json.loads(pcc.ok("db", "list", "--json").stdout)
    assert {"database": data["database"], "service": "client"}.items() <= next(
        row for row in listed if row["database"] == data["database"]).items()
    result = pcc.ok("db", "drop", data["database"])
    assert data["database"] in result.stdout
    assert data["database"] not in databases(pcc)
    again = pcc.devenv("db", "drop", data["database"])
    assert again.code == 1 and "Traceback" not in again.stderr, again.explain()


def test_drop_refuses_the_real_database(pcc: CopiedStack) -> None:
    real = pcc.env("auth")["PGDATABASE"]
    for name in (real, "postgres", "auth"):
        result = pcc.devenv("db", "drop", name)
        assert result.code == 1, result.explain()
        assert "refusing" in result.stderr, result.explain()
        assert "Traceback" not in result.stderr
    assert real in databases(pcc)
    with connect(pcc.env("auth")["DATABASE_DIRECT_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() != (0,)


def test_drop_refuses_a_template(pcc: CopiedStack) -> None:
    templates = [d for d in databases(pcc) if "_tpl_" in d]
    assert templates
    result = pcc.devenv("db", "drop", templates[0])
    assert result.code == 1, result.explain()
    assert templates[0] in databases(pcc)


def test_prune_removes_every_clone_and_nothing_else(pcc: CopiedStack) -> None:
    for service in ("auth", "task_builder", "task_builder"):
        clone(pcc, service)
    before = databases(pcc)
    clones = {d for d, (_, c, _) in before.items() if c and c.startswith("devenv:clone:")}
    assert len(clones) >= 3
    result = pcc.ok("db", "prune")
    assert f"dropped {len(clones)} clone(s)" in result.stdout
    after = databases(pcc)
    assert set(after) == set(before) - clones
    assert json.loads(pcc.ok("db", "list", "--json").stdout) == []
    listed = pcc.ok("db", "list")
    assert listed.stdout == ""
    assert listed.stderr == (f"no clones of project {pcc.project} "
                             "(`devenv db clone SERVICE` makes one)\n")
    assert "dropped 0 clone(s)" in pcc.ok("db", "prune").stdout


def test_clone_without_show_secrets_masks_the_password(pcc: CopiedStack) -> None:
    result = pcc.ok("db", "clone", "auth")
    url = result.stdout.strip().splitlines()[0]
    assert urlsplit(url).password == "****"
    assert pcc.secrets() and all(p not in result.stdout for p in pcc.secrets().values())
    pcc.ok("db", "prune")


def test_clone_json_stdout_is_json_without_show_secrets(pcc: CopiedStack) -> None:
    result = pcc.ok("db", "clone", "auth", "--json")
    try:
        data = json.loads(result.stdout)
        assert urlsplit(data["url"]).password == "****"
    finally:
        pcc.ok("db", "prune")
