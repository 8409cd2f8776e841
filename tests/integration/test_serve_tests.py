"""`devenv serve-tests` end to end: IntegreSQL's clients, written by others, against devenv.

Each client runs the flow of its own README: a template by hash, migrated by the client,
finalised, then 50 test databases, each isolated from the others and owned by the service's
role. The Python client is `integresql-client-python` (PyPI), the Node one
`@devoxa/integresql-client` (npm, run by Debian's nodejs). Under CI=1 a missing client or
toolchain fails the test: a skipped client would be a client nobody checks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.stacks import PCC, CopiedStack, copied
from tests.integration.testapi_server import Api

pytestmark = pytest.mark.xdist_group("test_serve_tests")
NODE_CLIENT = Path(__file__).parent / "clients" / "node"
TESTS = 50


def need(what: str, why: str) -> None:
    """Fail under CI (it must have it), skip on a developer's machine without it."""
    message = f"{what} is missing: {why}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _two_services(data: dict[str, Any]) -> None:
    data["services"] = {k: v for k, v in data["services"].items() if k in ("auth", "user")}
    data["servers"]["alloydb"].pop("replicas", None)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    with copied(PCC, tmp_path_factory.mktemp("pcc"), prefix="t-serve",
                edit=_two_services) as stack:
        stack.ok("up")
        yield stack


@pytest.fixture(scope="module")
def api(stack: CopiedStack) -> Iterator[Api]:
    server = Api(stack, "--service", "auth")
    yield server
    code, err = server.stop()
    assert code == 0, err
    assert not (stack.root / ".devenv" / "testapi.json").exists()


def connect(config: dict[str, Any]) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(host=config["host"], port=config["port"], user=config["username"],
                           password=config["password"], dbname=config["database"],
                           autocommit=True, connect_timeout=10)


def owner_of(stack: CopiedStack, config: dict[str, Any]) -> str:
    with connect(config) as conn:
        row = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database "
                           "WHERE datname = current_database()").fetchone()
    assert row is not None
    return str(row[0])


def test_python_client_flow_gives_50_isolated_databases_as_the_service_role(
        stack: CopiedStack, api: Api, tmp_path: Path) -> None:
    try:
        from integresql_client_python import IntegreSQL  # type: ignore[import-untyped]
    except ImportError:
        need("integresql-client-python", "pip install -e '.[test]' installs it")
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "001.sql").write_text(
        "CREATE TABLE item (name text PRIMARY KEY); INSERT INTO item VALUES ('seed');")
    role = stack.env("auth")["PGUSER"]

    # the client's README flow, unchanged
    integresql = IntegreSQL(str(migrations), base_url=f"{api.url}/api")
    with integresql as tpl:
        with tpl.initialize() as dbinfo:
            assert dbinfo is not None  # first caller: it migrates
            assert dbinfo.user == role
            with psycopg.connect(str(dbinfo), autocommit=True) as conn:
                conn.execute((migrations / "001.sql").read_text())
        again = IntegreSQL(str(migrations), base_url=f"{api.url}/api").get_template()
        assert again.initialize().dbinfo is None  # 423: initialised already, nothing to do
        db = tpl.get_database()
        infos = [db.open() for _ in range(TESTS)]
        # returned unchanged (mark_unmodified: IntegreSQL's deprecated DELETE), handed out
        # again as it is
        db.mark_unmodified(infos[0])
        reused = db.open()
    assert (reused.db_id, reused.name) == (infos[0].db_id, infos[0].name)
    assert len({i.name for i in infos}) == TESTS
    assert len({i.db_id for i in infos}) == TESTS
    for i, info in enumerate(infos):
        assert info.user == role
        with psycopg.connect(str(info), autocommit=True) as conn:
            conn.execute("INSERT INTO item VALUES (%s)", (f"test{i}",))
    for i, info in enumerate(infos):
        with psycopg.connect(str(info), autocommit=True) as conn:
            rows = {str(r[0]) for r in conn.execute("SELECT name FROM item")}
            owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database "
                                 "WHERE datname = current_database()").fetchone()
        assert rows == {"seed", f"test{i}"}
        assert owner == (role,)


