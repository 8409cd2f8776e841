"""Manifests an attacker (or a slip) writes: refused when loaded, by their whole message.

Issue 14: reserved databases and roles, paths that leave the project or replace devenv's own
files, and templates that would hang or exhaust `devenv config`.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from devenv.errors import DevenvError
from devenv.model.manifest import parse
from devenv.model.resolve import resolve

HINT = "Hint: fix devenv.yaml; no file was changed"


def error_of(text: str, root: Path = Path("/project")) -> str:
    manifest, located = parse(textwrap.dedent(text).lstrip("\n"), source="devenv.yaml")
    with pytest.raises(DevenvError) as caught:
        resolve(manifest, located, root=root)
    return str(caught.value)


# -- reserved databases and roles -----------------------------------------------------------
@pytest.mark.parametrize("database", ["template1", "template0", "postgres"])
def test_postgresqls_own_databases_are_refused(database: str) -> None:
    assert error_of(f"""
        project: demo
        services:
          app:
            postgres: true
            database: {database}
        """) == (f"devenv.yaml:5: services.app.database: '{database}' is PostgreSQL's own "
                 f"database; give the service a database of its own\n{HINT}")


def test_a_naming_pattern_that_makes_a_reserved_name_is_refused_at_the_pattern() -> None:
    assert error_of("""
        project: demo
        naming:
          role: pg_{service}
        services:
          app: {postgres: true}
        """) == ("devenv.yaml:3: naming.role: 'pg_app' is reserved by PostgreSQL (predefined "
                 f"roles start with 'pg_'); choose another name\n{HINT}")


@pytest.mark.parametrize("role", ["pg_execute_server_program", "public", "postgres"])
def test_reserved_service_roles_are_refused(role: str) -> None:
    message = error_of(f"""
        project: demo
        services:
          app:
            postgres: true
            role: {role}
        """)
    assert message.startswith(f"devenv.yaml:5: services.app.role: '{role}' is ")
    assert message.endswith(HINT)


def test_admin_and_migration_roles_must_be_their_own() -> None:
    assert error_of("""
        project: demo
        roles:
          admin: postgres
          migration: app
        services:
          app: {postgres: true}
        """) == ("devenv.yaml:4: roles.migration: 'app' is also the role of service 'app'; the "
                 "migration role must be a role of its own\n"
                 "devenv.yaml:3: roles.admin: 'postgres' is the admin role\n"
                 f"{HINT}")


def test_admin_equal_to_migration_is_refused() -> None:
    assert error_of("""
        project: demo
        roles:
          admin: ops
          migration: ops
        services:
          app: {postgres: true}
        """) == ("devenv.yaml:3: roles.admin: 'ops' is also roles.migration; the two have "
                 "different rights (CREATEDB, CREATEROLE): name them differently\n"
                 f"{HINT}")


# -- paths --------------------------------------------------------------------------------
@pytest.mark.parametrize("env_file", ["devenv.yaml", ".devenv/secrets.json", "compose/app.env"])
def test_an_env_file_never_replaces_a_file_devenv_reads_or_generates(env_file: str) -> None:
    assert error_of(f"""
        project: demo
        services:
          app:
            postgres: true
            env_file: {env_file}
        """) == (f"devenv.yaml:5: services.app.env_file: '{env_file}' is a file devenv reads "
                 f"or generates; use e.g. '.devenv/env/app.env'\n{HINT}")


@pytest.mark.parametrize("env_file", ["/etc/cron.d/x", "../elsewhere/.env", "a/../../b.env"])
def test_an_env_file_outside_the_project_is_refused(env_file: str) -> None:
    assert error_of(f"""
        project: demo
        services:
          app:
            postgres: true
            env_file: {env_file}
        """) == (f"devenv.yaml:5: services.app.env_file: '{env_file}' is outside the project: "
                 "devenv writes only under project/ (a relative path such as "
                 f"'.devenv/env/x.env')\n{HINT}")


def test_two_services_cannot_share_an_env_file() -> None:
    assert error_of("""
        project: demo
        services:
          a: {postgres: true, env_file: shared.env}
          b: {postgres: true, env_file: ./shared.env}
        """) == ("devenv.yaml:4: services.b.env_file: 'shared.env' is also the env_file of "
                 f"service 'a'\n{HINT}")


@pytest.mark.parametrize(("compose_dir", "why"), [
    ("/tmp/x", "outside"), ("..", "outside"), (".", "mix"), (".devenv", "mix")])
def test_compose_dir_stays_a_folder_of_its_own_in_the_project(compose_dir: str,
                                                              why: str) -> None:
    message = error_of(f"""
        project: demo
        compose_dir: "{compose_dir}"
        services:
          app: {{postgres: true}}
        """)
    assert message.startswith(f"devenv.yaml:2: compose_dir: '{compose_dir}' ")
    assert ("is outside the project" if why == "outside" else "would mix generated") in message


# -- templates: bounded, every failure a located error --------------------------------------
@pytest.mark.parametrize(("template", "reason"), [
    ("{{ 7 ** 999999999 }}", "7 ** 999999999 is too large for a template"),
    ("{{ 'x' * 2000000000 }}", "a string or list that large is not for a template"),
    ("{% for i in range(999999999) %}x{% endfor %}", "range() of 999999999 items (at most 256)"),
    ("{% include 'other' %}", "no loader for this environment specified"),
    ("{% import 'other' as o %}", "no loader for this environment specified"),
    ("{% for i in range(200) %}{% for j in range(200) %}{{ 'y' * 9 }}{% endfor %}{% endfor %}",
     "the value is over 65536 characters"),
])
def test_template_bombs_are_located_errors_and_quick(template: str, reason: str) -> None:
    started = time.monotonic()
    message = error_of(f"""
        project: demo
        services:
          app:
            postgres: true
            env:
              X: "{template}"
        """)
    assert time.monotonic() - started < 5
    assert message == (f"devenv.yaml:6: services.app.env.X: template error: {reason} (templates "
                       "see service, project, environment, db.*, redis.*, env)\n" + HINT)


# -- names PgBouncer and Redis keep for themselves (issue 27, item 8) ------------------------
def test_a_service_or_role_named_pgbouncer_is_refused() -> None:
    """Its password would open PgBouncer's admin console (SHOW USERS, PAUSE x), and devenv's
    own console login then failed."""
    console = ("'pgbouncer' is PgBouncer's admin console user (its password would open the "
               "console: SHOW USERS, PAUSE); choose another name")
    assert error_of("""
        project: demo
        services:
          pgbouncer: {postgres: true, pgbouncer: true}
        """) == ("devenv.yaml:3: services.pgbouncer: 'pgbouncer' is PgBouncer's admin console; "
                 "give the service another database name\n"
                 f"devenv.yaml:3: services.pgbouncer: {console}\n{HINT}")
    assert error_of("""
        project: demo
        roles:
          migration: pgbouncer
        services:
          app:
            postgres: true
            role: pgbouncer_app
          other:
            postgres: true
            role: pgbouncer
        """) == (f"devenv.yaml:10: services.other.role: {console}\n"
                 f"devenv.yaml:3: roles.migration: {console}\n{HINT}")


def test_a_database_named_pgbouncer_or_like_a_readonly_entry_is_refused() -> None:
    """Neither needs a replica or PgBouncer yet: adding one later must not collide."""
    assert error_of("""
        project: demo
        naming:
          database: "{service}_readonly"
        services:
          app: {postgres: true}
          app_readonly: {postgres: true, database: app_readonly_readonly}
          pg: {postgres: true, database: pgbouncer}
        """) == ("devenv.yaml:6: services.app_readonly.database: 'app_readonly_readonly' is the "
                 "name of the PgBouncer entry for the reads of service 'app' on its server's "
                 "replicas (`<database>_readonly`); give the database another name\n"
                 "devenv.yaml:7: services.pg.database: 'pgbouncer' is PgBouncer's admin "
                 f"console; give the service another database name\n{HINT}")


def test_a_redis_service_named_default_is_refused() -> None:
    """Redis stopped at start with "Duplicate user" (its own admin user is `default`)."""
    assert error_of("""
        project: demo
        services:
          default: {redis: true}
          app: {redis: true, postgres: true}
        """) == ("devenv.yaml:3: services.default: 'default' is Redis's own admin user, and a "
                 "service's ACL user takes the service's name (Redis would stop with "
                 f"\"Duplicate user\"); rename the service\n{HINT}")
