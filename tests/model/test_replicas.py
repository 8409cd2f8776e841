"""Read replicas in the pure model: compose services, passwords, env variables, name checks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from devenv.errors import DevenvError
from devenv.model import facts
from devenv.model.credentials import Secrets, needed
from devenv.model.kinds.pgbouncer import config_text
from devenv.model.manifest import parse
from devenv.model.render import compose_data, state_files
from devenv.model.replicas import primary_conninfo
from devenv.model.resolve import resolve
from devenv.model.stack import Stack, as_manifest


def stack_of(text: str, *, replicas: int = 1, image: str = "postgres:17") -> Stack:
    body = textwrap.dedent(text or f"""
        project: rep
        servers:
          db: {{kind: postgres, image: "{image}", port: 7000, replicas: {replicas},
               replica_delay: 500ms}}
        services:
          app: {{postgres: true}}
          other: {{postgres: true, reads: [app]}}
    """)
    manifest, located = parse(body)
    return resolve(manifest, located, root=Path("/project"))


def secrets_for(stack: Stack) -> Secrets:
    return Secrets({key: f"pw-{key.replace('/', '-')}" for key in needed(stack)})


@pytest.mark.parametrize(("image", "mount"), [("postgres:17", "/var/lib/postgresql/data"),
                                              ("postgres:18", "/var/lib/postgresql")])
def test_each_replica_is_a_service_of_the_same_image_with_its_own_volume(
        image: str, mount: str) -> None:
    stack = stack_of("", replicas=2, image=image)
    data = compose_data(stack)
    primary, replica = data["services"]["db"], data["services"]["db-replica-2"]
    assert replica["image"] == primary["image"] == image
    assert replica["volumes"] == [f"db-replica-2-data:{mount}"]
    assert "db-replica-2-data" in data["volumes"]
    assert replica["entrypoint"][:2] == ["sh", "-c"]
    script = replica["entrypoint"][2]
    # the image's own entrypoint runs after PGDATA holds the clone; $ escaped for Compose
    assert "pg_basebackup" in script and "exec docker-entrypoint.sh" in script
    assert "$$PGDATA" in script and "${" not in script.replace("$$", "")
    assert replica["environment"]["DEVENV_SLOT"] == "devenv_replica_2"
    assert replica["command"][: len(primary["command"])] == primary["command"]
    assert "hot_standby=on" in replica["command"]
    assert "recovery_min_apply_delay=500ms" in replica["command"]
    # Unset before any `up`: Docker picks a free port, so the committed file works on its own.
    assert replica["ports"] == ["127.0.0.1:${DEVENV_PORT_DB_REPLICA_2:-}:5432"]
    assert replica["secrets"] == ["db-admin-password", "db-replication-password"]
    assert replica["labels"]["dev.devenv.server"] == "db-replica-2"
    assert replica["labels"]["dev.devenv.replica-of"] == "db"


def test_the_replication_role_has_its_own_password_in_a_secret_file() -> None:
    stack = stack_of("")
    assert "db/devenv_replicator" in needed(stack)
    files = state_files(stack, secrets_for(stack), {"db-replica-1": 7001})
    secret = Path(".devenv/secrets/db/replication-password")
    assert files[secret] == "pw-db-devenv_replicator"
    assert "DEVENV_PORT_DB_REPLICA_1=7001\n" in files[Path(".devenv/compose.env")]


def test_no_replicas_no_readonly_variables() -> None:
    stack = stack_of("", replicas=0)
    variables = facts.env_vars(stack, stack.services["app"], secrets_for(stack), {})
    assert not any("READONLY" in k for k in variables)
    assert "db-replica-1" not in compose_data(stack)["services"]


def test_one_replica_gives_a_plain_url_several_a_multi_host_one() -> None:
    stack = stack_of("")
    one = facts.env_vars(stack, stack.services["app"], secrets_for(stack), {"db-replica-1": 7001})
    assert one["DATABASE_READONLY_URL"] == "postgresql://app:pw-db-app@127.0.0.1:7001/app"
    assert (one["PGHOST_READONLY"], one["PGPORT_READONLY"]) == ("127.0.0.1", "7001")
    stack = stack_of("", replicas=2)
    two = facts.env_vars(stack, stack.services["other"], secrets_for(stack),
                         {"db-replica-1": 7001, "db-replica-2": 7002})
    assert two["DATABASE_READONLY_URL"] == (
        "postgresql://other:pw-db-other@127.0.0.1:7001,127.0.0.1:7002/other"
        "?target_session_attrs=prefer-standby")
    assert two["PGPORT_READONLY"] == "7001,7002"


def test_a_server_named_like_a_replica_is_refused() -> None:
    with pytest.raises(DevenvError, match="replica 'db-replica-1' would have the name"):
        stack_of("""
            project: rep
            servers:
              db: {kind: postgres, replicas: 1}
              db-replica-1: {kind: postgres}
            services:
              app: {postgres: db}
        """)


def test_the_replication_role_is_reserved() -> None:
    with pytest.raises(DevenvError, match="read replicas stream as"):
        stack_of("""
            project: rep
            servers:
              db: {kind: postgres, replicas: 1}
            services:
              app: {postgres: db, role: devenv_replicator}
        """)


def test_replica_delay_must_be_a_duration() -> None:
    with pytest.raises(DevenvError, match="replica_delay"):
        stack_of("""
            project: rep
            servers:
              db: {kind: postgres, replicas: 1, replica_delay: soon}
            services:
              app: {postgres: db}
        """)


POOLED = """
    project: rep
    servers:
      db: {kind: postgres, port: 7000, replicas: 2}
      pool: {kind: pgbouncer, port: 6400}
    services:
      app: {postgres: true, pgbouncer: true}
      solo: {postgres: true, pgbouncer: false}
