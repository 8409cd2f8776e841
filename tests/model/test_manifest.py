"""Every error `manifest.parse` reports, by its whole message (line, key path, hint)."""

from __future__ import annotations

import textwrap

import pytest

from devenv.errors import DevenvError
from devenv.model.manifest import Manifest, PgBouncerServer, PostgresServer, parse

FIX_HINT = "fix devenv.yaml; no file was changed"


def error_of(text: str) -> str:
    """The message, with its hint unless it is the one every validation problem carries."""
    with pytest.raises(DevenvError) as caught:
        parse(textwrap.dedent(text).lstrip("\n"), source="devenv.yaml")
    return caught.value.message if caught.value.hint == FIX_HINT else str(caught.value)


# -- YAML level ---------------------------------------------------------------------------


def test_yaml_syntax_error_has_line_and_column() -> None:
    message = error_of("""
        project: demo
        services:
          auth:
            postgres: true
           redis: true
    """)
    assert message == (
        "devenv.yaml:5:4: YAML syntax error: expected <block end>, but found "
        "'<block mapping start>'\n"
        "Hint: check indentation and quoting around that line"
    )


def test_unclosed_flow_mapping_points_at_where_it_was_opened() -> None:
    message = error_of("""
        project: demo
        services:
          auth: {postgres: true
    """)
    assert message == (
        "devenv.yaml:4:1: YAML syntax error: expected ',' or '}', but got '<stream end>' "
        "(while parsing the flow mapping opened at line 3, column 9)\n"
        "Hint: check indentation and quoting around that line"
    )


def test_duplicate_key_points_at_the_second_one() -> None:
    message = error_of("""
        project: demo
        services:
          auth:
            postgres: true
            postgres: false
    """)
    assert message == (
        "devenv.yaml:5: services.auth.postgres: duplicate key\n"
        "Hint: remove one of the two entries"
    )


def test_duplicate_top_level_key() -> None:
    message = error_of("""
        project: demo
        project: other
        services: {}
    """)
    assert message == "devenv.yaml:2: project: duplicate key\nHint: remove one of the two entries"


def test_not_a_mapping() -> None:
    assert error_of("- auth\n") == (
        "devenv.yaml: expected a mapping with 'project' and 'services'\n"
        "Hint: start from `devenv init`"
    )


def test_empty_file() -> None:
    assert error_of("") == (
        "devenv.yaml: expected a mapping with 'project' and 'services'\n"
        "Hint: start from `devenv init`"
    )


def test_source_name_is_used_in_messages() -> None:
    with pytest.raises(DevenvError) as caught:
        parse("project: demo\n", source="examples/pcc/devenv.yaml")
    assert caught.value.message == "examples/pcc/devenv.yaml: services: required key is missing"
    assert caught.value.hint == "fix examples/pcc/devenv.yaml; no file was changed"


# -- unknown keys -------------------------------------------------------------------------


def test_unknown_key_error_has_a_hint_like_every_other() -> None:
    with pytest.raises(DevenvError) as caught:
        parse("project: demo\nservise: {}\nservices: {auth: {postgres: true}}\n")
    assert caught.value.report() == (
        "error: devenv.yaml:2: servise: unknown key 'servise' (did you mean 'services'?); "
        "allowed: project, environment, compose_dir, env_example, ports, naming, roles, "
        "servers, services\n"
        "hint: fix devenv.yaml; no file was changed\n")


