"""Every feature with every operation (issue 24): examples/all, driven through every command.

One copy of examples/all (PostgreSQL 18 with built-in extensions and a delayed replica,
PostgreSQL 17 on tmpfs with PostGIS and pgvector, TimescaleDB, Redis, Valkey, PgBouncer, every
migration format) comes up from nothing; then each test is one operation, run in file order on
the same stack, asserting what a user would check: the service's tables and seed rows, the other
services untouched, the replica caught up, the extension callable as the service's own role.
The features x operations grid is `FEATURES` x the tests of this module (printed at the end).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import yaml

from tests.integration.stacks import REPO, CopiedStack, copy_example, parse_dotenv
from tests.integration.testapi_server import Api

pytestmark = pytest.mark.xdist_group("test_matrix")

ALL = REPO / "examples" / "all"
# This engine's Debian mirror is a frozen snapshot (a user's machine needs no option); the
# jobs service's `alembic` is the one `pip install -e '.[test]'` put beside this python.
ENV = {"DEVENV_APT_UPDATE_OPTIONS": "-o Acquire::Check-Valid-Until=false",
       "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
SERVICES = ("launch", "orders", "geo", "jobs", "telemetry")
# What each service's seeds leave: (table, rows).
SEEDED = {"launch": ("tenants", 3), "orders": ("orders", 2), "geo": ("places", 2),
          "jobs": ("jobs", 2), "telemetry": ("readings", 3)}
FEATURES = ("postgres 18", "postgres 17", "timescaledb server", "extensions built in",
            "launch design (timescaledb+pg_partman+pgaudit+pg_repack+pg_stat_statements)",
            "pg_cron", "postgis", "vector", "contrib", "replica", "replica_delay", "reads",
            "pgbouncer", "redis", "valkey", "flyway V/R", "golang-migrate", "dbmate",
            "command runner (alembic)", "sql seeds", "csv seeds", "naming", "roles.admin",
            "roles.migration", "env templates", "storage tmpfs", "plan", "ports.base",
            "url", "migration new", "generated .env.example", "devenv ui",
            "serve-tests (IntegreSQL API)")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    copied = copy_example(ALL, tmp_path_factory.mktemp("matrix"), prefix="mx")
    try:
        yield copied
    finally:
        copied.teardown()
        tags = subprocess.run(["docker", "images", "-q", f"devenv/{copied.project}-*"],
                              capture_output=True, text=True, check=False).stdout.split()
        if tags:
            subprocess.run(["docker", "rmi", "-f", *tags], capture_output=True, check=False)


def run(stack: CopiedStack, *args: str, ok: bool = True) -> Any:
    result = stack.devenv(*args, env=ENV)
    if ok:
        assert result.code == 0, f"devenv {' '.join(args)}: {result.explain()}"
    return result


def env(stack: CopiedStack, service: str) -> dict[str, str]:
    return parse_dotenv((stack.root / ".devenv" / "env" / f"{service}.env").read_text())


def query(stack: CopiedStack, service: str, sql: str, *, key: str = "DATABASE_DIRECT_URL",
          url: str | None = None) -> list[tuple[Any, ...]]:
    """As the service's own role, with the credentials of its .env file."""
    with psycopg.connect(url or env(stack, service)[key], autocommit=True) as conn:
        cursor = conn.execute(sql)  # type: ignore[arg-type]
        rows: list[tuple[Any, ...]] = []
        while True:  # several statements: the last one's rows
            if cursor.description is not None:
                rows = cursor.fetchall()
            if not cursor.nextset():
                return rows


def one(stack: CopiedStack, service: str, sql: str, **kw: Any) -> Any:
    return query(stack, service, sql, **kw)[0][0]


def admin_one(stack: CopiedStack, server: str, sql: str) -> Any:
    """As the server's superuser (what a person checks with `docker exec ... psql`)."""
    password = stack.secrets()[f"{server}/postgres"]
    url = f"postgresql://postgres:{password}@127.0.0.1:{stack.ports[server]}/postgres"
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
        assert row is not None
        return row[0]


def seeded(stack: CopiedStack, service: str) -> int:
    table, _ = SEEDED[service]
    return int(one(stack, service, f"SELECT count(*) FROM {table}"))


def assert_all_seeded(stack: CopiedStack, *, but: tuple[str, ...] = ()) -> None:
    for service, (table, rows) in SEEDED.items():
        if service not in but:
            assert seeded(stack, service) == rows, f"{service}.{table}"


# -- plan, cold up ------------------------------------------------------------------------------