"""
TWO_REPLICAS = {"db-replica-1": 7001, "db-replica-2": 7002}


def test_a_pooled_service_reads_through_its_own_pgbouncer_entry_on_the_replicas() -> None:
    stack = stack_of(POOLED)
    ini = config_text(stack.servers["pool"], stack)
    assert "app = host=db port=5432 dbname=app\n" in ini
    assert "app_readonly = host=db-replica-1,db-replica-2 port=5432 dbname=app\n" in ini
    assert "solo" not in ini, "an unpooled service has no entry, read-only or not"
    app = facts.env_vars(stack, stack.services["app"], secrets_for(stack), TWO_REPLICAS)
    assert app["DATABASE_READONLY_URL"] == "postgresql://app:pw-db-app@127.0.0.1:6400/app_readonly"
    assert app["DATABASE_READONLY_DIRECT_URL"] == (
        "postgresql://app:pw-db-app@127.0.0.1:7001,127.0.0.1:7002/app"
        "?target_session_attrs=prefer-standby")
    assert (app["PGHOST_READONLY"], app["PGPORT_READONLY"]) == ("127.0.0.1,127.0.0.1",
                                                                "7001,7002")
    solo = facts.env_vars(stack, stack.services["solo"], secrets_for(stack), TWO_REPLICAS)
    assert solo["DATABASE_READONLY_URL"] == solo["DATABASE_READONLY_DIRECT_URL"]


def test_a_clone_reads_its_replicas_directly_it_has_no_pgbouncer_entry() -> None:
    stack = stack_of(POOLED)
    clone = facts.env_vars(stack, stack.services["app"], secrets_for(stack), TWO_REPLICAS,
                           database="app_clone_1")
    assert clone["DATABASE_READONLY_URL"] == clone["DATABASE_READONLY_DIRECT_URL"]
    assert "@127.0.0.1:7001,127.0.0.1:7002/app_clone_1?" in clone["DATABASE_READONLY_URL"]


def test_no_replicas_no_readonly_pgbouncer_entry() -> None:
    stack = stack_of(POOLED.replace("replicas: 2", "replicas: 0"))
    assert "_readonly" not in config_text(stack.servers["pool"], stack)


def test_multi_host_url_quotes_each_part_and_brackets_ipv6() -> None:
    url = facts.pg_multi_url("a@b", "p/w:?", [("::1", 7001), ("127.0.0.1", 7002)], "d b",
                             {"target_session_attrs": "prefer-standby"})
    assert url == ("postgresql://a%40b:p%2Fw%3A%3F@[::1]:7001,127.0.0.1:7002/d%20b"
                   "?target_session_attrs=prefer-standby")


def test_a_database_named_like_a_readonly_entry_is_refused() -> None:
    with pytest.raises(DevenvError, match="'app_readonly' is the name of the PgBouncer entry for "
                       "the reads of service 'app' on its server's replicas"):
        stack_of(POOLED.replace("solo: {postgres: true, pgbouncer: false}",
                                "solo: {postgres: true, pgbouncer: true, database: app_readonly}"))


def test_primary_conninfo_names_the_primary_and_quotes_its_values() -> None:
    stack = stack_of("")
    assert primary_conninfo(stack.servers["db"], "it's\\x") == (
        "host='db' port=5432 user='devenv_replicator' password='it\\'s\\\\x'")


# -- a replica's host port set in the manifest (issue 24) ---------------------------------------
FIXED = """
    project: rep
    servers:
      db:
        kind: postgres
        port: 7000
        replicas:
          - port: 7201
          - port: auto
    services:
      app: {postgres: true}
