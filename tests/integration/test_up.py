"""`devenv up` end to end, on copies of both example stacks and a real Docker engine.

Every check goes through what a service gets: its .env file (or `devenv status/env`), never
devenv's internals. The capsule copy lives for the whole module; its last tests stop it
(`down`, then `down --volumes`), so the tests of this module run in file order on one worker.
"""

from __future__ import annotations

import json
import re
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from tests.integration.stacks import (
    CAPSULE,
    PCC,
    CopiedStack,
    Result,
    copied,
    parse_dotenv,
)

pytestmark = pytest.mark.xdist_group("test_up")

CAPSULE_SERVICES = ("auth", "billing", "deploy", "monitor")
POOLED = ("auth", "billing", "deploy")
DDL_LOGGED = "auth-db"  # the server whose log records every DDL statement (log_statement=ddl)


def _log_ddl(manifest: dict[str, Any]) -> None:
    manifest["servers"][DDL_LOGGED]["settings"] = {"log_statement": "ddl"}


@pytest.fixture(scope="module")
def capsule(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CopiedStack, Result]]:
    with copied(CAPSULE, tmp_path_factory.mktemp("capsule"), prefix="t-up-capsule",
                edit=_log_ddl) as stack:
        yield stack, stack.devenv("up")


@pytest.fixture(scope="module")
def cap(capsule: tuple[CopiedStack, Result]) -> CopiedStack:
    stack, result = capsule
    assert result.code == 0, result.explain()
    return stack


@pytest.fixture(scope="module")
def pcc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    with copied(PCC, tmp_path_factory.mktemp("pcc"), prefix="t-up-pcc") as stack:
        stack.ok("up")
        yield stack


def connect(url: str = "", **kwargs: Any) -> psycopg.Connection[tuple[Any, ...]]:
    # prepare_threshold=None: PgBouncer in transaction mode and server-side prepared statements.
    return psycopg.connect(url, autocommit=True, connect_timeout=10, prepare_threshold=None,
                           **kwargs)


def one(url: str, query: str, params: tuple[Any, ...] = ()) -> Any:
    with connect(url) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


# -- capsule: from nothing --------------------------------------------------------------------
def test_up_from_nothing_exits_0_and_says_up(capsule: tuple[CopiedStack, Result]) -> None:
    stack, result = capsule
    assert result.code == 0, result.explain()
    assert f"{stack.project} is up" in result.stdout
    assert "Traceback" not in result.stderr
    running = stack.containers()
    assert sorted(running) == sorted(stack.ports), running


def test_right_after_up_ps_shows_what_devenv_verified_beside_dockers_health(
        capsule: tuple[CopiedStack, Result]) -> None:
    """Docker's first healthcheck runs up to 5 s after `up` said the stack is up: ps shows
    devenv's own verification next to it, and says which is which when they differ."""
    stack, up = capsule
    assert "\x1b" not in up.stdout + up.stderr  # piped: no colour, no spinner
    result = stack.ok("ps")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CONTAINER", "SERVER", "STATE", "HEALTH", "READY", "PORT"]
    rows = {line.split()[1]: line.split() for line in lines[1:]}
    assert sorted(rows) == sorted(stack.ports)
    for name, port in stack.ports.items():
        _, _, state, health, verified, at, shown_port = rows[name]
        assert (state, verified, shown_port) == ("running", "verified", str(port)), lines
        assert re.fullmatch(r"\d\d:\d\d:\d\d", at)
        assert health in ("starting", "healthy")
    explained = ("HEALTH is Docker's healthcheck (every 5 s; `starting` until its first run); "
                 "READY is when `devenv up` last connected to the server itself\n")
    if any(row[3] == "starting" for row in rows.values()):
        assert result.stderr == explained
    else:
        assert result.stderr == ""
    servers = {s["name"]: s for s in stack.status()["servers"]}
    assert all(isinstance(s["verified_at"], float) for s in servers.values())