def test_plan_from_nothing_lists_the_whole_cold_up_and_changes_nothing(
        stack: CopiedStack) -> None:
    result = run(stack, "plan")
    out = result.stdout
    assert "Nothing was changed." in out
    assert "write compose/compose.yaml" in out
    assert f"build image devenv/{stack.project}-core" in out
    assert f"build image devenv/{stack.project}-legacy" in out
    assert "create container(s) core, legacy, metrics, cache, queue, pool, core-replica-1" \
        in out, out
    for line in ("on server core:", "created role launch_svc", "created database launch_dev",
                 "created extension pg_partman in launch_dev",
                 "granted CONNECT on launch_dev to orders_svc", "on server metrics:",
                 "jobs: runs `alembic upgrade head` on every `up`",
                 "write .devenv/env/launch.env"):
        assert line in out, (line, out)
    assert "launch: apply 4 migration(s) (new database)" in out, out
    assert "telemetry: apply " in out and "seeds/telemetry/" in out, out
    data = json.loads(run(stack, "plan", "--json").stdout)
    assert data["changes"] is True
    assert data["containers"]["core-replica-1"] == "create"
    assert data["migrations"]["orders"]["new_database"] is True
    # nothing was made: no passwords, no generated file, no container, volume or image
    assert not (stack.root / ".devenv" / "secrets.json").exists()
    assert not (stack.root / "compose").exists()
    assert not list((stack.root / ".devenv").glob("env/*"))
    assert stack.containers() == {}
    assert stack.volumes() == []
    tags = subprocess.run(["docker", "images", "-q", f"devenv/{stack.project}-*"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert tags == []


# -- cold up ------------------------------------------------------------------------------------


def test_cold_up_from_nothing_builds_the_images_and_seeds_every_service(
        stack: CopiedStack) -> None:
    result = run(stack, "up")
    assert f"{stack.project} is up" in result.stdout
    assert "Building the image of core (postgres:18 + " in result.stdout
    assert "Building the image of legacy (postgres:17 + " in result.stdout
    assert_all_seeded(stack)
    for service in SERVICES:
        mode = (stack.root / ".devenv" / "env" / f"{service}.env").stat().st_mode & 0o777
        assert mode == 0o600, service
    assert env(stack, "launch")["LAUNCH_DB_NAME"] == "launch_dev"  # naming + env templates
    assert env(stack, "launch")["LAUNCH_CACHE_PREFIX"] == "launch:"
    assert env(stack, "orders")["PGUSER"] == "orders_svc"


def test_the_launch_design_lives_in_one_database_as_the_service_role(
        stack: CopiedStack) -> None:
    """timescaledb, pg_partman, pgaudit, pg_repack, pg_stat_statements in launch's database."""
    names = {r[0] for r in query(stack, "launch", "SELECT extname FROM pg_extension")}
    assert {"timescaledb", "pg_partman", "pgaudit", "pg_repack", "pg_stat_statements"} <= names
    assert one(stack, "launch", "SELECT count(*) FROM timescaledb_information.hypertables "
                                "WHERE hypertable_name = 'events'") == 1
    assert one(stack, "launch", "SELECT count(*) FROM partman.part_config "
                                "WHERE parent_table = 'public.audit_log'") == 1
    preload = admin_one(stack, "core", "SHOW shared_preload_libraries")
    for lib in ("timescaledb", "pg_stat_statements", "pgaudit", "pg_partman_bgw", "pg_cron"):
        assert lib in preload, preload
    # the role runs partman itself, as its migrations do
    query(stack, "launch", "CREATE TABLE matrix_parts (at timestamptz NOT NULL) "
                           "PARTITION BY RANGE (at); "
                           "SELECT partman.create_parent('public.matrix_parts', 'at', '1 day')")
    assert one(stack, "launch", "SELECT count(*) FROM pg_inherits "
                                "WHERE inhparent = 'matrix_parts'::regclass") >= 5
    query(stack, "launch", "DROP TABLE matrix_parts CASCADE; "
                           "DROP TABLE IF EXISTS partman.template_public_matrix_parts; "
                           "DELETE FROM partman.part_config "
                           "WHERE parent_table = 'public.matrix_parts'")


def test_every_extension_is_callable_as_its_service_role(stack: CopiedStack) -> None:
    assert one(stack, "orders", "SELECT cron.schedule('matrix', '0 3 * * *', 'SELECT 1')") > 0
    assert one(stack, "orders", "SELECT cron.unschedule('matrix')") is True
    assert one(stack, "orders", "SELECT count(*) FROM orders "
                                "WHERE email = 'ada@example.com'") == 1  # citext
    km = one(stack, "geo", "SELECT round(ST_Distance(a.location, b.location) / 1000) "
                           "FROM places a, places b WHERE a.name = 'Berlin' "
                           "AND b.name = 'Paris'")
    assert 870 <= km <= 890
    assert one(stack, "geo", "SELECT name FROM places ORDER BY embedding <-> '[1,0.1,0]' "
                             "LIMIT 1") == "Berlin"
    assert one(stack, "telemetry", "SELECT count(*) FROM timescaledb_information.hypertables "
                                   "WHERE hypertable_name = 'readings'") == 1


def test_the_17_server_keeps_its_data_in_memory_and_18_on_a_volume(stack: CopiedStack) -> None:
    assert one(stack, "geo", "SELECT current_setting('server_version_num')::int / 10000") == 17
    assert one(stack, "launch", "SELECT current_setting('server_version_num')::int / 10000") == 18
    volumes = stack.volumes()
    assert any(v.endswith("_core-data") for v in volumes), volumes
    assert not any(v.endswith("_legacy-data") for v in volumes), volumes


def test_reads_and_the_replica(stack: CopiedStack) -> None:
    orders = env(stack, "orders")
    reader = orders["DATABASE_DIRECT_URL"].rsplit("/", 1)[0] + "/launch_dev"
    assert one(stack, "orders", "SELECT count(*) FROM tenants", url=reader) == 3
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        query(stack, "orders", "INSERT INTO tenants (slug) VALUES ('nope')", url=reader)
    # a write on the primary is read on the replica, after at least replica_delay
    query(stack, "launch", "INSERT INTO tenants (slug) VALUES ('replicated')")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen = one(stack, "launch", "SELECT count(*) FROM tenants WHERE slug = 'replicated'",
                   key="DATABASE_READONLY_DIRECT_URL")
        if seen == 1:
            break
        time.sleep(0.1)
    assert seen == 1
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        query(stack, "launch", "INSERT INTO tenants (slug) VALUES ('x')",
              key="DATABASE_READONLY_DIRECT_URL")
    query(stack, "launch", "DELETE FROM tenants WHERE slug = 'replicated'")


def test_pgbouncer_redis_and_valkey_as_each_service(stack: CopiedStack) -> None:
    assert one(stack, "launch", "SELECT count(*) FROM tenants", key="DATABASE_URL") == 3
    for service, kind in (("launch", "redis"), ("orders", "valkey"), ("telemetry", "redis")):
        client = redis.Redis.from_url(env(stack, service)["REDIS_URL"])
        client.set(f"{service}:matrix", kind)
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.set("elsewhere:matrix", kind)
        client.delete(f"{service}:matrix")


# -- warm up, up SERVICE, status, ps, logs, doctor -------------------------------------------


def test_warm_up_changes_nothing(stack: CopiedStack) -> None:
    before = stack.containers()
    result = run(stack, "up")
    assert f"{stack.project} is up to date" in result.stdout
    assert stack.containers() == before
    result = run(stack, "up", "geo")
    assert f"{stack.project} is up to date" in result.stdout
    assert stack.containers() == before


def test_plan_after_up_says_nothing_and_then_exactly_what_up_does(stack: CopiedStack) -> None:
    assert "would change nothing" in run(stack, "plan").stdout
    assert "would change nothing" in run(stack, "up", "--plan").stdout
    manifest = stack.root / "devenv.yaml"
    data = yaml.safe_load(manifest.read_text())
    assert data["services"]["orders"]["extensions"] == ["pg_cron", "citext"]
    data["services"]["orders"]["extensions"].append("pg_trgm")
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    before = stack.containers()
    planned = run(stack, "plan").stdout
    assert "    created extension pg_trgm in orders_dev" in planned, planned
    assert "container(s)" not in planned, planned  # a contrib extension recreates nothing
    assert stack.containers() == before
    assert one(stack, "orders", "SELECT count(*) FROM pg_extension "
                                "WHERE extname = 'pg_trgm'") == 0
    done = run(stack, "up").stdout
    provisioned = [line.strip() for line in planned.splitlines() if line.startswith("    ")]
    assert "  on server core:" in planned
    for line in provisioned:
        assert f"  core: {line}" in done, (line, done)
    assert one(stack, "orders", "SELECT similarity('devenv', 'devenv')") == 1
    assert stack.containers() == before
    assert "would change nothing" in run(stack, "plan").stdout


def test_status_ps_logs_and_doctor_cover_every_server_and_the_replica(
        stack: CopiedStack) -> None:
    status = json.loads(run(stack, "status", "--json").stdout)
    servers = {s["name"]: s for s in status["servers"]}
    assert set(servers) == {"core", "core-replica-1", "legacy", "metrics", "cache", "queue",
                            "pool"}
    assert servers["core-replica-1"]["replica_of"] == "core"
    assert servers["core-replica-1"]["port"] == stack.ports["core-replica-1"]
    assert all(s["state"] == "running" for s in servers.values()), servers
    services = {s["service"]: s for s in status["services"]}
    assert services["orders"]["version"] == "3"
    assert services["geo"]["version"] == "20260201000000"
    # another tool's service: the version its own ledger holds
    assert services["jobs"]["version"].endswith(" (alembic)"), services["jobs"]
    assert services["jobs"]["managed_by"] == "alembic upgrade head"
    ps = run(stack, "ps").stdout
    for name in ("core", "legacy", "metrics", "cache", "queue", "pool"):
        assert f"{stack.project}-{name}-1" in ps
    assert "core-replica-1" in ps
    logs = run(stack, "logs", "core", "--tail", "20").stdout
    # devenv's own reads of a ledger that is not there yet leave no ERROR in any server's log
    everything = run(stack, "logs", "--tail", "100000").stdout
    assert not [ln for ln in everything.splitlines() if "does not exist" in ln
                and "devenv" in ln], everything[-3000:]
    assert "database system is ready to accept connections" in logs or logs.strip()
    replica_logs = run(stack, "logs", "core-replica-1", "--tail", "50")
    assert "no server named" not in replica_logs.stdout + replica_logs.stderr
    doctor = run(stack, "doctor", ok=False)
    assert doctor.code == 0, doctor.explain()


# -- migrate, rollback, validate, repair, seed ---------------------------------------------------


def test_rollback_then_migrate_brings_tables_and_seeds_back(stack: CopiedStack) -> None:
    run(stack, "rollback", "orders", "--steps", "2")
    assert one(stack, "orders", "SELECT to_regclass('order_items') IS NULL") is True
    run(stack, "migrate", "orders", "--to", "2")
    assert one(stack, "orders", "SELECT to_regclass('order_items') IS NULL") is True
    run(stack, "migrate", "orders")
    assert one(stack, "orders", "SELECT count(*) FROM order_items") == 3
    info = json.loads(run(stack, "info", "orders", "--json").stdout)
    assert [m["state"] for m in info["migrations"]] == ["applied"] * 3
    assert {s["state"] for s in info["seeds"]} == {"applied"}
    assert_all_seeded(stack)


def test_validate_finds_an_edited_and_a_deleted_file_and_repair_accepts_them(
        stack: CopiedStack) -> None:
    applied = stack.root / "migrations" / "orders" / "000002_add_order_status.up.sql"
    original = applied.read_text()
    assert run(stack, "validate").code == 0
    applied.write_text(original + "-- edited\n")
    result = run(stack, "validate", ok=False)
    assert result.code == 1 and "000002_add_order_status.up.sql" in result.stdout + result.stderr
    run(stack, "repair", "orders")
    assert run(stack, "validate").code == 0
    applied.write_text(original)
    run(stack, "repair", "orders")
    deleted = stack.root / "migrations" / "launch" / "V1__Create_tenants.sql"
    text = deleted.read_text()
    deleted.unlink()
    result = run(stack, "validate", ok=False)
    assert result.code == 1 and "V1__Create_tenants.sql" in result.stdout + result.stderr
    deleted.write_text(text)
    assert run(stack, "validate").code == 0


def test_repair_and_info_work_before_the_up_of_a_manifest_change(stack: CopiedStack) -> None:
    """A server added to the manifest has no password until `up`: the commands that work on
    one service's database do not need it (issue 28)."""
    manifest = stack.root / "devenv.yaml"
    original = manifest.read_text()
    data = yaml.safe_load(original)
    data["servers"]["spare"] = {"kind": "redis"}
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        assert "nothing to repair" in run(stack, "repair", "orders").stdout
        assert run(stack, "info", "orders").code == 0
        assert run(stack, "validate", "orders").code == 0
    finally:
        manifest.write_text(original)


def test_a_deleted_migrations_folder_is_drift_not_silence(stack: CopiedStack) -> None:
    folder = stack.root / "migrations" / "telemetry"
    kept = stack.root / "telemetry-migrations"
    shutil.move(folder, kept)
    try:
        result = run(stack, "validate", ok=False)
        assert result.code == 1, result.explain()
        assert "telemetry" in result.stdout + result.stderr
    finally:
        shutil.move(kept, folder)
    assert run(stack, "validate").code == 0


def test_seed_force_applies_an_edited_seed(stack: CopiedStack) -> None:
    seed = stack.root / "seeds" / "telemetry" / "01_readings.csv"
    original = seed.read_text()
    seed.write_text(original + "sensor-3,2026-01-02 00:00:00+00,1.5\n")
    try:
        run(stack, "seed", "telemetry", "--force")
        assert one(stack, "telemetry", "SELECT count(*) FROM readings "
                                       "WHERE device = 'sensor-3'") >= 1
    finally:
        seed.write_text(original)
        run(stack, "reset", "telemetry", "--hard")
    assert seeded(stack, "telemetry") == 3


# -- reset, clones -------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_reset_puts_one_service_back_and_touches_no_other(stack: CopiedStack,
                                                          service: str) -> None:
    table, rows = SEEDED[service]
    query(stack, service, f"TRUNCATE {table} CASCADE")
    others = [s for s in SERVICES if s != service]
    for other in others:  # every other service's own change survives this reset
        query(stack, other, f"CREATE TABLE matrix_marker_{service} (id int)")
    run(stack, "reset", service)
    assert seeded(stack, service) == rows
    for other in others:
        assert one(stack, other, f"SELECT to_regclass('matrix_marker_{service}') IS NOT NULL")
        query(stack, other, f"DROP TABLE matrix_marker_{service}")
    assert_all_seeded(stack)
    if service == "orders":  # pg_cron lives only in orders' own database: made again
        assert one(stack, "orders", "SELECT count(*) FROM pg_extension "
                                    "WHERE extname = 'pg_cron'") == 1
    if service == "launch":  # the reset reached the replica before `reset` returned
        assert one(stack, "launch", "SELECT count(*) FROM tenants",
                   key="DATABASE_READONLY_DIRECT_URL") == rows


def test_a_migration_failing_in_the_template_says_so_and_leaves_the_service_alone(
        stack: CopiedStack) -> None:
    broken = stack.root / "migrations" / "launch" / "V4__Broken.sql"
    broken.write_text("SELECT no_such_function();\n")
    try:
        result = run(stack, "reset", "launch", ok=False)
    finally:
        broken.unlink()
    text = result.stdout + result.stderr
    assert result.code == 1
    assert "building the template of launch (launch_dev_tpl_" in text, text
    assert "V4__Broken.sql" in text and "launch's own database launch_dev was not touched" in text
    assert "run `devenv migrate" not in text
    assert_all_seeded(stack)
    run(stack, "reset", "launch")  # the files as before: their template is still there
    assert_all_seeded(stack)


def test_reset_hard_rebuilds_from_the_files(stack: CopiedStack) -> None:
    query(stack, "launch", "DELETE FROM events")
    result = run(stack, "reset", "launch", "--hard")
    assert "rebuilt from migrations and seeds" in result.stdout
    assert one(stack, "launch", "SELECT count(*) FROM events") == 12
    assert_all_seeded(stack)


def test_db_clone_drop_and_prune(stack: CopiedStack) -> None:
    made = json.loads(run(stack, "db", "clone", "launch", "--json", "--show-secrets").stdout)
    assert one(stack, "launch", "SELECT count(*) FROM tenants", url=made["url"]) == 3
    assert one(stack, "launch", "SELECT count(*) FROM partman.part_config",
               url=made["url"]) >= 1
    assert one(stack, "launch", "SELECT count(*) FROM tenants",
               url=made["env"]["DATABASE_READONLY_URL"]) == 3
    run(stack, "db", "drop", made["database"])
    for service in ("geo", "telemetry"):
        run(stack, "db", "clone", service)
    listed = json.loads(run(stack, "db", "list", "--json").stdout)
    assert {c["service"] for c in listed} >= {"geo", "telemetry"}
    assert "dropped 2 clone(s)" in run(stack, "db", "prune").stdout
    assert json.loads(run(stack, "db", "list", "--json").stdout) == []


# -- the pytest plugin -----------------------------------------------------------------------------

SUITE = '''
import psycopg


def count(db, sql):
    return db.conn.execute(sql).fetchone()[0]


def test_launch(devenv_database):
    db = devenv_database("launch")
    assert count(db, "SELECT count(*) FROM tenants") == 3
    assert count(db, "SELECT count(*) FROM partman.part_config") >= 1
    db.conn.execute("INSERT INTO tenants (slug) VALUES ('plugin')")
    db.conn.commit()
    db.wait_for_replica()
    with psycopg.connect(db.readonly_url) as replica:
        assert replica.execute("SELECT count(*) FROM tenants").fetchone()[0] == 4


def test_orders(devenv_database):
    db = devenv_database("orders")
    assert count(db, "SELECT count(*) FROM order_items") == 3
    db.conn.execute("DELETE FROM orders")
    db.conn.commit()


def test_orders_again_is_isolated(devenv_database):
    assert count(devenv_database("orders"), "SELECT count(*) FROM orders") == 2


def test_geo(devenv_database):
    db = devenv_database("geo")
    assert count(db, "SELECT count(*) FROM places WHERE ST_X(location::geometry) > 10") == 1


def test_jobs(devenv_database):
    assert count(devenv_database("jobs"), "SELECT count(*) FROM jobs") == 2


def test_telemetry(devenv_database):
    assert count(devenv_database("telemetry"), "SELECT count(*) FROM readings") == 3
'''


@pytest.mark.parametrize("workers", ["0", "2"])
def test_the_pytest_plugin_gives_each_test_a_database_of_every_service(
        stack: CopiedStack, workers: str) -> None:
    suite = stack.root / "suite"
    suite.mkdir(exist_ok=True)
    (suite / "test_every_service.py").write_text(textwrap.dedent(SUITE))
    # the project's own pytest.ini beside its devenv.yaml, as a team has it
    (stack.root / "pytest.ini").write_text("[pytest]\ntestpaths = suite\n"
                                           "addopts = -p no:cacheprovider\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", workers, "-p", "xdist"],
        cwd=stack.root, capture_output=True, text=True, timeout=600, check=False,
        env={k: v for k, v in {**os.environ, **ENV}.items() if k != "DEVENV_FILE"})
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "6 passed" in done.stdout
    assert_all_seeded(stack)