"""


def test_a_replica_port_in_the_manifest_is_published_and_in_the_env() -> None:
    stack = stack_of(FIXED)
    assert stack.servers["db"].replicas == 2
    services = compose_data(stack)["services"]
    assert services["db-replica-1"]["ports"] == ["127.0.0.1:7201:5432"]
    assert services["db-replica-2"]["ports"] == ["127.0.0.1:${DEVENV_PORT_DB_REPLICA_2:-}:5432"]
    # only the auto one is chosen at `up` and goes into compose.env
    env = state_files(stack, secrets_for(stack), {"db-replica-2": 7202})[
        Path(".devenv/compose.env")]
    assert "DEVENV_PORT_DB_REPLICA_2=7202\n" in env
    assert "DB_REPLICA_1" not in env
    got = facts.env_vars(stack, stack.services["app"], secrets_for(stack), {"db-replica-2": 7202})
    assert (got["PGHOST_READONLY"], got["PGPORT_READONLY"]) == ("127.0.0.1,127.0.0.1",
                                                                "7201,7202")


def test_a_count_of_replicas_and_a_list_of_auto_ports_are_the_same_stack() -> None:
    counted = stack_of("", replicas=2)
    listed = stack_of(textwrap.dedent("""
        project: rep
        servers:
          db: {kind: postgres, image: "postgres:17", port: 7000, replica_delay: 500ms,
               replicas: [{port: auto}, {}]}
        services:
          app: {postgres: true}
          other: {postgres: true, reads: [app]}
    """))
    assert listed == counted


def error_of(text: str) -> str:
    with pytest.raises(DevenvError) as caught:
        stack_of(text)
    return str(caught.value)


HINT = "Hint: fix devenv.yaml; no file was changed"


def test_a_replica_port_taken_by_a_server_is_a_located_error() -> None:
    assert error_of("""
        project: rep
        servers:
          db:
            kind: postgres
            port: 7000
            replicas:
              - port: 7100
          cache: {kind: redis, port: 7100}
        services:
          app: {postgres: true}
    """) == ("devenv.yaml:9: servers.cache.port: host port 7100 is already used by replica "
             f"'db-replica-1'; give each server and replica its own port\n{HINT}")


def test_a_replica_port_taken_by_its_primary_or_another_replica_is_a_located_error() -> None:
    assert error_of("""
        project: rep
        servers:
          db:
            kind: postgres
            port: 7000
            replicas:
              - port: 7000
              - port: 7300
              - port: 7300
        services:
          app: {postgres: true}
    """) == (
        "devenv.yaml:8: servers.db.replicas.0.port: host port 7000 is already used by server "
        "'db'; give each server and replica its own port\n"
        "devenv.yaml:10: servers.db.replicas.2.port: host port 7300 is already used by replica "
        f"'db-replica-2'; give each server and replica its own port\n{HINT}")


def test_a_default_server_port_counts_up_past_a_replica_port() -> None:
    stack = stack_of("""
        project: rep
        servers:
          db: {kind: postgres, port: 7000, replicas: [{port: 6379}]}
        services:
          app: {postgres: true, redis: true}
    """)
    assert stack.servers["redis"].port == 6380


@pytest.mark.parametrize(("replicas", "message"), [
    ("[{port: 0}]", "devenv.yaml:4: servers.db.replicas.0.port: expected a port number from 1 "
                    "to 65535, or 'auto'"),
    ("[{prot: 7201}]", "devenv.yaml:4: servers.db.replicas.0.prot: unknown key 'prot' (did you "
                       "mean 'port'?); allowed: port"),
    ("9", "devenv.yaml:4: servers.db.replicas: expected a number of replicas from 0 to 8, or "
          "a list of up to 8 such as [{port: 7201}, {port: auto}]"),
    ("[7201]", "devenv.yaml:4: servers.db.replicas.0: expected a mapping"),
])
def test_a_bad_replicas_entry_is_a_located_error(replicas: str, message: str) -> None:
    assert error_of(f"""
        project: rep
        servers:
          db: {{kind: postgres, port: 7000, replicas: {replicas}}}
        services:
          app: {{postgres: true}}
    """) == f"{message}\n{HINT}"


def test_config_prints_replica_ports_as_a_manifest_that_resolves_the_same() -> None:
    stack = stack_of(FIXED)
    printed = as_manifest(stack)["servers"]
    assert isinstance(printed, dict)
    assert printed["db"]["replicas"] == [{"port": 7201}, {"port": "auto"}]
    again = parse(yaml.safe_dump(as_manifest(stack)))
    server = resolve(*again, root=Path("/project")).servers["db"]
    assert (server.replicas, server.replica_ports) == (2, (7201, None))
    # every port auto: the count, as it was written
    assert as_manifest(stack_of("", replicas=2))["servers"]["db"]["replicas"] == 2  # type: ignore[index]