@pytest.mark.parametrize("service", CAPSULE_SERVICES)
def test_service_connects_with_exactly_its_env_file(cap: CopiedStack, service: str) -> None:
    env = cap.env(service)
    server = {"auth": "auth-db", "billing": "billing-db", "deploy": "deploy-db",
              "monitor": "monitor-db"}[service]
    pooled = urlsplit(env["DATABASE_URL"])
    direct = urlsplit(env["DATABASE_DIRECT_URL"])
    if service in POOLED:
        assert pooled.port == cap.ports["pgbouncer"], env["DATABASE_URL"]
    else:
        assert env["DATABASE_URL"] == env["DATABASE_DIRECT_URL"]
    assert direct.port == cap.ports[server]
    assert env["PGPORT"] == str(cap.ports[server])
    who = "SELECT current_user || '@' || current_database()"
    assert one(env["DATABASE_URL"], who) == f"{service}@{service}"
    assert one(env["DATABASE_DIRECT_URL"], who) == f"{service}@{service}"
    with connect(host=env["PGHOST"], port=env["PGPORT"], dbname=env["PGDATABASE"],
                 user=env["PGUSER"], password=env["PGPASSWORD"]) as conn:
        row = conn.execute(who).fetchone()
    assert row == (f"{service}@{service}",)


def test_seeded_rows_exist(cap: CopiedStack) -> None:
    auth = cap.env("auth")["DATABASE_URL"]
    assert one(auth, "SELECT count(*) FROM users WHERE email = 'admin@capsule.local'") == 1
    billing = cap.env("billing")["DATABASE_URL"]
    with connect(billing) as conn:
        codes = {r[0] for r in conn.execute("SELECT code FROM currencies")}
    assert {"USD", "EUR", "GBP", "BRL"} <= codes
    deploy = cap.env("deploy")["DATABASE_URL"]
    assert one(deploy, "SELECT count(*) FROM projects") > 0
    monitor = cap.env("monitor")["DATABASE_URL"]
    assert one(monitor, "SELECT count(*) FROM metrics") > 0
    assert one(monitor, "SELECT count(*) FROM timescaledb_information.hypertables "
                        "WHERE hypertable_name = 'metrics'") == 1


@pytest.mark.parametrize("service", CAPSULE_SERVICES)
def test_redis_user_is_confined_to_its_prefix(cap: CopiedStack, service: str) -> None:
    env = cap.env(service)
    assert urlsplit(env["REDIS_URL"]).port == cap.ports["redis"]
    prefix = env["REDIS_KEY_PREFIX"]
    assert prefix == f"{service}:"
    client = redis.Redis.from_url(env["REDIS_URL"], socket_timeout=10)
    try:
        client.set(f"{prefix}x", "1")
        assert client.get(f"{prefix}x") == b"1"
        other = "billing" if service != "billing" else "auth"
        # redis-py maps NOPERM to NoPermissionError (code stripped); Redis 8 capitalises "No".
        with pytest.raises(redis.exceptions.NoPermissionError, match=r"(?i)no permissions"):
            client.get(f"{other}:x")
        with pytest.raises(redis.exceptions.NoPermissionError, match=r"(?i)no permissions"):
            client.set(f"{other}:x", "1")
    finally:
        client.close()


def test_env_files_are_private(cap: CopiedStack) -> None:
    for service in CAPSULE_SERVICES:
        path = cap.env_path(service)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((cap.root / ".devenv" / "secrets.json").stat().st_mode) == 0o600


# -- status and env ---------------------------------------------------------------------------
def test_status_json_shows_servers_running_healthy_with_ports(cap: CopiedStack) -> None:
    data = cap.status()
    assert data["project"] == cap.project
    servers = {s["name"]: s for s in data["servers"]}
    assert sorted(servers) == sorted(cap.ports)
    for name, port in cap.ports.items():
        assert servers[name]["state"] == "running", servers[name]
        assert servers[name]["health"] == "healthy", servers[name]
        assert servers[name]["port"] == port
    services = {s["service"]: s for s in data["services"]}
    assert sorted(services) == sorted(CAPSULE_SERVICES)
    assert all(s["env_file_exists"] for s in services.values())


def test_status_table_shows_servers_running_healthy_with_ports(cap: CopiedStack) -> None:
    out = cap.ok("status").stdout
    for name, port in cap.ports.items():
        assert re.search(rf"^{re.escape(name)}\s+\S+\s+running\s+healthy\s+verified "
                         rf"\d\d:\d\d:\d\d\s+{port}$", out, re.MULTILINE), out