def test_golden_template_is_served_migrated_and_seeded_without_initialising(
        stack: CopiedStack, api: Api) -> None:
    code, body = api.call("POST", "/api/v1/templates", {"hash": "devenv-auth"})
    assert (code, body) == (423, {"message": "template is already initialized"})
    code, body = api.call("GET", "/api/v1/templates/devenv-auth/tests")
    assert code == 200, body
    config = body["database"]["config"]
    assert body["database"]["templateHash"] == "devenv-auth"
    auth = stack.env("auth")
    assert config["username"] == auth["PGUSER"] != "postgres"
    assert config["port"] == int(auth["PGPORT"])  # the server itself, never PgBouncer
    assert config["database"] != auth["PGDATABASE"]
    with connect(config) as conn, psycopg.connect(auth["DATABASE_DIRECT_URL"]) as own:
        tables = own.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                            ).fetchone() == tables.fetchone() != (0,)
    assert owner_of(stack, config) == auth["PGUSER"]
    # the keyed hash names the same template; the other service's is there too
    user = next(t for t in status_api(stack)["templates"]
                if t["service"] == "user" and t["golden"])
    assert user["hash"] == "devenv-user" and user["also"][0].startswith("devenv-user-")
    for name in (user["hash"], user["also"][0]):
        code, body = api.call("GET", f"/api/v1/templates/{name}/tests")
        assert code == 200, body
        assert body["database"]["config"]["username"] == stack.env("user")["PGUSER"]


def test_the_golden_hash_follows_a_changed_migration_folder(stack: CopiedStack,
                                                             api: Api) -> None:
    assert api.call("GET", "/api/v1/templates/devenv-user/tests")[0] == 200
    time.sleep(1)  # the state file follows within half a second
    old = next(t for t in status_api(stack)["templates"] if t["hash"] == "devenv-user")
    added = stack.root / "migrations" / "user" / "V3__Add_nicknames.sql"
    added.write_text("CREATE TABLE nicknames (name text);\n")
    try:
        time.sleep(1.2)  # the files are hashed at most once a second
        code, after = api.call("GET", "/api/v1/templates/devenv-user/tests")
        assert code == 200, after
        with connect(after["database"]["config"]) as conn:
            assert conn.execute("SELECT to_regclass('nicknames') IS NOT NULL").fetchone() == (
                True,)
        assert api.call("GET", f"/api/v1/templates/{old['also'][0]}/tests")[0] == 404
        time.sleep(1)
        new = next(t for t in status_api(stack)["templates"] if t["hash"] == "devenv-user")
        assert new["also"] != old["also"] and new["database"] != old["database"]
    finally:
        added.unlink()


def status_api(stack: CopiedStack) -> dict[str, Any]:
    state = stack.status()["test_api"]
    assert isinstance(state, dict)
    return state


def test_status_codes_and_shapes_follow_integresql(api: Api) -> None:
    assert api.call("GET", "/api/v1/templates/nope/tests") == (404, {"message":
                                                                     "template not found"})
    assert api.call("POST", "/api/v1/templates", {}) == (400, {"message": "hash is required"})
    assert api.call("PUT", "/api/v1/templates/nope") == (404, {"message": "template not found"})
    assert api.call("POST", "/api/v1/templates/devenv-auth/tests/x/unlock") == (
        400, {"message": "invalid test database ID"})
    code, body = api.call("POST", "/api/v1/templates", {"hash": "shapes"})
    assert code == 200 and set(body["database"]) == {"templateHash", "config"}
    assert set(body["database"]["config"]) == {"host", "port", "username", "password",
                                                "database"}
    assert api.call("PUT", "/api/v1/templates/shapes") == (204, None)
    assert api.call("PUT", "/api/v1/templates/shapes") == (204, None)  # again: still 204
    code, test = api.call("GET", "/api/v1/templates/shapes/tests")
    assert code == 200 and set(test) == {"database", "id"}
    assert api.call("POST", f"/api/v1/templates/shapes/tests/{test['id']}/recreate") == (
        204, None)
    assert api.call("POST", f"/api/v1/templates/shapes/tests/{test['id']}/unlock") == (
        404, {"message": "test database not found"})
    assert api.call("DELETE", "/api/v1/templates/shapes") == (204, None)
    assert api.call("GET", "/api/v1/templates/shapes/tests")[0] == 404
    assert api.call("DELETE", "/api/v1/admin/templates") == (204, None)