# -- issue 27: what a hostile service or a kill leaves, checked on every kind ---------------------


def test_redis_kill_script_and_doctors_stuck_state_checks(stack: CopiedStack) -> None:
    """Nothing to kill on Redis or Valkey, no pool entry paused, no role beyond the manifest."""
    killed = run(stack, "redis", "kill-script")
    assert killed.stdout == "cache: no script running\nqueue: no script running\n"
    doctor = run(stack, "doctor", ok=False).stdout
    for line in ("ok    redis scripts: no script keeps a server busy",
                 "ok    pgbouncer entries: none paused",
                 "ok    service isolation: each service database"):
        assert line in doctor, doctor


# -- generate, export, down ------------------------------------------------------------------------


def test_url_ports_base_and_env_example(stack: CopiedStack) -> None:
    """`devenv url` prints the .env file's variable; queue took its port from ports.base; the
    generated .env.example names every variable and holds no value."""
    orders, launch = env(stack, "orders"), env(stack, "launch")
    assert run(stack, "url", "orders", "--redis", "--show-secrets").stdout.strip() == \
        orders["REDIS_URL"]
    assert run(stack, "url", "launch", "--readonly", "--direct", "--show-secrets"
               ).stdout.strip() == launch["DATABASE_READONLY_DIRECT_URL"]
    masked = run(stack, "url", "launch").stdout.strip()
    assert masked == launch["DATABASE_URL"].replace(
        launch["PGPASSWORD"], "****"), masked  # through PgBouncer, masked
    assert launch["PGPASSWORD"] not in masked
    missing = run(stack, "url", "geo", "--redis", ok=False)
    assert missing.code == 1 and "service 'geo' has no Redis" in missing.stderr
    base = yaml.safe_load((stack.root / "devenv.yaml").read_text())["ports"]["base"]
    status = json.loads(run(stack, "status", "--json").stdout)
    queue = next(s for s in status["servers"] if s["name"] == "queue")
    assert base <= queue["port"] < base + 20, (base, queue)
    assert str(queue["port"]) in orders["REDIS_URL"]  # orders' valkey
    example = (stack.root / ".env.example").read_text()
    assigned = [ln for ln in example.splitlines() if "=" in ln and not ln.startswith("#")]
    assert assigned and all(ln.endswith("=") for ln in assigned)
    for service in SERVICES:
        assert f"# -- {service}: .devenv/env/{service}.env" in example
    assert "LAUNCH_DB_NAME=" in example  # an env template's name