def test_status_in_a_subfolder_finds_the_manifest_above(cap: CopiedStack) -> None:
    """`cd migrations && devenv status`, as git and docker compose find their files."""
    from_root = cap.ok("status")
    nested = cap.devenv("status", cwd=cap.root / "migrations" / "auth")
    assert nested.code == 0, nested.explain()
    assert nested.stdout == from_root.stdout
    env = cap.devenv("env", "auth", cwd=cap.root / "migrations")
    assert env.code == 0, env.explain()
    assert "env file" not in env.stderr and "PGDATABASE=auth" in env.stdout


def test_a_role_the_manifest_lacks_is_a_clear_error(cap: CopiedStack) -> None:
    result = cap.devenv("psql", "--role", "admin", "auth", "--", "-c", "SELECT 1")
    assert result.code == 1
    assert result.stderr == ("error: devenv.yaml declares no admin role\n"
                             "hint: add `roles: {admin: NAME}` to devenv.yaml and run "
                             "`devenv up`\n")


def test_env_masks_passwords_unless_show_secrets(cap: CopiedStack) -> None:
    passwords = set(cap.secrets().values())
    masked = cap.ok("env", "auth").stdout
    assert not [p for p in passwords if p in masked]
    values = parse_dotenv(masked)
    assert values["DATABASE_URL"].startswith("postgresql://auth:****@")
    assert values["PGPASSWORD"] == "****"
    assert values["REDIS_URL"].startswith("redis://auth:****@")
    shown = parse_dotenv(cap.ok("env", "auth", "--show-secrets").stdout)
    assert shown["DATABASE_URL"] == cap.env("auth")["DATABASE_URL"]
    assert shown["PGPASSWORD"] == cap.secrets()["auth-db/auth"]


def test_env_formats_shell_and_json(cap: CopiedStack) -> None:
    expected = cap.env("auth")
    shell = cap.ok("env", "auth", "--format", "shell", "--show-secrets").stdout
    lines = shell.splitlines()
    assert lines and all(line.startswith("export ") for line in lines), shell
    script = shell + 'printf "%s" "$DATABASE_URL"'
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout == expected["DATABASE_URL"]
    data = json.loads(cap.ok("env", "auth", "--format", "json", "--show-secrets").stdout)
    assert data == expected
    masked = json.loads(cap.ok("env", "auth", "--json").stdout)
    assert masked.keys() == expected.keys()
    assert masked["PGPASSWORD"] == "****"


