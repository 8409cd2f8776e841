"""Stack resolution: every cross-reference error by its whole message, and the defaults."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from devenv.errors import DevenvError
from devenv.model import extensions
from devenv.model.manifest import parse
from devenv.model.resolve import load_stack, resolve
from devenv.model.stack import Stack
from tests.committed import committed_stack

REPO = Path(__file__).resolve().parents[2]
HINT = "Hint: fix devenv.yaml; no file was changed"


def stack_of(text: str) -> Stack:
    manifest, located = parse(textwrap.dedent(text).lstrip("\n"), source="devenv.yaml")
    return resolve(manifest, located, root=Path("/project"))


def error_of(text: str) -> str:
    with pytest.raises(DevenvError) as caught:
        stack_of(text)
    return str(caught.value)


# -- references ---------------------------------------------------------------------------


def test_reference_to_a_missing_server_lists_the_database_servers() -> None:
    message = error_of("""
        project: demo
        servers:
          db:
            kind: postgres
          cache:
            kind: redis
        services:
          auth:
            postgres: main
    """)
    assert message == (
        "devenv.yaml:9: services.auth.postgres: no server named 'main' "
        f"(postgres/timescaledb servers: db)\n{HINT}"
    )


def test_reference_to_a_missing_redis_server() -> None:
    message = error_of("""
        project: demo
        servers:
          cache:
            kind: redis
        services:
          auth:
            redis: sessions
    """)
    assert message == (
        "devenv.yaml:7: services.auth.redis: no server named 'sessions' "
        "(redis/valkey servers: cache)\n"
        f"{HINT}"
    )


def test_reads_of_a_missing_service_lists_the_others() -> None:
    message = error_of("""
        project: demo
        services:
          auth:
            postgres: true
            reads: [users]
          billing:
            postgres: true
    """)
    assert message == (
        f"devenv.yaml:5: services.auth.reads.0: no service named 'users' (services: billing)\n"
        f"{HINT}"
    )


def test_reads_of_itself() -> None:
    message = error_of("""
        project: demo
        services:
          auth:
            postgres: true
            reads:
              - auth
    """)
    assert message == (
        f"devenv.yaml:6: services.auth.reads.0: a service always reads its own database\n{HINT}"
    )


def test_reads_of_a_service_without_database() -> None:
    message = error_of("""
        project: demo
        services:
          auth:
            postgres: true
            reads: [cache]
          cache:
            redis: true
    """)
    assert message == (
        f"devenv.yaml:5: services.auth.reads.0: service 'cache' has no database\n{HINT}"
    )


def test_database_on_a_redis_server() -> None:
    message = error_of("""
        project: demo
        servers:
          db:
            kind: postgres
          redis:
            kind: redis
        services:
          auth:
            postgres: redis
    """)
    assert message == (
        "devenv.yaml:9: services.auth.postgres: 'redis' is a redis server, not a postgres server "
        f"(postgres/timescaledb servers: db)\n{HINT}"
    )


def test_pgbouncer_reference_to_a_redis_server() -> None:
    message = error_of("""
        project: demo
        servers:
          cache:
            kind: redis
        services:
          auth:
            postgres: true
            pgbouncer: cache
    """)
    assert message == (
        "devenv.yaml:8: services.auth.pgbouncer: 'cache' is a redis server, not a pgbouncer "
        f"server (pgbouncer servers: none)\n{HINT}"
    )


def test_pgbouncer_target_on_a_redis_server() -> None:
    message = error_of("""
        project: demo
        servers:
          db:
            kind: postgres
          cache:
            kind: redis
          pool:
            kind: pgbouncer
            target: cache
        services:
          auth:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:9: servers.pool.target: 'cache' is a redis server; PgBouncer pools a "
        f"postgres or timescaledb server\n{HINT}"
    )


def test_pgbouncer_target_missing() -> None:
    message = error_of("""
        project: demo
        servers:
          db:
            kind: postgres
          pool:
            kind: pgbouncer
            target: dbx
        services:
          auth:
            postgres: true
    """)
    assert message == (
        f"devenv.yaml:7: servers.pool.target: no server named 'dbx' (servers: db, pool)\n{HINT}"
    )