def test_migration_new_makes_the_next_golang_migrate_pair_that_migrate_applies(
        stack: CopiedStack) -> None:
    made = run(stack, "migration", "new", "orders", "Add notes").stdout
    folder = stack.root / "migrations" / "orders"
    assert made.splitlines() == ["created migrations/orders/000004_add_notes.up.sql",
                                 "created migrations/orders/000004_add_notes.down.sql"]
    (folder / "000004_add_notes.up.sql").write_text(
        "ALTER TABLE orders ADD COLUMN notes text;\n")
    (folder / "000004_add_notes.down.sql").write_text("ALTER TABLE orders DROP COLUMN notes;\n")
    assert "would:" in run(stack, "plan").stdout
    run(stack, "migrate", "orders")
    assert one(stack, "orders", "SELECT count(*) FROM information_schema.columns "
                                "WHERE table_name = 'orders' AND column_name = 'notes'") == 1
    wrong = run(stack, "migration", "new", "orders", "x", "--format", "dbmate", ok=False)
    assert wrong.code == 1 and "holds golang-migrate migrations, not dbmate" in wrong.stderr
    runner = run(stack, "migration", "new", "jobs", "x", ok=False)
    assert runner.code == 1 and "service 'jobs' is migrated by `alembic upgrade head`" in \
        runner.stderr
    assert_all_seeded(stack)
    # leave orders as the next operations expect it: at 3, with 3 files
    run(stack, "rollback", "orders")
    for path in folder.glob("000004_*"):
        path.unlink()
    run(stack, "validate")