def test_a_test_database_of_a_template_being_migrated_waits_for_its_finalize(
        api: Api) -> None:
    """IntegreSQL: a second runner asks for a test database while the first migrates."""
    assert api.call("POST", "/api/v1/templates", {"hash": "slow"})[0] == 200
    got: list[tuple[int, Any]] = []
    waiter = threading.Thread(target=lambda: got.append(
        api.call("GET", "/api/v1/templates/slow/tests")))
    waiter.start()
    waiter.join(1.0)
    assert waiter.is_alive() and not got  # still migrating: it waits
    assert api.call("PUT", "/api/v1/templates/slow") == (204, None)
    waiter.join(60)
    assert got and got[0][0] == 200, got
    assert api.call("DELETE", "/api/v1/templates/slow") == (204, None)


def test_status_shows_templates_pools_and_databases_in_use(stack: CopiedStack,
                                                            api: Api) -> None:
    code, _ = api.call("GET", "/api/v1/templates/devenv-user/tests")
    assert code == 200
    time.sleep(1)  # the state file is written within half a second of a change
    state = status_api(stack)
    assert state["url"] == api.url
    user = next(t for t in state["templates"] if t["hash"].startswith("devenv-user"))
    assert user["in_use"] >= 1 and user["state"] == "finalized"
    mode = (stack.root / ".devenv" / "testapi.json").stat().st_mode & 0o777
    assert mode == 0o600
    text = stack.ok("status").stdout
    assert f"test API {api.url}" in text and "IN USE" in text


def crash(stack: CopiedStack, hash_: str) -> set[str]:
    """An API killed with test databases handed out: their names and its template's."""
    crashed = Api(stack, "--service", "user")
    code, made = crashed.call("POST", "/api/v1/templates", {"hash": hash_})
    assert code == 200, made
    assert crashed.call("PUT", f"/api/v1/templates/{hash_}")[0] == 204
    got = [crashed.call("GET", f"/api/v1/templates/{hash_}/tests")[1] for _ in range(3)]
    crashed.proc.kill()
    crashed.proc.communicate()
    return {g["database"]["config"]["database"] for g in got} | {
        made["database"]["config"]["database"]}


def server_databases(stack: CopiedStack) -> set[str]:
    auth = stack.env("auth")
    with psycopg.connect(auth["DATABASE_DIRECT_URL"]) as conn:
        return {str(r[0]) for r in conn.execute("SELECT datname FROM pg_database")}


def test_a_killed_apis_databases_are_dropped_by_the_next_api_and_by_prune(
        stack: CopiedStack, api: Api) -> None:
    names = crash(stack, "crash-one")
    assert names <= server_databases(stack)
    following = Api(stack, "--service", "user")  # drops them on start, as IntegreSQL
    try:
        assert not names & server_databases(stack)
    finally:
        assert following.stop()[0] == 0
    names = crash(stack, "crash-two")
    # the running API (the module's) keeps what it made ahead; the killed one's go
    code, kept = api.call("GET", "/api/v1/templates/devenv-auth/tests")
    assert code == 200
    out = stack.ok("db", "prune").stdout
    assert "template(s) of a test API that is gone" in out
    left = server_databases(stack)
    assert not names & left, out
    assert kept["database"]["config"]["database"] in left
    assert "of the running `devenv serve-tests`" in out