def test_pgbouncer_that_pools_another_server() -> None:
    message = error_of("""
        project: demo
        servers:
          a:
            kind: postgres
          b:
            kind: postgres
          pool:
            kind: pgbouncer
            target: a
        services:
          auth:
            postgres: b
            pgbouncer: pool
    """)
    assert message == (
        "devenv.yaml:13: services.auth.pgbouncer: 'pool' pools only server 'a', but the "
        f"service's database is on 'b'\n{HINT}"
    )


def test_two_servers_on_one_host_port() -> None:
    message = error_of("""
        project: demo
        servers:
          db:
            kind: postgres
            port: 7000
          cache:
            kind: redis
            port: 7000
        services:
          auth:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:8: servers.cache.port: host port 7000 is already used by server 'db'; "
        f"give each server its own port\n{HINT}"
    )


def test_timescaledb_on_a_postgres_server_is_built_in_and_preloaded() -> None:
    """The launch design: timescaledb beside pgaudit, pg_partman and pg_repack in one
    database. The Alpine timescale image cannot be given them; the official one can."""
    stack = stack_of("""
        project: demo
        servers:
          main: {kind: postgres, image: "postgres:17"}
        services:
          launch:
            postgres: main
            extensions: [pg_stat_statements, pg_partman, pgaudit, pg_repack, timescaledb]
    """)
    main = stack.servers["main"]
    assert extensions.packages(stack, main) == [
        "postgresql-{major}-partman", "postgresql-{major}-pgaudit", "postgresql-{major}-repack",
        "postgresql-{major}-timescaledb"]
    assert main.preload == ("timescaledb", "pg_stat_statements", "pgaudit", "pg_partman_bgw")


def test_an_extension_the_timescale_image_lacks_says_what_to_set_instead() -> None:
    message = error_of("""
        project: demo
        servers:
          ts: {kind: timescaledb}
        services:
          launch:
            postgres: ts
            extensions: [timescaledb, pgaudit]
    """)
    assert message == (
        "devenv.yaml:7: services.launch.extensions.1: extension 'pgaudit' is not in image "
        "timescale/timescaledb:latest-pg18 (Alpine: devenv cannot add packages to it). For "
        "timescaledb and pgaudit in one database, put this service on a `kind: postgres` server "
        "and list timescaledb among its extensions: devenv builds both into the official image "
        "(TimescaleDB's Apache-2 edition); or set servers.ts.image to an image that ships "
        f"pgaudit\n{HINT}")


def test_a_typo_in_an_extension_gets_its_close_match_before_any_file_is_written() -> None:
    message = error_of("""
        project: demo
        services:
          orders:
            postgres: true
            extensions: [pg_partmann]
    """)
    assert message == (
        "devenv.yaml:5: services.orders.extensions.0: extension 'pg_partmann' is not in image "
        f"postgres:18 and devenv cannot build it in; did you mean 'pg_partman'?\n{HINT}")


def test_an_unknown_extension_lists_what_devenv_builds_in() -> None:
    message = error_of("""
        project: demo
        services:
          orders:
            postgres: true
            extensions: [zombodb]
    """)
    assert message.startswith(
        "devenv.yaml:5: services.orders.extensions.0: extension 'zombodb' is not in image "
        "postgres:18 and devenv cannot build it in (devenv builds in: hypopg, pg_cron, ")


def test_an_image_devenv_does_not_know_is_left_to_the_image_check() -> None:
    stack = stack_of("""
        project: demo
        servers:
          pg: {kind: postgres, image: "registry.example/pg-with-everything:17"}
        services:
          orders: {postgres: pg, extensions: [zombodb]}
    """)
    assert stack.services["orders"].extensions == ("zombodb",)


def test_pg_cron_in_two_services_of_one_server_is_refused() -> None:
    message = error_of("""
        project: demo
        servers:
          pg: {kind: postgres}
          other: {kind: postgres}
        services:
          a: {postgres: pg, extensions: [pg_cron]}
          b: {postgres: pg, extensions: [citext, pg_cron]}
          c: {postgres: other, extensions: [pg_cron]}
    """)
    assert message == (
        "devenv.yaml:7: services.b.extensions.1: pg_cron lives in one database per server "
        "(cron.database_name) and services.a already has it on server 'pg'; list it in one "
        f"service only, or give this service a server of its own\n{HINT}")


def test_pg_hint_plan_is_preloaded_or_its_hints_do_nothing() -> None:
    stack = stack_of("""
        project: demo
        services:
          a: {postgres: true, extensions: [pg_hint_plan]}
    """)
    assert stack.servers["postgres"].preload == ("pg_hint_plan",)


def test_bad_extension_name() -> None:
    message = error_of("""
        project: demo
        services:
          auth:
            postgres: true
            extensions: ["uuid ossp"]
    """)
    assert message == (
        f"devenv.yaml:5: services.auth.extensions.0: 'uuid ossp' is not an extension name\n{HINT}"
    )


def test_postgres_true_with_several_database_servers() -> None:
    message = error_of("""
        project: demo
        servers:
          a:
            kind: postgres
          b:
            kind: timescaledb
        services:
          auth:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:9: services.auth.postgres: several postgres servers (a, b): name one, "
        f"e.g. 'postgres: a'\n{HINT}"
    )