# -- a second up ------------------------------------------------------------------------------
def _started(ids: list[str]) -> dict[str, str]:
    out = subprocess.run(["docker", "inspect", "-f", "{{.Id}} {{.State.StartedAt}}", *ids],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def _ddl(stack: CopiedStack) -> list[str]:
    container = stack.containers()[DDL_LOGGED]
    done = subprocess.run(["docker", "logs", container], capture_output=True, text=True,
                          check=True)
    logs = done.stdout + done.stderr
    # One entry per statement: a multi-line statement continues on tab-indented lines.
    return [m.group(1) for m in re.finditer(r"LOG:\s+statement: (.*(?:\n\t.*)*)", logs)]


def _roles(stack: CopiedStack, server: str) -> int:
    url = (f"postgresql://postgres:{stack.secrets()[f'{server}/postgres']}@127.0.0.1:"
           f"{stack.ports[server]}/postgres")
    return int(one(url, "SELECT count(*) FROM pg_roles"))


@pytest.fixture(scope="module")
def second_up(cap: CopiedStack) -> dict[str, Any]:
    ids = list(cap.containers().values())
    before = {"started": _started(ids), "ddl": _ddl(cap),
              "roles": {s: _roles(cap, s) for s in ("auth-db", "billing-db", "monitor-db")}}
    result = cap.devenv("up")
    after = {"started": _started(list(cap.containers().values())), "ddl": _ddl(cap),
             "roles": {s: _roles(cap, s) for s in ("auth-db", "billing-db", "monitor-db")}}
    return {"result": result, "before": before, "after": after}


def test_second_up_is_up_to_date_and_restarts_nothing(second_up: dict[str, Any]) -> None:
    result: Result = second_up["result"]
    assert result.code == 0, result.explain()
    assert "is up to date" in result.stdout, result.stdout
    assert "Starting" not in result.stdout and "Provisioning" not in result.stdout
    assert second_up["after"]["started"] == second_up["before"]["started"]
    assert second_up["after"]["roles"] == second_up["before"]["roles"]


def test_second_up_issues_no_ddl(second_up: dict[str, Any]) -> None:
    """Not even CREATE TABLE IF NOT EXISTS for the migration/seed ledgers (it used to)."""
    assert second_up["before"]["ddl"], "log_statement=ddl logged nothing on the first up"
    new = second_up["after"]["ddl"][len(second_up["before"]["ddl"]):]
    assert new == []


# -- down keeps data; down --volumes does not -------------------------------------------------
def test_down_keeps_data_and_up_brings_it_back(cap: CopiedStack, second_up: dict[str, Any]
                                               ) -> None:
    billing = cap.env("billing")["DATABASE_DIRECT_URL"]
    with connect(billing) as conn:
        conn.execute("INSERT INTO currencies (code, name, symbol, minor_units, active) "
                     "VALUES ('JPY', 'Yen', '¥', 0, true)")
    volumes = cap.volumes()
    assert volumes
    out = cap.ok("down").stdout
    assert "data kept" in out
    assert cap.containers() == {}
    assert sorted(cap.volumes()) == sorted(volumes)
    # At once: TIME_WAIT sockets left on the published ports must not block it.
    cap.ok("up")
    with connect(cap.env("billing")["DATABASE_URL"]) as conn:
        codes = {r[0] for r in conn.execute("SELECT code FROM currencies")}
    assert {"USD", "EUR", "GBP", "BRL", "JPY"} <= codes
    auth = cap.env("auth")["DATABASE_URL"]
    assert one(auth, "SELECT count(*) FROM users WHERE email = 'admin@capsule.local'") == 1


DOWN_NO_TERMINAL = ("error: down --volumes deletes all data of project '{}' and there is no "
                    "terminal to ask: nothing was stopped or deleted\n"
                    "hint: pass --yes to delete without asking\n")


def test_down_volumes_without_a_terminal_refuses_at_once(cap: CopiedStack) -> None:
    volumes = sorted(cap.volumes())
    for stdin in ("", "n\n", "y\n"):  # CI, `echo n | devenv down --volumes`, even a piped yes
        result = cap.devenv("down", "--volumes", stdin=stdin)
        assert result.code == 1, result.explain()
        assert result.stderr == DOWN_NO_TERMINAL.format(cap.project)
        assert result.stdout == ""
    assert sorted(cap.volumes()) == volumes
    assert sorted(cap.containers()) == sorted(cap.ports)


def test_down_volumes_on_a_terminal_asks_and_no_deletes_nothing(cap: CopiedStack) -> None:
    volumes = sorted(cap.volumes())
    result = cap.on_terminal("down", "--volumes", answer="n\n", env={"NO_COLOR": "1"})
    assert result.code == 1, result.explain()
    assert f"Delete all data of project '{cap.project}' (its volumes)? [y/N]" in result.stdout
    assert result.stdout.rstrip().endswith(
        "error: not confirmed: nothing was stopped or deleted\n"
        "hint: `devenv down` stops the stack and keeps the data"), result.stdout
    assert "interrupted" not in result.stdout
    assert not re.search(r"\x1b\[[0-9;]*m", result.stdout)  # NO_COLOR: no colour codes
    assert sorted(cap.volumes()) == volumes
    assert sorted(cap.containers()) == sorted(cap.ports)


def test_down_volumes_removes_the_volumes(cap: CopiedStack) -> None:
    assert cap.volumes()
    cap.ok("down", "--volumes", "--yes")
    assert cap.volumes() == []
    assert cap.containers() == {}


# -- pcc: one shared server, reads, roles -----------------------------------------------------
READS = [("auth", "user", "user_profiles"),
         ("metric_tracker", "metric_builder", "metric_definitions"),
         ("task_tracker", "task_builder", "task_definitions")]


@pytest.mark.parametrize(("reader", "owner", "table"), READS)
def test_reads_gives_select_but_not_insert(pcc: CopiedStack, reader: str, owner: str,
                                           table: str) -> None:
    env = pcc.env(reader)
    url = env[f"{owner.upper()}_DATABASE_URL"]
    assert urlsplit(url).path == f"/{owner}_db_devtest"
    assert urlsplit(url).username == f"{reader}_api_user"
    assert one(url, f"SELECT count(*) FROM {table}") > 0
    with connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f"INSERT INTO {table} DEFAULT VALUES")