@pytest.fixture
def ui_url(stack: CopiedStack) -> Iterator[str]:
    """`devenv ui` of the matrix stack, as a user starts it; its printed URL."""
    process = subprocess.Popen([sys.executable, "-m", "devenv.cli", "ui", "--no-open"],
                               cwd=stack.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, **ENV})
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "devenv ui of" in line, line + (process.stderr.read() if process.stderr else "")
        yield line.split(": ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def http(url: str, *, method: str = "GET", headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_ui_refuses_requests_without_the_token_the_host_or_the_csrf_token(
        stack: CopiedStack, ui_url: str) -> None:
    base, token = ui_url.split("/?token=")
    assert http(ui_url)[0] == 200
    assert http(f"{base}/")[0] == 403  # no token
    assert http(f"{base}/?token=wrong")[0] == 403
    assert http(ui_url, headers={"Host": "rebind.example:" + base.rsplit(":", 1)[1]})[0] == 403
    reveal = json.dumps({"service": "launch", "name": "PGPASSWORD"}).encode()
    assert http(f"{base}/api/reveal?token={token}", method="POST", body=reveal)[0] == 403
    status, page = http(ui_url)
    csrf = page.decode().split('name="csrf" content="')[1].split('"')[0]
    status, _ = http(f"{base}/api/reveal?token={token}", method="POST", body=reveal,
                     headers={"X-Devenv-CSRF": csrf, "Origin": "http://evil.example"})
    assert status == 403  # another origin
    # nothing secret in any fragment until revealed
    for path in ("/fragment/servers", "/fragment/services", "/fragment/env/launch",
                 "/api/state"):
        status, text = http(f"{base}{path}?token={token}")
        assert status == 200, path
        secrets = set(stack.secrets().values())
        assert secrets and not any(pw.encode() in text for pw in secrets), path


def click(driver: Any, css: str) -> None:
    """Click what `css` finds, again if the page replaced it meanwhile (every 2 s)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + 60
    while True:
        try:
            driver.find_element(By.CSS_SELECTOR, css).click()
            return
        except StaleElementReferenceException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_ui_in_a_real_browser(stack: CopiedStack, ui_url: str) -> None:
    """Chromium (Debian's, headless) drives the page as a person would."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(
        shutil.which("chromedriver") or "/usr/bin/chromedriver"))
    wait = WebDriverWait(driver, 60)
    try:
        driver.get(ui_url)
        try:
            wait.until(ec.text_to_be_present_in_element((By.ID, "servers"), "core-replica-1"))
        except Exception:
            base, token = ui_url.split("/?token=")
            raise AssertionError(http(f"{base}/fragment/servers?token={token}")) from None
        servers = driver.find_element(By.ID, "servers").text
        for name in ("core", "legacy", "metrics", "cache", "queue", "pool"):
            assert name in servers
        assert "replica of core" in servers
        wait.until(ec.text_to_be_present_in_element((By.ID, "services"), "telemetry"))
        # a service's environment, masked, then revealed; its tables as its own role
        click(driver, 'a.svc[data-service="launch"]')
        wait.until(ec.presence_of_element_located((By.ID, "env-table")))
        value = driver.find_element(
            By.CSS_SELECTOR, 'code.val[data-service="launch"][data-name="PGPASSWORD"]')
        assert value.text == "****"
        click(driver, 'button.reveal[data-service="launch"][data-name="PGPASSWORD"]')
        wait.until(lambda d: value.text != "****")
        assert value.text == env(stack, "launch")["PGPASSWORD"]
        assert "public.tenants" in driver.find_element(By.ID, "detail").text
        assert "3 rows" in driver.find_element(By.ID, "detail").text
        # an action, with what it will do said first: reset orders puts its rows back
        query(stack, "orders", "DELETE FROM orders")
        click(driver, 'button.act[data-action="reset"][data-target="orders"]')
        alert = wait.until(ec.alert_is_present())
        assert "put orders's database back to its migrated and seeded state" in alert.text
        alert.accept()
        wait.until(ec.text_to_be_present_in_element((By.ID, "result"), "done in"))
        assert seeded(stack, "orders") == SEEDED["orders"][1]
        assert_all_seeded(stack)
        # a snapshot of real data saved from the page, then restored over a change
        query(stack, "orders", "DELETE FROM orders WHERE id = (SELECT min(id) FROM orders)")
        click(driver, 'button.snap[data-target="orders"]')
        prompt = wait.until(ec.alert_is_present())
        prompt.send_keys("ui-snap")
        prompt.accept()
        wait.until(ec.text_to_be_present_in_element((By.ID, "result"), "saved snapshot ui-snap"))
        query(stack, "orders", "DELETE FROM orders")
        restore = 'button.act[data-action="snapshot-restore"][data-target="orders/ui-snap"]'
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, restore)))
        click(driver, restore)
        wait.until(ec.alert_is_present()).accept()
        wait.until(ec.text_to_be_present_in_element((By.ID, "result"), "restored snapshot"))
        assert seeded(stack, "orders") == SEEDED["orders"][1] - 1  # the saved state, not seeds
        run(stack, "snapshot", "rm", "orders", "ui-snap")
        run(stack, "reset", "orders")
        services = driver.find_element(By.ID, "services").text
        assert "ready" in services  # the golden templates' state
        assert "18" in driver.find_element(By.ID, "servers").text  # the majors
        # the replica's replay, paused and resumed from the page
        click(driver, 'button.act[data-action="replica-pause"][data-target="core"]')
        wait.until(ec.alert_is_present()).accept()
        wait.until(ec.text_to_be_present_in_element((By.ID, "result"), "replay paused"))
        wait.until(ec.text_to_be_present_in_element((By.ID, "servers"), "B /"))
        click(driver, 'button.act[data-action="replica-resume"][data-target="core"]')
        wait.until(ec.alert_is_present()).accept()
        wait.until(ec.text_to_be_present_in_element((By.ID, "result"), "replay resumed"))
        # live logs of a server, masked
        select = driver.find_element(By.ID, "log-server")
        select.find_element(By.CSS_SELECTOR, 'option[value="core"]').click()
        wait.until(lambda d: len(d.find_element(By.ID, "log").text) > 0)
        assert env(stack, "launch")["PGPASSWORD"] not in driver.find_element(By.ID, "log").text
    finally:
        driver.quit()