def test_redis_true_with_several_redis_servers() -> None:
    message = error_of("""
        project: demo
        servers:
          r1:
            kind: redis
          r2:
            kind: redis
        services:
          auth:
            redis: true
    """)
    assert message == (
        "devenv.yaml:9: services.auth.redis: several redis/valkey servers (r1, r2): name one, "
        f"e.g. 'redis: r1'\n{HINT}"
    )


def test_postgres_true_when_the_name_postgres_is_a_redis_server() -> None:
    message = error_of("""
        project: demo
        servers:
          postgres:
            kind: redis
        services:
          auth:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:7: services.auth.postgres: no postgres server, and 'postgres' names a redis "
        f"server; declare a postgres server under 'servers' and name it here\n{HINT}"
    )


def test_redis_true_when_the_name_redis_is_a_postgres_server() -> None:
    message = error_of("""
        project: demo
        servers:
          redis:
            kind: postgres
        services:
          auth:
            postgres: true
            redis: true
    """)
    assert message == (
        "devenv.yaml:8: services.auth.redis: no redis/valkey server, and 'redis' names a "
        f"postgres server; declare a redis/valkey server under 'servers' and name it here\n{HINT}"
    )


def test_database_keys_on_a_service_without_database() -> None:
    message = error_of("""
        project: demo
        services:
          cache:
            redis: true
            database: cache
    """)
    assert message == (
        "devenv.yaml:5: services.cache.database: the service has no database; add "
        f"'postgres: true'\n{HINT}"
    )


# -- names on one server ------------------------------------------------------------------


def test_database_used_twice_on_one_server() -> None:
    message = error_of("""
        project: demo
        services:
          auth:
            postgres: true
            database: shared
          billing:
            postgres: true
            database: shared
    """)
    assert message == (
        "devenv.yaml:8: services.billing.database: database 'shared' is also used by service "
        f"'auth' on server 'postgres'\n{HINT}"
    )


def test_role_used_twice_on_one_server() -> None:
    message = error_of("""
        project: demo
        services:
          auth:
            postgres: true
            role: app
          billing:
            postgres: true
            role: app
    """)
    assert message == (
        "devenv.yaml:8: services.billing.role: role 'app' is also used by service 'auth' on "
        f"server 'postgres'\n{HINT}"
    )


def test_same_database_name_on_two_servers_is_fine() -> None:
    stack = stack_of("""
        project: demo
        servers:
          a: {kind: postgres}
          b: {kind: postgres}
        services:
          auth: {postgres: a, database: app}
          billing: {postgres: b, database: app}
    """)
    assert stack.services["auth"].database == stack.services["billing"].database == "app"


def test_role_postgres_is_reserved() -> None:
    message = error_of("""
        project: demo
        services:
          auth:
            postgres: true
            role: postgres
    """)
    assert message == f"devenv.yaml:5: services.auth.role: 'postgres' is the admin role\n{HINT}"


def test_role_devenv_is_reserved_for_the_ledger_schema() -> None:
    message = error_of("""
        project: demo
        services:
          auth:
            postgres: true
            role: devenv
    """)
    assert message == (f"devenv.yaml:5: services.auth.role: 'devenv' is the schema of devenv's "
                       f"migration ledger; give the role another name\n{HINT}")


def test_reads_across_two_servers() -> None:
    message = error_of("""
        project: demo
        servers:
          a:
            kind: postgres
          b:
            kind: postgres
        services:
          auth:
            postgres: a
            reads: [billing]
          billing:
            postgres: b
    """)
    assert message == (
        "devenv.yaml:10: services.auth.reads.0: 'billing' is on server 'b', 'auth' on 'a'; "
        f"reads need both databases on one server\n{HINT}"
    )


# -- naming and templates -----------------------------------------------------------------


def test_naming_pattern_with_unknown_placeholder_is_reported_once() -> None:
    message = error_of("""
        project: demo
        naming:
          database: '{service}_{env}'
        services:
          auth:
            postgres: true
          billing:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:3: naming.database: unknown placeholder '{env}'; placeholders: {service}, "
        f"{{project}}, {{environment}}\n{HINT}"
    )


