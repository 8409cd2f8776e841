"""An env_file (the service's passwords) may not be written where devenv reads migrations or
seeds (issue 27 item 16): b's .env written as migrations/a/V9__env.sql became a's migration."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from devenv.errors import DevenvError
from devenv.model.manifest import parse
from devenv.model.resolve import resolve

HINT = "Hint: fix devenv.yaml; no file was changed"
WHY = ("its passwords would be run or loaded as one of its files, or shipped with them; use e.g. "
       "'.devenv/env/b.env'")


def error_of(text: str) -> str:
    manifest, located = parse(textwrap.dedent(text).lstrip("\n"), source="devenv.yaml")
    with pytest.raises(DevenvError) as caught:
        resolve(manifest, located, root=Path("/project"))
    return str(caught.value)


def test_an_env_file_inside_another_services_migrations_is_refused() -> None:
    assert error_of("""
        project: demo
        services:
          a: {postgres: true}
          b:
            postgres: true
            env_file: migrations/a/V9__env.sql
        """) == ("devenv.yaml:6: services.b.env_file: 'migrations/a/V9__env.sql' is inside the "
                 f"migrations folder of service 'a' ('migrations/a'): {WHY}\n{HINT}")


@pytest.mark.parametrize(("env_file", "what", "folder"), [
    ("migrations/b/.env", "the migrations folder of service 'b'", "migrations/b"),
    ("db/a/sub/b.env", "the migrations folder of service 'a'", "db/a"),
    ("seeds/a/b.env", "the seeds folder of service 'a'", "seeds/a"),
    ("fixtures/../seeds/b/x.csv", "the seeds folder of service 'b'", "seeds/b"),
    ("tools/alembic/b.env", "the working directory of the migration command of service 'c'",
     "tools/alembic"),
])
def test_any_migrations_or_seeds_folder_is_refused(env_file: str, what: str,
                                                   folder: str) -> None:
    assert error_of(f"""
        project: demo
        services:
          a: {{postgres: true, migrations: db/a}}
          b:
            postgres: true
            env_file: {env_file}
          c:
            postgres: true
            migrations: {{command: alembic upgrade head, cwd: tools/alembic}}
        """) == (f"devenv.yaml:6: services.b.env_file: '{env_file}' is inside {what} "
                 f"('{folder}'): {WHY}\n{HINT}")


def test_a_service_without_a_database_is_checked_too_and_a_sibling_folder_is_fine() -> None:
    manifest, located = parse(textwrap.dedent("""
        project: demo
        services:
          a: {postgres: true}
          cache: {redis: true, env_file: migrations/cache.env}
          b: {postgres: true, env_file: seeds/a-env/b.env}
        """).lstrip("\n"), source="devenv.yaml")
    stack = resolve(manifest, located, root=Path("/project"))
    assert stack.services["cache"].env_file == Path("migrations/cache.env")
    assert error_of("""
        project: demo
        services:
          a: {postgres: true}
          cache: {redis: true, env_file: seeds/a/cache.env}
        """).startswith("devenv.yaml:4: services.cache.env_file: 'seeds/a/cache.env' is inside "
                        "the seeds folder of service 'a' ('seeds/a'): ")