def test_generate_check_is_clean_after_up(stack: CopiedStack) -> None:
    assert run(stack, "generate", "--check").code == 0


def test_export_kubernetes_refuses_what_cloudnativepg_images_lack_and_writes_nothing(
        stack: CopiedStack) -> None:
    """CNPG's operand images carry contrib, pgaudit and pgvector; the rest of this stack's
    extensions need an image built FROM them (issue 26 item 5): a located refusal."""
    result = run(stack, "export", "kubernetes", ok=False)
    assert result.code == 1
    text = result.stdout + result.stderr
    assert "devenv.yaml:" in text and "extension 'pg_partman' is not in" in text, text
    assert not (stack.root / "k8s").exists() and not (stack.root / "kubernetes").exists()


def test_version_names_the_distribution(stack: CopiedStack) -> None:
    from devenv import DISTRIBUTION, __version__

    out = run(stack, "--version").stdout
    assert out.startswith(f"{DISTRIBUTION} {__version__} (Python "), out
    assert "Docker Engine " in out, out


# examples/all's database servers as images built for CloudNativePG (its extensions are not in
# CNPG's own images, see the test above): what a team exporting this stack sets.
CNPG_OPERANDS = {"core": "registry.example.com/all-cnpg:18",
                 "legacy": "registry.example.com/all-cnpg:17"}


def test_export_kubernetes_migrate_image_runs_every_format_against_the_stack(
        stack: CopiedStack, tmp_path: Path) -> None:
    """Issue 25 on every feature: the export's migrate image, built from its own folder (a
    wheelhouse of this checkout, --no-index), carries examples/all's manifest and every
    migration format's folder, never .devenv/; the Job's command of each SQL-format service,
    run against this stack with its Secret's variables, finds everything applied."""
    import yaml

    project = tmp_path / "k8s-project"
    project.mkdir()
    data = stack.read_manifest()
    for server, image in CNPG_OPERANDS.items():
        data["servers"][server]["image"] = image
    (project / "devenv.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    for folder in ("migrations", "seeds"):
        shutil.copytree(stack.root / folder, project / folder)
    (project / ".devenv").mkdir()
    (project / ".devenv" / "secrets.json").write_text('{"passwords": {}}')
    done = subprocess.run([sys.executable, "-m", "devenv.cli", "export", "kubernetes"],
                          cwd=project, capture_output=True, text=True, timeout=600, check=False,
                          env={k: v for k, v in os.environ.items() if k != "DEVENV_FILE"})
    assert done.returncode == 0, done.stdout + done.stderr
    context = project / "k8s" / "images" / "migrate"
    app = sorted(p.relative_to(context / "app").as_posix() for p in (context / "app").iterdir())
    assert app == ["devenv.yaml", "migrations", "seeds"]
    copied = {p.relative_to(context / "app").as_posix() for p in (context / "app").rglob("*")}
    for service in SERVICES:
        assert f"migrations/{service}" in copied, service
    assert "migrations/jobs/alembic.ini" in copied  # the command's folder
    assert not any(".devenv" in p for p in copied)
    tag = f"devenv-test-migrate-{stack.project}:1"
    built = subprocess.run(["docker", "build", "-q", "-t", tag, str(context)],
                           capture_output=True, text=True, timeout=900, check=False)
    assert built.returncode == 0, built.stdout + built.stderr
    secrets = {d["metadata"]["name"]: d for d in yaml.safe_load_all(
        (project / "k8s" / "secrets.yaml").read_text()) if d and d["kind"] == "Secret"}
    jobs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(
        (project / "k8s" / "jobs.yaml").read_text()) if d}
    try:
        for service in ("launch", "orders", "geo", "telemetry"):
            names = secrets[f"{service}-env"]["stringData"]
            local = env(stack, service)
            assert set(names) == set(local), service
            args = jobs[f"{service}-migrate"]["spec"]["template"]["spec"]["containers"][0][
                "args"]
            variables = [a for n in sorted(names) for a in ("-e", f"{n}={local[n]}")]
            ran = subprocess.run(["docker", "run", "--rm", "--network", "host", *variables,
                                  tag, *args], capture_output=True, text=True, timeout=300,
                                 check=False)
            out = ran.stdout + ran.stderr
            assert ran.returncode == 0, out
            assert out.splitlines()[-1] == f"{service}: up to date", out
            assert " applied " not in out and "seeded" not in out, out
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)
    assert_all_seeded(stack)


# -- snapshots, dump, diff, watch (issue 28) -------------------------------------------------------


def test_snapshot_save_and_restore_of_real_data_with_pg_cron_valkey_and_timescaledb(
        stack: CopiedStack) -> None:
    """orders: pg_cron (one database only), PgBouncer, Valkey, a replicated server;
    telemetry: a hypertable on TimescaleDB, whose scheduler holds a session on the database;
    launch: the launch design, read by orders (`reads`)."""
    run(stack, "snapshot", "save", "launch", "real-data")
    query(stack, "launch", "INSERT INTO tenants (slug) VALUES ('after-snapshot')")
    run(stack, "snapshot", "restore", "launch", "real-data")
    reader = env(stack, "orders")["DATABASE_DIRECT_URL"].rsplit("/", 1)[0] + "/launch_dev"
    assert one(stack, "orders", "SELECT count(*) FROM tenants", url=reader) == 3
    assert one(stack, "launch", "SELECT count(*) FROM partman.part_config") >= 1
    run(stack, "snapshot", "rm", "launch", "real-data")
    query(stack, "orders", "INSERT INTO orders (email, total) VALUES ('snap@example.com', 1)")
    query(stack, "telemetry", "INSERT INTO readings VALUES ('snap', now(), 1)")
    keys = redis.Redis.from_url(env(stack, "orders")["REDIS_URL"])
    keys.set("orders:cart", "three items")
    for service in ("orders", "telemetry"):
        run(stack, "snapshot", "save", service, "real-data")
    query(stack, "orders", "DELETE FROM orders")
    query(stack, "telemetry", "DELETE FROM readings")
    keys.delete("orders:cart")
    query(stack, "launch", "CREATE TABLE matrix_marker_snapshot (id int)")
    listed = json.loads(run(stack, "status", "--json").stdout)["snapshots"]
    assert {(s["service"], s["name"]) for s in listed} == {("orders", "real-data"),
                                                           ("telemetry", "real-data")}
    assert "dropped 0 clone(s)" in run(stack, "db", "prune").stdout  # snapshots are no clones
    for service in ("orders", "telemetry"):
        run(stack, "snapshot", "restore", service, "real-data")
    assert one(stack, "orders", "SELECT count(*) FROM orders", key="DATABASE_URL") == 3
    assert one(stack, "orders", "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'") == 1
    assert one(stack, "orders", "SELECT count(*) FROM orders",
               key="DATABASE_READONLY_DIRECT_URL") == 3  # replayed before restore returned
    assert keys.get("orders:cart") == b"three items"
    assert one(stack, "telemetry", "SELECT count(*) FROM readings WHERE device = 'snap'") == 1
    assert one(stack, "launch", "SELECT to_regclass('matrix_marker_snapshot') IS NOT NULL")
    query(stack, "launch", "DROP TABLE matrix_marker_snapshot")
    for service in ("orders", "telemetry"):
        run(stack, "snapshot", "rm", service, "real-data")
    assert json.loads(run(stack, "snapshot", "list", "--json").stdout) == []
    run(stack, "reset", "orders", "telemetry")
    keys.delete("orders:cart")
    assert_all_seeded(stack)