def test_unknown_top_level_key() -> None:
    message = error_of("""
        project: demo
        servise: {}
        services:
          auth:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:2: servise: unknown key 'servise' (did you mean 'services'?); "
        "allowed: project, environment, compose_dir, env_example, ports, naming, roles, "
        "servers, services"
    )


def test_unknown_key_in_a_service() -> None:
    message = error_of("""
        project: demo
        services:
          auth:
            postgress: true
    """)
    assert message == (
        "devenv.yaml:4: services.auth.postgress: unknown key 'postgress' "
        "(did you mean 'postgres'?); allowed: postgres, database, role, extensions, pgbouncer, "
        "reads, redis, migrations, seeds, env_file, env"
    )


def test_unknown_key_on_a_pgbouncer_server() -> None:
    message = error_of("""
        project: demo
        servers:
          pool:
            kind: pgbouncer
            pool_mod: session
        services:
          auth:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:5: servers.pool.pool_mod: unknown key 'pool_mod' (did you mean "
        "'pool_mode'?); allowed: image, port, bind, kind, target, pool_mode, default_pool_size, "
        "min_pool_size, reserve_pool_size, max_client_conn"
    )


def test_pgbouncer_key_on_a_postgres_server() -> None:
    message = error_of("""
        project: demo
        servers:
          db:
            kind: postgres
            pool_mode: session
        services:
          auth:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:5: servers.db.pool_mode: unknown key 'pool_mode' (a pgbouncer key, not a "
        "postgres one); allowed: image, port, bind, kind, settings, data_dir, storage, "
        "tmpfs_size, clone_memory, replicas, replica_delay"
    )


def test_server_named_like_a_kind_still_gets_its_own_kinds_keys() -> None:
    # The server's name 'postgres' must not be mistaken for pydantic's union tag.
    message = error_of("""
        project: demo
        servers:
          postgres:
            kind: redis
            persistance: aof
        services:
          auth:
            redis: true
    """)
    assert message == (
        "devenv.yaml:5: servers.postgres.persistance: unknown key 'persistance' (did you mean "
        "'persistence'?); allowed: image, port, bind, kind, persistence, search"
    )


def test_unknown_key_in_migrations() -> None:
    message = error_of("""
        project: demo
        services:
          auth:
            postgres: true
            migrations:
              pth: db/migrations
    """)
    assert message == (
        "devenv.yaml:6: services.auth.migrations.pth: unknown key 'pth' (did you mean 'path'?); "
        "allowed: path, out_of_order, command, cwd"
    )


def test_unknown_key_without_a_close_match() -> None:
    message = error_of("""
        project: demo
        naming:
          db: x
        services:
          auth:
            postgres: true
    """)
    assert message == "devenv.yaml:3: naming.db: unknown key 'db'; allowed: database, role"


# -- names --------------------------------------------------------------------------------


def test_service_name_must_be_a_lowercase_identifier() -> None:
    message = error_of("""
        project: demo
        services:
          Auth-Service:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:3: services.Auth-Service: 'Auth-Service' is not a lowercase PostgreSQL "
        "identifier (letters a-z, digits and '_', not starting with a digit)"
    )


def test_service_name_must_not_start_with_a_digit() -> None:
    message = error_of("""
        project: demo
        services:
          1auth:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:3: services.1auth: '1auth' is not a lowercase PostgreSQL identifier "
        "(letters a-z, digits and '_', not starting with a digit)"
    )


def test_service_name_longer_than_63_bytes() -> None:
    name = "a" * 64
    message = error_of(f"""
        project: demo
        services:
          {name}:
            postgres: true
    """)
    assert message == (
        f"devenv.yaml:3: services.{name}: '{name}' is longer than PostgreSQL's 63-byte limit "
        "for names"
    )


def test_database_name_longer_than_63_bytes() -> None:
    name = "d" * 64
    message = error_of(f"""
        project: demo
        services:
          auth:
            postgres: true
            database: {name}
    """)
    assert message == (
        f"devenv.yaml:5: services.auth.database: '{name}' is longer than PostgreSQL's 63-byte "
        "limit for names"
    )


def test_63_byte_names_are_fine() -> None:
    name = "a" * 63
    manifest, _ = parse(f"project: demo\nservices:\n  {name}:\n    postgres: true\n")
    assert list(manifest.services) == [name]


def test_invalid_project_name() -> None:
    message = error_of("""
        project: My_Project
        services:
          auth:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:1: project: 'My_Project' is not a valid Compose name (lowercase letters, "
        "digits, '-' and '_', starting with a letter or digit)"
    )


def test_project_name_too_long() -> None:
    name = "p" * 64
    message = error_of(f"""
        project: {name}
        services:
          auth:
            postgres: true
    """)
    assert message == f"devenv.yaml:1: project: '{name}' is longer than 63 characters"


def test_invalid_server_name() -> None:
    message = error_of("""
        project: demo
        servers:
          DB_1:
            kind: postgres
        services:
          auth:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:3: servers.DB_1: 'DB_1' is not a valid Compose name (lowercase letters, "
        "digits, '-' and '_', starting with a letter or digit)"
    )


def test_environment_variable_name() -> None:
    message = error_of("""
        project: demo
        services:
          auth:
            postgres: true
            env:
              1BAD: x
    """)
    assert message == (
        "devenv.yaml:6: services.auth.env.1BAD: '1BAD' is not a valid environment variable name"
    )


# -- kinds and values ---------------------------------------------------------------------


def test_unknown_server_kind() -> None:
    message = error_of("""
        project: demo
        servers:
          db:
            kind: mysql
        services:
          auth:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:4: servers.db.kind: unknown kind 'mysql'; "
        "kinds: postgres, timescaledb, redis, valkey, pgbouncer"
    )


def test_server_without_kind() -> None:
    message = error_of("""
        project: demo
        servers:
          db:
            port: 5432
        services:
          auth:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:3: servers.db: 'kind' is missing; kinds: postgres, timescaledb, redis, "
        "valkey, pgbouncer"
    )


@pytest.mark.parametrize("port", ["abc", "70000", "0"])
def test_bad_port_is_one_message_on_the_port_key(port: str) -> None:
    message = error_of(f"""
        project: demo
        servers:
          db:
            kind: postgres
            port: {port}
        services:
          auth:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:5: servers.db.port: expected a port number from 1 to 65535, or 'auto'"
    )


def test_bad_setting_value_is_one_message() -> None:
    message = error_of("""
        project: demo
        servers:
          db:
            kind: postgres
            settings:
              max_connections: [1]
        services:
          auth:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:6: servers.db.settings.max_connections: expected a string, a number or "
        "true/false"
    )


def test_bad_pool_mode() -> None:
    message = error_of("""
        project: demo
        servers:
          pool:
            kind: pgbouncer
            pool_mode: sessions
        services:
          auth:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:5: servers.pool.pool_mode: Input should be 'session', 'transaction' or "
        "'statement'"
    )


def test_server_reference_must_be_bool_or_name() -> None:
    message = error_of("""
        project: demo
        services:
          auth:
            postgres: 5
    """)
    assert message == (
        "devenv.yaml:4: services.auth.postgres: expected true, false or a server name"
    )


def test_service_must_be_a_mapping() -> None:
    message = error_of("""
        project: demo
        services:
          auth: [postgres]
    """)
    assert message == "devenv.yaml:3: services.auth: expected a mapping"


def test_missing_services() -> None:
    assert error_of("project: demo\n") == "devenv.yaml: services: required key is missing"


def test_migrations_with_both_path_and_command() -> None:
    message = error_of("""
        project: demo
        services:
          auth:
            postgres: true
            migrations:
              path: db/migrations
              command: alembic upgrade head
    """)
    assert message == (
        "devenv.yaml:5: services.auth.migrations: give either 'path' or 'command', not both"
    )


def test_several_problems_are_reported_together() -> None:
    message = error_of("""
        project: Demo
        services:
          auth:
            postgress: true
    """)
    assert message.splitlines() == [
        "devenv.yaml:1: project: 'Demo' is not a valid Compose name (lowercase letters, digits, "
        "'-' and '_', starting with a letter or digit)",
        "devenv.yaml:4: services.auth.postgress: unknown key 'postgress' (did you mean "
        "'postgres'?); allowed: postgres, database, role, extensions, pgbouncer, reads, redis, "
        "migrations, seeds, env_file, env",
    ]


# -- what parses --------------------------------------------------------------------------


def test_tiny_manifest_parses() -> None:
    manifest, located = parse("project: demo\nservices: {auth: {postgres: true, redis: true}}\n")
    assert isinstance(manifest, Manifest)
    assert manifest.project == "demo"
    assert manifest.environment == "dev"
    assert manifest.servers == {}
    assert manifest.services["auth"].postgres is True
    assert manifest.services["auth"].redis is True
    assert located.where(("services", "auth", "postgres")) == "devenv.yaml:2"


def test_migrations_string_shorthand() -> None:
    manifest, _ = parse("project: demo\nservices:\n  auth:\n    postgres: true\n"
                        "    migrations: db/migrations\n")
    migrations = manifest.services["auth"].migrations
    assert migrations is not None
    assert migrations.path == "db/migrations"
    assert migrations.command is None


def test_server_kinds_parse_to_their_models() -> None:
    manifest, _ = parse("project: demo\nservers:\n  db: {kind: postgres}\n"
                        "  pool: {kind: pgbouncer, target: db}\nservices: {}\n")
    assert isinstance(manifest.servers["db"], PostgresServer)
    assert isinstance(manifest.servers["pool"], PgBouncerServer)



def test_a_kind_typo_gets_its_close_match() -> None:
    message = error_of("""
        project: demo
        servers:
          db:
            kind: timescale
        services:
          auth:
            postgres: true
    """)
    assert message == (
        "devenv.yaml:4: servers.db.kind: unknown kind 'timescale' (did you mean "
        "'timescaledb'?); kinds: postgres, timescaledb, redis, valkey, pgbouncer"
    )