def test_reads_covers_tables_the_owner_creates_later(pcc: CopiedStack) -> None:
    owner = pcc.env("user")["DATABASE_DIRECT_URL"]
    with connect(owner) as conn:
        conn.execute("CREATE TABLE later_table (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO later_table VALUES (1, 'after up')")
    reader = pcc.env("auth")["USER_DATABASE_URL"]
    assert one(reader, "SELECT note FROM later_table WHERE id = 1") == "after up"
    with connect(reader) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("DELETE FROM later_table")


def test_a_service_cannot_connect_to_another_services_database(pcc: CopiedStack) -> None:
    env = pcc.env("user")
    with pytest.raises(psycopg.OperationalError, match="CONNECT privilege") as caught:
        connect(host=env["PGHOST"], port=env["PGPORT"], dbname="client_db_devtest",
                user=env["PGUSER"], password=env["PGPASSWORD"])
    assert 'permission denied for database "client_db_devtest"' in str(caught.value)
    # ...while its own database works with the same credentials.
    assert one(env["DATABASE_DIRECT_URL"], "SELECT current_database()") == "user_db_devtest"


def test_migration_and_admin_roles_exist(pcc: CopiedStack) -> None:
    admin = (f"postgresql://postgres:{pcc.secrets()['alloydb/postgres']}@127.0.0.1:"
             f"{pcc.ports['alloydb']}/postgres")
    with connect(admin) as conn:
        rows = {r[0]: r[1:] for r in conn.execute(
            "SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
            "WHERE rolname IN ('pcc_flyway_user', 'pcc_admin_user')")}
    assert rows == {"pcc_flyway_user": (True, False, False, False),
                    "pcc_admin_user": (True, False, True, True)}


def test_admin_and_migration_roles_have_a_way_in_masked_like_the_rest(pcc: CopiedStack) -> None:
    passwords = pcc.secrets()
    masked = pcc.ok("env", "--role", "migration", "client")
    assert masked.stdout.splitlines() == [
        f'DATABASE_URL="postgresql://pcc_flyway_user:****@127.0.0.1:{pcc.ports["alloydb"]}'
        '/client_db_devtest"',
        "PGHOST=127.0.0.1", f"PGPORT={pcc.ports['alloydb']}", "PGDATABASE=client_db_devtest",
        "PGUSER=pcc_flyway_user", 'PGPASSWORD="****"']
    shown = parse_dotenv(pcc.ok("env", "--role", "migration", "client", "--show-secrets").stdout)
    assert shown["PGPASSWORD"] == passwords["alloydb/pcc_flyway_user"]
    assert one(shown["DATABASE_URL"], "SELECT current_user") == "pcc_flyway_user"
    # Without SERVICE: the first service with a database (auth).
    first = parse_dotenv(pcc.ok("env", "--role", "admin").stdout)
    assert (first["PGUSER"], first["PGDATABASE"]) == ("pcc_admin_user", "auth_db_devtest")

    query = ["--", "-tAc", "SELECT current_user || ' ' || current_database()"]
    result = pcc.ok("psql", "--role", "admin", "user", *query)
    assert result.stdout == "pcc_admin_user user_db_devtest\n"
    assert result.stderr == ("psql as pcc_admin_user (admin role) on user_db_devtest, "
                             "server alloydb\n")
    result = pcc.ok("psql", "--role", "admin", *query)
    assert result.stdout == "pcc_admin_user auth_db_devtest\n"
    outputs = masked.stdout + result.stdout + result.stderr + str(first)
    assert not [k for k, p in passwords.items() if p in outputs]


def test_pcc_env_files_point_through_pgbouncer(pcc: CopiedStack) -> None:
    for service in ("auth", "client", "user", "metric_builder", "metric_tracker",
                    "task_builder", "task_tracker"):
        env = pcc.env(service)
        assert urlsplit(env["DATABASE_URL"]).port == pcc.ports["pgbouncer"]
        assert env["PGDATABASE"] == f"{service}_db_devtest"
        assert one(env["DATABASE_URL"], "SELECT current_user") == f"{service}_api_user"
        assert stat.S_IMODE(Path(pcc.env_path(service)).stat().st_mode) == 0o600
