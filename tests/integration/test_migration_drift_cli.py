"""`devenv up`, `migrate`, `status`, `validate` and `reset` on drifted and re-shaped migration
folders (issue 17), through the real CLI on a real stack: what a user types and reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.fault_stack import admin_url, query, small_stack, write_project
from tests.integration.stacks import CopiedStack, Result

pytestmark = pytest.mark.xdist_group("test_migration_drift_cli")

# The dbmate folder: service `app` (role `app`) creates a schema named like its role.
SCHEMA = {"20240101000000_schema.sql": """-- migrate:up
CREATE SCHEMA app;
CREATE TABLE app.accounts (id int PRIMARY KEY, email text NOT NULL);
CREATE FUNCTION app.normalise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.email := lower(NEW.email);
    RETURN NEW;
END;
$$;
CREATE TRIGGER accounts_normalise BEFORE INSERT OR UPDATE ON app.accounts
    FOR EACH ROW EXECUTE FUNCTION app.normalise();

-- migrate:down
DROP SCHEMA app CASCADE;
"""}
SESSIONS = """-- migrate:up
CREATE TABLE app.sessions (id uuid PRIMARY KEY, account int REFERENCES app.accounts);

-- migrate:down
DROP TABLE app.sessions;
"""
SEEDS = {"01_accounts.sql": "INSERT INTO app.accounts VALUES (1, 'Ada@Example.com');\n"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    with small_stack(tmp_path_factory.mktemp("drift") / "p", prefix="t-drift",
                     migrations=SCHEMA, seeds=SEEDS) as copied:
        copied.ok("up")
        yield copied


def folder(stack: CopiedStack) -> Path:
    return stack.root / "migrations" / "app"


def failed(result: Result) -> str:
    assert result.code == 1, result.explain()
    assert "Traceback" not in result.stderr, result.explain()
    return result.stderr


def test_schema_named_like_the_role_then_new_migration_then_reset(stack: CopiedStack) -> None:
    (folder(stack) / "20240102000000_sessions.sql").write_text(SESSIONS)
    out = stack.ok("up").stdout
    assert "app: applied 1 migration(s), now at 20240102000000" in out
    assert "is up to date" in stack.ok("up").stdout
    stack.ok("reset", "app")
    assert "is up to date" in stack.ok("up").stdout
    stack.ok("validate")
    rows = query(admin_url(stack, "app"), "SELECT version FROM devenv.devenv_schema_history "
                                          "ORDER BY installed_rank")
    assert rows == [("20240101000000",), ("20240102000000",)]
    assert query(admin_url(stack, "app"), "SELECT email FROM app.accounts") == [
        ("ada@example.com",)]


def test_up_migrate_and_status_refuse_an_edited_then_a_deleted_file(stack: CopiedStack) -> None:
    sessions = folder(stack) / "20240102000000_sessions.sql"
    sessions.write_text(SESSIONS)
    stack.ok("up")
    (folder(stack) / "20240103000000_audit.sql").write_text(
        "-- migrate:up\nCREATE TABLE app.audit (at timestamptz DEFAULT now(), what text);\n")
    sessions.write_text(SESSIONS.replace("account int", "account_id int"))

    err = failed(stack.devenv("up"))
    assert ("error: Refusing to migrate app: the database history does not match "
            "migrations/app:\n  - migrations/app/20240102000000_sessions.sql was changed after "
            "it was applied (checksum ") in err
    assert ("hint: Put edited files back as they were applied and add a new migration instead "
            "(or, if the database already matches them, run `devenv repair app`).") in err
    assert "is up to date" not in err
    assert failed(stack.devenv("migrate")).count("was changed after it was applied") == 1
    pending = query(admin_url(stack, "app"), "SELECT to_regclass('app.audit') IS NULL")
    assert pending == [(True,)], "nothing ran: the new migration is still pending"

    status = stack.status()
    app = next(s for s in status["services"] if s["service"] == "app")
    assert [d["kind"] for d in app["drift"]] == ["changed"]
    table = stack.ok("status").stdout
    assert "DRIFT" in table and "1 edited" in table

    err = failed(stack.devenv("validate"))
    assert "app: migrations/app/20240102000000_sessions.sql was changed" in err
    assert "`devenv repair app`" in err and "SERVICE" not in err

    sessions.write_text(SESSIONS)
    sessions.rename(stack.root / "sessions.sql.bak")
    err = failed(stack.devenv("up"))
    assert ("  - migrations/app/20240102000000_sessions.sql was applied (version "
            "20240102000000) but the file is gone") in err
    assert "hint: Restore deleted files (or run `devenv repair app` to forget them)." in err
    (stack.root / "sessions.sql.bak").rename(sessions)
    out = stack.ok("up").stdout
    assert "app: applied 1 migration(s), now at 20240103000000" in out


def test_up_refuses_a_partly_applied_no_transaction_migration(stack: CopiedStack) -> None:
    (folder(stack) / "20240104000000_index.sql").write_text(
        "-- migrate:up transaction:false\n"
        "CREATE INDEX CONCURRENTLY audit_at ON app.audit (at);\n"
        "CREATE INDEX CONCURRENTLY audit_what ON app.audit (wat);\n")
    err = failed(stack.devenv("up"))
    assert "20240104000000_index.sql:3:" in err and "it may be partly applied" in err
    err = failed(stack.devenv("up"))
    assert ("  - migrations/app/20240104000000_index.sql failed on ") in err
    assert "and may be partly applied" in err
    assert "`devenv repair app` and `devenv migrate app`" in err
    status = stack.status()
    app = next(s for s in status["services"] if s["service"] == "app")
    assert [d["kind"] for d in app["drift"]] == ["failed"]
    (folder(stack) / "20240104000000_index.sql").write_text(
        "-- migrate:up transaction:false\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_at ON app.audit (at);\n"
        "CREATE INDEX CONCURRENTLY audit_what ON app.audit (what);\n")
    stack.ok("repair", "app")
    stack.ok("up")
    stack.ok("validate")


def test_folder_errors_come_before_any_container_starts(tmp_path: Path) -> None:
    stack = write_project(tmp_path / "p", prefix="t-drift-folder", migrations={
        "000001_users.up.sql": "CREATE TABLE users (id int);\n",
        "000001_users.down.sql": "DROP TABLE users;\n",
        "000002_admin.up.sql": "INSERT INTO users VALUES (1);\n",  # up-only: valid
        "000003_roles.down.sql": "DROP TABLE roles;\n",  # a down without its up: a typo
    }, seeds={})
    try:
        err = failed(stack.devenv("up"))
        assert ("error: migrations/app/000003_roles.down.sql has no up file (expected "
                "migrations/app/000003_roles.up.sql)") in err
        assert stack.containers() == {}
        (stack.root / "migrations/app/000003_roles.down.sql").unlink()
        out = stack.ok("up").stdout
        assert "app: applied 2 migration(s), now at 2" in out
        err = failed(stack.devenv("rollback", "app"))
        assert ("Cannot roll back: migrations/app/000002_admin.up.sql (version 2) has no down "
                "migration") in err
    finally:
        stack.teardown()


def test_status_json_has_no_drift_when_files_match(stack: CopiedStack) -> None:
    data = json.loads(stack.ok("status", "--json").stdout)
    app = next(s for s in data["services"] if s["service"] == "app")
    assert app["drift"] == []