def test_db_dump_with_the_servers_own_pg_dump(stack: CopiedStack) -> None:
    out = stack.root / "launch.sql"
    result = run(stack, "db", "dump", "launch", "-o", str(out))
    text = out.read_text()
    assert "CREATE TABLE public.tenants" in text and "COPY public.tenants" in text, text[:2000]
    assert "pg_dump 18 of container" in result.stdout or "host's pg_dump" in result.stdout
    schema = run(stack, "db", "dump", "geo", "--schema-only").stdout
    assert "CREATE TABLE public.places" in schema and "COPY" not in schema
    out.unlink()


def test_db_diff_finds_a_hand_made_change(stack: CopiedStack) -> None:
    for service in ("orders", "telemetry"):
        clean = run(stack, "db", "diff", service, ok=False)
        assert clean.code == 0, clean.explain()
    query(stack, "orders", "ALTER TABLE orders ADD COLUMN hand_made text")
    changed = run(stack, "db", "diff", "orders", ok=False)
    assert changed.code == 1, changed.explain()
    assert "+    hand_made text" in changed.stdout, changed.stdout
    query(stack, "orders", "ALTER TABLE orders DROP COLUMN hand_made")
    assert json.loads(run(stack, "db", "list", "--json").stdout) == []  # its scratch is gone