def test_reclaims_the_oldest_idle_database_past_the_limit(stack: CopiedStack) -> None:
    server = Api(stack, "--service", "auth", "--reclaim-after", "3", "--prefetch", "1")
    try:
        got = []
        for _ in range(6):
            got.append(server.call("GET", "/api/v1/templates/devenv-auth/tests")[1])
            time.sleep(0.3)  # past IntegreSQL's minimal lifetime of a test database
        held = got[-1]["database"]["config"]
        with connect(held):  # connected: never reclaimed
            for _ in range(3):
                server.call("GET", "/api/v1/templates/devenv-auth/tests")
                time.sleep(0.3)
            with connect(held) as again:
                assert again.execute("SELECT 1").fetchone() == (1,)
        first = got[0]["database"]["config"]
        with pytest.raises(psycopg.OperationalError):
            connect(first).close()  # reclaimed: dropped
    finally:
        code, err = server.stop()
    assert code == 0, err


def test_after_the_server_restarts_the_api_hands_out_working_databases(
        stack: CopiedStack) -> None:
    """A restart empties the clones' in-memory tablespace: what the pool made ahead before it
    is never handed out, and the tablespace is made again (data/lifetimes)."""
    server = Api(stack, "--service", "auth", "--prefetch", "2")
    try:
        for _ in range(3):  # the pool now has clones made ahead
            assert server.call("GET", "/api/v1/templates/devenv-auth/tests")[0] == 200
        subprocess.run(["docker", "restart", stack.containers()["alloydb"]], check=True,
                       capture_output=True, timeout=120)
        for _ in range(3):
            code, got = server.call("GET", "/api/v1/templates/devenv-auth/tests")
            assert code == 200, got
            with connect(got["database"]["config"]) as conn:
                assert conn.execute("SELECT count(*) > 0 FROM pg_tables "
                                    "WHERE schemaname = 'public'").fetchone() == (True,)
    finally:
        code, err = server.stop()
    assert code == 0, err


def test_binding_beyond_loopback_needs_a_token(stack: CopiedStack) -> None:
    result = stack.devenv("serve-tests", "--host", "0.0.0.0", "--port", "0",
                          env={"DEVENV_TESTS_TOKEN": ""})
    assert result.code == 1
    assert "refusing to serve test databases on 0.0.0.0 without a token" in result.stderr


def test_a_token_is_required_once_set(stack: CopiedStack) -> None:
    server = Api(stack, "--service", "auth", "--token", "s3cret")
    try:
        assert server.call("GET", "/api/v1/templates/devenv-auth/tests")[0] == 401
        code, _ = server.call("GET", "/api/v1/templates/devenv-auth/tests",
                              headers={"Authorization": "Bearer s3cret"})
        assert code == 200
        assert server.call("GET", "/s3cret/api/v1/templates/devenv-auth/tests")[0] == 200
        assert server.call("GET", "/wrong/api/v1/templates/devenv-auth/tests")[0] == 401
    finally:
        server.stop()


def test_node_client_flow(stack: CopiedStack, api: Api, tmp_path: Path) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        need("node and npm", "apt-get install -y nodejs npm (as .ci/run does)")
    assert node is not None and npm is not None
    work = tmp_path / "node"
    shutil.copytree(NODE_CLIENT, work)
    done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
                          cwd=work, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        need("@devoxa/integresql-client from the npm registry", done.stderr[-2000:])
    (work / "migrations").mkdir(exist_ok=True)
    (work / "migrations" / "001.sql").write_text(
        "CREATE TABLE item (name text PRIMARY KEY); INSERT INTO item VALUES ('seed');")
    run = subprocess.run([node, "flow.js", api.url, str(TESTS), stack.env("auth")["PGUSER"]],
                         cwd=work, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{TESTS} isolated test databases" in run.stdout


def test_on_a_stack_that_is_down_it_says_so_at_once(tmp_path: Path) -> None:
    def auth_only(data: dict[str, Any]) -> None:
        data["services"] = {"auth": {k: v for k, v in data["services"]["auth"].items()
                                     if k != "reads"}}
        data["servers"]["alloydb"].pop("replicas", None)

    with copied(PCC, tmp_path, prefix="t-serve-down", edit=auth_only) as down:
        down.ok("up")
        down.ok("down")
        started = time.monotonic()
        result = down.devenv("serve-tests", "--port", "0", timeout=120)
        assert time.monotonic() - started < 30
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: cannot reach server 'alloydb' (")
    assert result.stderr.endswith(
        "hint: is the stack up? `devenv status` shows it, `devenv up` starts it\n")