@pytest.mark.parametrize("pattern", ["{}_user", "{service.name}"])
def test_naming_pattern_that_format_cannot_fill(pattern: str) -> None:
    message = error_of(f"""
        project: demo
        naming:
          role: '{pattern}'
        services:
          auth:
            postgres: true
    """)
    assert message == (
        f"devenv.yaml:3: naming.role: '{pattern}' is not a valid pattern; placeholders: "
        f"{{service}}, {{project}}, {{environment}}\n{HINT}"
    )


def test_naming_pattern_giving_a_bad_identifier() -> None:
    message = error_of("""
        project: demo
        naming:
          database: '{service}-db'
        services:
          auth:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:3: naming.database: 'auth-db' is not a lowercase PostgreSQL identifier "
        f"(letters a-z, digits and '_', not starting with a digit)\n{HINT}"
    )


def test_bad_jinja2_template_in_env() -> None:
    message = error_of("""
        project: demo
        services:
          auth:
            postgres: true
            env:
              DATABASE_URL: "{{ db.url "
    """)
    assert message == (
        "devenv.yaml:6: services.auth.env.DATABASE_URL: template error: unexpected end of "
        f"template, expected 'end of print statement'.\n{HINT}"
    )


def test_several_problems_are_reported_together() -> None:
    message = error_of("""
        project: demo
        services:
          auth:
            postgres: nope
            redis: nope
    """)
    assert message == (
        "devenv.yaml:4: services.auth.postgres: no server named 'nope' "
        "(postgres/timescaledb servers: none)\n"
        "devenv.yaml:5: services.auth.redis: no server named 'nope' (redis/valkey servers: none)\n"
        f"{HINT}"
    )


# -- defaults -----------------------------------------------------------------------------


def test_tiny_manifest_gets_one_postgres_and_one_redis_with_defaults() -> None:
    stack = stack_of("project: demo\nservices: {auth: {postgres: true, redis: true}}\n")
    assert stack.project == "demo"
    assert stack.environment == "dev"
    assert stack.compose_dir == Path("compose")
    assert list(stack.servers) == ["postgres", "redis"]
    pg, redis = stack.servers["postgres"], stack.servers["redis"]
    assert (pg.kind, pg.image, pg.port, pg.bind, pg.container_port) == (
        "postgres", "postgres:18", 5432, "127.0.0.1", 5432)
    assert (pg.data_dir, pg.pg_major) == ("/var/lib/postgresql", 18)
    assert pg.preload == ()
    assert (redis.kind, redis.image, redis.port, redis.bind, redis.persistence) == (
        "redis", "redis:8", 6379, "127.0.0.1", "aof")
    auth = stack.services["auth"]
    assert auth.server == "postgres"
    assert auth.redis == "redis"
    assert auth.database == "auth"
    assert auth.role == "auth"
    assert auth.pgbouncer is None
    assert auth.env_file == Path(".devenv/env/auth.env")
    assert auth.migrations is not None
    assert auth.migrations.path == Path("migrations/auth")
    assert auth.migrations.command is None
    assert auth.seeds == Path("seeds/auth")
    assert stack.migration_role is None and stack.admin_role is None


def test_default_ports_count_up_past_declared_ones() -> None:
    stack = stack_of("""
        project: demo
        servers:
          a: {kind: postgres}
          b: {kind: postgres, port: 5433}
          c: {kind: timescaledb}
        services:
          auth: {postgres: a}
    """)
    assert {n: s.port for n, s in stack.servers.items()} == {"a": 5432, "b": 5433, "c": 5434}


def test_port_auto_is_left_open() -> None:
    stack = stack_of("project: demo\nservers: {db: {kind: postgres, port: auto}}\n"
                     "services: {auth: {postgres: true}}\n")
    assert stack.servers["db"].port is None


def test_pgbouncer_true_creates_a_pool() -> None:
    stack = stack_of("project: demo\nservices: {auth: {postgres: true, pgbouncer: true}}\n")
    pool = stack.servers["pgbouncer"]
    assert (pool.kind, pool.port, pool.container_port, pool.target) == (
        "pgbouncer", 6432, 6432, None)
    assert pool.pool is not None and pool.pool.mode == "transaction"
    assert stack.services["auth"].pgbouncer == "pgbouncer"


def test_migrations_command() -> None:
    stack = stack_of("""
        project: demo
        services:
          auth:
            postgres: true
            migrations: {command: alembic upgrade head, cwd: services/auth}
    """)
    mig = stack.services["auth"].migrations
    assert mig is not None
    assert (mig.path, mig.command, mig.cwd) == (None, "alembic upgrade head", Path("services/auth"))


def test_postgres_18_image_uses_the_new_data_dir() -> None:
    stack = stack_of("project: demo\nservers: {db: {kind: postgres, image: 'postgres:18'}}\n"
                     "services: {auth: {postgres: true}}\n")
    assert stack.servers["db"].data_dir == "/var/lib/postgresql"


def test_root_capsule_manifest_resolves() -> None:
    stack = committed_stack(REPO / "devenv.yaml")
    assert stack.project == "capsule"
    assert {n: (s.kind, s.port) for n, s in stack.servers.items()} == {
        "auth-db": ("postgres", 7110),
        "deploy-db": ("postgres", 7111),
        "monitor-db": ("timescaledb", 7112),
        "billing-db": ("postgres", 7113),
        "redis": ("redis", 7120),
        "pgbouncer": ("pgbouncer", 7130),
    }
    assert stack.servers["monitor-db"].preload == ("timescaledb",)
    assert {n: (s.server, s.database, s.role, s.pgbouncer, s.redis)
            for n, s in stack.services.items()} == {
        "auth": ("auth-db", "auth", "auth", "pgbouncer", "redis"),
        "billing": ("billing-db", "billing", "billing", "pgbouncer", "redis"),
        "deploy": ("deploy-db", "deploy", "deploy", "pgbouncer", "redis"),
        "monitor": ("monitor-db", "monitor", "monitor", None, "redis"),
    }
    assert stack.services["auth"].extensions == ("citext", "pgcrypto")


def test_pcc_example_resolves() -> None:
    stack = load_stack(REPO / "examples" / "pcc" / "devenv.yaml", display="devenv.yaml")
    assert stack.project == "pcc"
    assert stack.environment == "devtest"
    assert list(stack.servers) == ["alloydb", "pgbouncer"]
    assert stack.servers["pgbouncer"].target == "alloydb"
    auth = stack.services["auth"]
    assert (auth.server, auth.database, auth.role, auth.pgbouncer, auth.reads) == (
        "alloydb", "auth_db_devtest", "auth_api_user", "pgbouncer", ("user",))
    assert {s.database for s in stack.services.values()} == {
        f"{name}_db_devtest" for name in ("auth", "client", "user", "metric_builder",
                                          "metric_tracker", "task_builder", "task_tracker")}
    assert (stack.migration_role, stack.admin_role) == ("pcc_flyway_user", "pcc_admin_user")
    assert dict(stack.servers["alloydb"].settings) == {"max_connections": "200"}


def test_a_reference_holding_a_line_break_is_reported_on_one_line() -> None:
    # Found by the fuzz test: the value was printed raw, splitting the message in two.
    message = error_of('project: x\nservices:\n  auth:\n    postgres: "a\\nb"\n')
    assert message.splitlines()[0] == (
        "devenv.yaml:4: services.auth.postgres: no server named 'a\\nb' "
        "(postgres/timescaledb servers: none)")