def test_up_watch_applies_a_new_migration_file(stack: CopiedStack) -> None:
    folder = stack.root / "migrations" / "orders"
    process = subprocess.Popen(
        [sys.executable, "-m", "devenv.cli", "up", "orders", "--watch"], cwd=stack.root,
        env={k: v for k, v in {**os.environ, **ENV, "PYTHONUNBUFFERED": "1"}.items()
             if k != "DEVENV_FILE"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen: list[str] = []

    def wait_for(text: str) -> None:
        assert process.stdout is not None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and (line := process.stdout.readline()):
            seen.append(line)
            if text in line:
                return
        raise AssertionError(f"{text!r} not in:\n{''.join(seen)}")

    try:
        wait_for("watching migrations/orders")
        (folder / "000004_create_refunds.down.sql").write_text("DROP TABLE refunds;\n")
        (folder / "000004_create_refunds.up.sql").write_text("CREATE TABLE refunds (id int);\n")
        wait_for("orders: up to date")
        assert one(stack, "orders", "SELECT count(*) FROM refunds") == 0
        os.killpg(process.pid, signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, "".join(seen) + rest
    assert "stopped watching; the stack is still up" in rest
    run(stack, "rollback", "orders")
    for path in folder.glob("000004_*"):
        path.unlink()
    run(stack, "validate")
def test_serve_tests_gives_extension_services_databases_through_integresqls_api(
        stack: CopiedStack) -> None:
    """`devenv serve-tests` (issue 31): launch's golden template by its documented hash, and a
    template a client initialises as orders (its extensions there), each test database owned
    by the service's own role, on the server itself (never PgBouncer)."""
    api = Api(stack, "--service", "orders")
    try:
        code, got = api.call("GET", "/api/v1/templates/devenv-launch/tests")
        assert code == 200, got
        config = got["database"]["config"]
        launch = env(stack, "launch")
        assert config["username"] == launch["PGUSER"] and config["port"] == stack.ports["core"]
        url = (f"postgresql://{config['username']}:{config['password']}@{config['host']}:"
               f"{config['port']}/{config['database']}")
        assert one(stack, "launch", "SELECT count(*) FROM tenants", url=url) == 3
        assert one(stack, "launch", "SELECT count(*) FROM partman.part_config", url=url) >= 1
        assert one(stack, "launch", "SELECT pg_get_userbyid(datdba) FROM pg_database "
                                    "WHERE datname = current_database()", url=url) == \
            launch["PGUSER"]
        # a client's own template, as orders: migrated by the client, citext already there
        code, made = api.call("POST", "/api/v1/templates", {"hash": "matrix-orders"})
        assert code == 200, made
        tpl = made["database"]["config"]
        assert tpl["username"] == env(stack, "orders")["PGUSER"]
        tpl_url = (f"postgresql://{tpl['username']}:{tpl['password']}@{tpl['host']}:"
                   f"{tpl['port']}/{tpl['database']}")
        query(stack, "orders", "CREATE TABLE tags (name citext PRIMARY KEY); "
                               "INSERT INTO tags VALUES ('Seed')", url=tpl_url)
        assert api.call("PUT", "/api/v1/templates/matrix-orders") == (204, None)
        code, test = api.call("GET", "/api/v1/templates/matrix-orders/tests")
        assert code == 200, test
        cfg = test["database"]["config"]
        test_url = (f"postgresql://{cfg['username']}:{cfg['password']}@{cfg['host']}:"
                    f"{cfg['port']}/{cfg['database']}")
        assert one(stack, "orders", "SELECT count(*) FROM tags WHERE name = 'seed'",
                   url=test_url) == 1  # citext: case-insensitive
        assert one(stack, "orders", "SELECT current_user", url=test_url) == tpl["username"]
        time.sleep(1)  # the state file follows within half a second
        state = stack.status()["test_api"]
        assert {t["service"] for t in state["templates"]} >= set(SERVICES)
    finally:
        code, err = api.stop()
    assert code == 0, err
    assert stack.status()["test_api"] is None


def test_down_then_up_keeps_volume_data_and_reseeds_tmpfs(stack: CopiedStack) -> None:
    query(stack, "launch", "INSERT INTO tenants (slug) VALUES ('kept')")
    query(stack, "geo", "INSERT INTO places (name, location, embedding) VALUES "
                        "('Tmpfs', ST_GeogFromText('POINT(0 0)'), '[0,0,1]')")
    run(stack, "down")
    run(stack, "up")
    assert one(stack, "launch", "SELECT count(*) FROM tenants WHERE slug = 'kept'") == 1
    assert seeded(stack, "geo") == 2  # in memory: provisioned, migrated and seeded again
    assert one(stack, "orders", "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'") == 1
    query(stack, "launch", "DELETE FROM tenants WHERE slug = 'kept'")


def test_pg_cron_jobs_and_pg_partmans_worker_run_as_the_service_role(
        stack: CopiedStack) -> None:
    """Issue 27 item 18: a job orders schedules runs as orders_svc; pg_partman's worker logs in
    as launch_svc in launch's database only (it ran as the superuser there). pg_partman 5.5,
    PostgreSQL 18's package, logs its runs at DEBUG1 only: test_attacks_low watches one run on
    17's 5.2, which logs them."""
    query(stack, "orders", "CREATE TABLE matrix_cron_runs (who text DEFAULT current_user); "
                           "SELECT cron.schedule('matrix-who', '1 seconds', "
                           "'INSERT INTO matrix_cron_runs DEFAULT VALUES')")
    deadline = time.monotonic() + 30
    while one(stack, "orders", "SELECT count(*) FROM matrix_cron_runs") == 0:
        assert time.monotonic() < deadline, "the cron job did not run"
        time.sleep(0.5)
    assert query(stack, "orders", "SELECT DISTINCT who FROM matrix_cron_runs") == [
        ("orders_svc",)]
    query(stack, "orders", "SELECT cron.unschedule('matrix-who'); DROP TABLE matrix_cron_runs")
    assert one(stack, "launch", "SHOW pg_partman_bgw.role") == "launch_svc"
    assert one(stack, "launch", "SHOW pg_partman_bgw.dbname") == "launch_dev"
    logs = run(stack, "logs", "core", "--tail", "2000").stdout
    assert "initialized with role launch_svc" in logs, logs[-2000:]
    assert "with role postgres" not in logs and "no available background worker" not in logs


def test_down_volumes_removes_everything(stack: CopiedStack) -> None:
    volumes = stack.volumes()
    said = run(stack, "down", "--volumes", "--yes").stdout
    assert volumes and "data volumes removed: " in said, said
    assert all(v in said for v in volumes), (volumes, said)
    assert stack.volumes() == []
    assert stack.containers() == {}
    again = run(stack, "down", "--volumes", "--yes").stdout
    assert "no data volume to remove" in again and "removed" not in again, again
    print(f"\nmatrix: {len(FEATURES)} features x {len(OPERATIONS)} operations")


OPERATIONS = ("cold up", "warm up", "up SERVICE", "status", "ps", "logs", "doctor",
              "migrate --to", "rollback", "validate", "repair", "seed --force", "reset",
              "reset with a broken template",
              "reset --hard", "db clone", "db drop", "db prune", "db list",
              "pytest plugin", "pytest plugin -n 2", "generate --check",
              "export kubernetes", "--version", "export kubernetes: migrate image",
              "down + up", "down --volumes", "plan", "up --plan", "url",
              "migration new", "migrate after migration new", "generate .env.example",
              "snapshot save/restore/list/rm", "db dump", "db diff", "up --watch",
              "redis kill-script", "devenv ui", "serve-tests")


# -- export kubernetes, read as CloudNativePG reads it (issue 26) -------------------------------
# After the grid: these read the manifest and the migrations folders only, not the running stack.

# examples/all as a team takes it to CloudNativePG (tests/model/test_kubernetes.py ALL_ON_CNPG):
# core on an operand image it built with pg_partman, pg_cron and pg_repack, legacy on 18.
CNPG_IMAGES = {"image: postgres:18\n": "image: ghcr.io/acme/cnpg-postgres:18-launch\n",
               "image: postgres:17\n": "image: postgres:18\n"}


def export(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DEVENV_FILE"}
    return subprocess.run([sys.executable, "-m", "devenv.cli", "export", "kubernetes", *args],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def copy_manifest(root: Path, replace: dict[str, str]) -> None:
    text = (ALL / "devenv.yaml").read_text()
    for old, new in replace.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    (root / "devenv.yaml").write_text(text)
    for folder in ("migrations", "seeds"):
        shutil.copytree(ALL / folder, root / folder)


def test_export_kubernetes_names_what_no_cloudnativepg_image_carries(tmp_path: Path) -> None:
    """As committed: core's pg_partman, pg_repack and pg_cron have no CNPG image; its
    timescaledb has one (timescaledb-oss, mounted on PostgreSQL 18), so it is not refused."""
    copy_manifest(tmp_path, {})
    done = export(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if "extension '" in line]
    assert [line.split("extension '", 1)[1].split("'", 1)[0] for line in lines] == [
        "pg_partman", "pg_repack", "pg_cron"], done.stderr
    assert all(line.startswith(("error: devenv.yaml:", "devenv.yaml:")) for line in lines)
    assert not (tmp_path / "k8s").exists()


def test_export_kubernetes_of_examples_all_on_cnpg_images(tmp_path: Path) -> None:
    """Every export behaviour CNPG's source asked for, on the all-features stack, through the
    command: the ro Pooler for the pooled services of the server with a replica, the pg_hba
    rule instead of a REVOKE on `postgres`, pg_cron in background workers, the managed
    extensions' parameters, PostGIS from CNPG's extension image; `--check` clean after it."""
    copy_manifest(tmp_path, CNPG_IMAGES)
    done = export(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    check = export(tmp_path, "--check")
    assert check.returncode == 0, check.stderr
    folder = tmp_path / "k8s"
    docs = [d for f in sorted(folder.glob("*.yaml")) if f.name != "kustomization.yaml"
            for d in yaml.safe_load_all(f.read_text()) if d]
    named = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    core = named[("Cluster", "core")]["spec"]
    assert core["instances"] == 2
    assert core["postgresql"]["pg_hba"] == ["host postgres launch_svc,orders_svc all reject"]
    assert "postInitSQL" not in core["bootstrap"]["initdb"]
    params = core["postgresql"]["parameters"]
    assert params["cron.use_background_workers"] == "on"
    assert params["cron.database_name"] == "orders_dev"
    assert params["pgaudit.log"] == "none" and params["pg_stat_statements.track"] == "top"
    ro = named[("Pooler", "pool-core-ro")]["spec"]
    assert (ro["type"], ro["cluster"]["name"]) == ("ro", "core")
    legacy = named[("Cluster", "legacy")]["spec"]["postgresql"]["extensions"]
    assert [e["image"]["reference"].split(":")[0] for e in legacy] == [
        "ghcr.io/cloudnative-pg/postgis-extension"]
    secrets = {d["metadata"]["name"]: d["stringData"]
               for d in yaml.safe_load_all((folder / "secrets.yaml").read_text()) if d}
    for service in ("launch", "orders"):
        assert secrets[f"{service}-env"]["DATABASE_READONLY_URL"].endswith(
            f"@pool-core-ro:5432/{service}_dev")
    assert (folder / "images" / "migrate" / "app" / "migrations" / "launch").is_dir()
