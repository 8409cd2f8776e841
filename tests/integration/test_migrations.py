"""The migration runner against a real PostgreSQL: one server per module, one fresh database and
non-superuser owner role per test, migrations run as that role."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from devenv.errors import DevenvError
from devenv.migrations import (
    MigrationSet,
    info,
    load_migrations,
    migrate,
    pending_count,
    repair,
    rollback,
    validate,
)
from tests.integration.servers import running_postgres


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_postgres() as admin:
        yield admin


@pytest.fixture
def database(server: str) -> str:
    """The conninfo of a fresh database owned by a fresh login role (not a superuser)."""
    name = f"svc_{uuid.uuid4().hex[:12]}"
    password = uuid.uuid4().hex
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(name), sql.Literal(password)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(name), sql.Identifier(name)))
    return make_conninfo(server, user=name, password=password, dbname=name)


def write(root: Path, files: dict[str, str], folder: str = "migrations/auth") -> MigrationSet:
    """Write `files` into root/folder (an empty string deletes a file) and load the folder."""
    base = root / folder
    base.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if text:
            (base / name).write_text(text, encoding="utf-8")
        else:
            (base / name).unlink()
    return load_migrations(base, root=root)


def query(conninfo: str, text: str) -> list[tuple[object, ...]]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(text.encode()).fetchall()


def ledger(conninfo: str) -> list[tuple[object, ...]]:
    return query(conninfo, "SELECT version, script, success FROM devenv.devenv_schema_history "
                           "ORDER BY installed_rank")


def tables(conninfo: str) -> list[str]:
    return [str(r[0]) for r in query(
        conninfo, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                  "AND tablename <> 'devenv_schema_history' ORDER BY 1")]


def failure(call: object) -> str:
    assert callable(call)
    with pytest.raises(DevenvError) as caught:
        call()
    return str(caught.value)


FLYWAY = {
    "V1__create_a.sql": "CREATE TABLE a (id int PRIMARY KEY);\nINSERT INTO a VALUES (1);\n",
    "V1.1__create_b.sql": "CREATE TABLE b (id int);\n",
    "V2__create_c.sql": "CREATE TABLE c (id int);\n",
    "R__view.sql": "CREATE OR REPLACE VIEW a_view AS SELECT id FROM a;\n",
}


def test_flyway_applies_in_order_with_ledger_rows(tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, FLYWAY)
    assert pending_count(database, ms) == 4
    events: list[str] = []
    result = migrate(database, ms, on_event=events.append)
    assert [(a.version, a.script) for a in result.applied] == [
        ("1", "migrations/auth/V1__create_a.sql"), ("1.1", "migrations/auth/V1.1__create_b.sql"),
        ("2", "migrations/auth/V2__create_c.sql"), (None, "migrations/auth/R__view.sql")]
    assert result.current_version == "2"
    assert events[:2] == ["applying migrations/auth/V1__create_a.sql",
                          f"applied migrations/auth/V1__create_a.sql in "
                          f"{result.applied[0].execution_ms} ms"]
    role = psycopg.conninfo.conninfo_to_dict(database)["user"]
    rows = query(database, "SELECT installed_rank, version, description, type, script, checksum,"
                           " applied_by, execution_ms >= 0, success FROM "
                           "devenv.devenv_schema_history ORDER BY installed_rank")
    assert rows == [
        (1, "1", "create a", "versioned", "V1__create_a.sql", ms.versioned[0].checksum, role,
         True, True),
        (2, "1.1", "create b", "versioned", "V1.1__create_b.sql", ms.versioned[1].checksum, role,
         True, True),
        (3, "2", "create c", "versioned", "V2__create_c.sql", ms.versioned[2].checksum, role,
         True, True),
        (4, None, "view", "repeatable", "R__view.sql", ms.repeatable[0].checksum, role, True,
         True)]
    owners = query(database, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = "
                             "'public'")
    assert owners == [(role,)]
    assert [(r.version, r.state) for r in info(database, ms)] == [
        ("1", "applied"), ("1.1", "applied"), ("2", "applied"), (None, "applied")]


def test_second_run_applies_nothing(tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, FLYWAY)
    migrate(database, ms)
    events: list[str] = []
    again = migrate(database, ms, on_event=events.append)
    assert (again.applied, again.current_version) == ([], "2")
    assert events == ["migrations/auth is up to date"]
    assert pending_count(database, ms) == 0
    assert len(ledger(database)) == 4


def test_target_stops_at_a_version(tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, FLYWAY)
    result = migrate(database, ms, target="1.1")
    assert [a.version for a in result.applied] == ["1", "1.1"]
    assert result.current_version == "1.1"
    assert tables(database) == ["a", "b"]
    assert failure(lambda: migrate(database, ms, target="7")) == (
        "No migration in migrations/auth has version 7\n"
        "Hint: Pass the version of an existing migration file.")
    assert [a.version for a in migrate(database, ms).applied] == ["2", None]


def test_failure_in_n_leaves_n_minus_1_and_the_fixed_file_continues(
        tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, {
        "V1__a.sql": "CREATE TABLE a (id int);\n",
        "V2__b.sql": "CREATE TABLE b (id int);\n",
        "V3__c.sql": "CREATE TABLE c (id int);\n-- oops below\n  CREATE TABL d (id int);\n",
        "V4__e.sql": "CREATE TABLE e (id int);\n",
    })
    assert failure(lambda: migrate(database, ms)) == (
        'Migration 3 failed: migrations/auth/V3__c.sql:3:10: syntax error at or near "TABL"\n'
        "  3 |   CREATE TABL d (id int);\n"
        "    |          ^\n"
        "Hint: It was rolled back: auth is still at version 2. Fix the file, then run "
        "`devenv migrate auth` again.")
    assert tables(database) == ["a", "b"]
    assert ledger(database) == [("1", "V1__a.sql", True), ("2", "V2__b.sql", True)]
    ms = write(tmp_path, {"V3__c.sql": "CREATE TABLE c (id int);\nCREATE TABLE d (id int);\n"})
    assert [a.version for a in migrate(database, ms).applied] == ["3", "4"]
    assert tables(database) == ["a", "b", "c", "d", "e"]


def test_runtime_error_points_at_its_statement(tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, {"V1__a.sql": (
        "CREATE TABLE a (id int PRIMARY KEY);\n"
        "INSERT INTO a VALUES (1);\n"
        "\n"
        "-- the same id again\n"
        "INSERT INTO a\n"
        "  VALUES (1);\n")})
    assert failure(lambda: migrate(database, ms)) == (
        'Migration 1 failed: migrations/auth/V1__a.sql:5:1: duplicate key value violates unique '
        'constraint "a_pkey"\n'
        "  5 | INSERT INTO a\n"
        "    | ^\n"
        "DETAIL: Key (id)=(1) already exists.\n"
        "Hint: It was rolled back: auth is still at no version (empty history). Fix the file, "
        "then run `devenv migrate auth` again.")
    assert tables(database) == []


def test_dbmate_error_position_is_a_line_of_the_file(tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, {"20240101000000_init.sql": (
        "-- a comment before the section\n"
        "-- migrate:up\n"
        "CREATE TABLE a (id int);\n"
        "SELECT nope FROM a;\n"
        "\n"
        "-- migrate:down\n"
        "DROP TABLE a;\n")})
    assert failure(lambda: migrate(database, ms)) == (
        'Migration 20240101000000 failed: migrations/auth/20240101000000_init.sql:4:8: column '
        '"nope" does not exist\n'
        "  4 | SELECT nope FROM a;\n"
        "    |        ^\n"
        "Hint: It was rolled back: auth is still at no version (empty history). Fix the file, "
        "then run `devenv migrate auth` again.")


GOLANG = {
    "000001_users.up.sql": "CREATE TABLE users (id int);\n",
    "000001_users.down.sql": "DROP TABLE users;\n",
    "000002_orders.up.sql": "CREATE TABLE orders (id int);\n",
    "000002_orders.down.sql": "DROP TABLE orders;\n",
    "000003_items.up.sql": "CREATE TABLE items (id int);\n",
    "000003_items.down.sql": "DROP TABLE items;\n",
}


def test_golang_migrate_applies_and_rolls_back(tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, GOLANG)
    assert [a.version for a in migrate(database, ms).applied] == ["1", "2", "3"]
    assert tables(database) == ["items", "orders", "users"]
    undone = rollback(database, ms)
    assert [(u.version, u.script) for u in undone] == [
        ("3", "migrations/auth/000003_items.down.sql")]
    assert tables(database) == ["orders", "users"]
    assert ledger(database) == [("1", "000001_users.up.sql", True),
                                ("2", "000002_orders.up.sql", True)]
    assert [u.version for u in rollback(database, ms, steps=5)] == ["2", "1"]
    assert (tables(database), ledger(database)) == ([], [])
    assert rollback(database, ms) == []
    assert migrate(database, ms).current_version == "3"


DBMATE = {
    "20240101000000_users.sql": "-- migrate:up\nCREATE TABLE users (id int);\n\n"
                                "-- migrate:down\nDROP TABLE users;\n",
    "20240102000000_orders.sql": "-- migrate:up\nCREATE TABLE orders (id int);\n\n"
                                 "-- migrate:down\nDROP TABLE orders;\n",
}


def test_dbmate_applies_and_rolls_back(tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, DBMATE)
    assert migrate(database, ms).current_version == "20240102000000"
    assert tables(database) == ["orders", "users"]
    assert [u.version for u in rollback(database, ms, steps=2)] == [
        "20240102000000", "20240101000000"]
    assert tables(database) == []


def test_rollback_without_a_down_is_refused_before_anything_runs(
        tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, {**DBMATE, "20240103000000_items.sql":
                          "-- migrate:up\nCREATE TABLE items (id int);\n"})
    migrate(database, ms)
    assert failure(lambda: rollback(database, ms, steps=2)) == (
        "Cannot roll back: migrations/auth/20240103000000_items.sql (version 20240103000000) has "
        "no down migration\n"
        "Hint: Add a '-- migrate:down' section with SQL to roll back; nothing was rolled back.")
    assert tables(database) == ["items", "orders", "users"]


def test_flyway_rollback_is_refused(tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, FLYWAY)
    assert failure(lambda: rollback(database, ms)) == (
        "Cannot roll back auth: migrations/auth holds Flyway migrations, which have no down "
        "scripts\n"
        "Hint: Write a new versioned migration that undoes the change.")


def test_drift_edited_deleted_and_out_of_order(tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, FLYWAY)
    migrate(database, ms)
    old = ms.versioned[0].checksum[:12]
    ms = write(tmp_path, {"V1__create_a.sql": "CREATE TABLE a (id bigint PRIMARY KEY);\n",
                          "V1.1__create_b.sql": "",
                          "V1.5__late.sql": "CREATE TABLE late (id int);\n"})
    new = ms.versioned[0].checksum[:12]
    problems = [
        f"migrations/auth/V1__create_a.sql was changed after it was applied (checksum {old} "
        f"applied, {new} now)",
        "migrations/auth/V1.1__create_b.sql was applied (version 1.1) but the file is gone",
        "migrations/auth/V1.5__late.sql (version 1.5) is not applied and older than the latest "
        "applied version 2",
    ]
    assert validate(database, ms) == problems
    assert validate(database, ms, out_of_order=True) == problems[:2]
    assert [(r.version, r.state) for r in info(database, ms)] == [
        ("1", "changed"), ("1.1", "missing"), ("1.5", "pending"), ("2", "applied"),
        (None, "applied")]
    assert failure(lambda: migrate(database, ms)) == (
        "Refusing to migrate auth: the database history does not match migrations/auth:\n"
        + "".join(f"  - {p}\n" for p in problems).rstrip("\n") + "\n"
        "Hint: Put edited files back as they were applied and add a new migration instead (or, "
        "if the database already matches them, run `devenv repair auth`). Restore "
        "deleted files (or run `devenv repair auth` to forget them). Give new files a "
        "version above the latest applied one, or allow them with `out_of_order: true` under "
        "services.auth.migrations in the manifest.")
    assert tables(database) == ["a", "b", "c"]
    assert repair(database, ms) == [
        "accepted the edited migrations/auth/V1__create_a.sql (version 1)",
        "forgot migrations/auth/V1.1__create_b.sql (version 1.1): the file is gone"]
    assert failure(lambda: migrate(database, ms)).startswith(
        "Refusing to migrate auth: the database history does not match migrations/auth:\n"
        "  - migrations/auth/V1.5__late.sql (version 1.5) is not applied")
    assert [a.version for a in migrate(database, ms, out_of_order=True).applied] == ["1.5"]
    assert validate(database, ms) == []


def test_repeatables_rerun_only_when_changed(tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, FLYWAY)
    migrate(database, ms)
    assert migrate(database, ms).applied == []
    ms = write(tmp_path, {"R__view.sql": "CREATE OR REPLACE VIEW a_view AS SELECT id, 1 AS one "
                                         "FROM a;\n"})
    assert [r.state for r in info(database, ms)][-1] == "pending"
    assert pending_count(database, ms) == 1
    assert [a.script for a in migrate(database, ms).applied] == ["migrations/auth/R__view.sql"]
    assert query(database, "SELECT one FROM a_view") == [(1,)]
    assert migrate(database, ms).applied == []
    assert [r[1] for r in ledger(database)].count("R__view.sql") == 2


def test_no_transaction_migration(tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, {
        "V1__a.sql": "CREATE TABLE a (id int, name text);\n",
        "V2__index.sql": "-- devenv:no-transaction\n"
                         "CREATE INDEX CONCURRENTLY a_name ON a (name);\n"
                         "CREATE INDEX CONCURRENTLY a_id ON a (id);\n",
    })
    migrate(database, ms)
    assert query(database, "SELECT indexname FROM pg_indexes WHERE tablename = 'a' "
                           "ORDER BY 1") == [("a_id",), ("a_name",)]
    assert ledger(database)[-1] == ("2", "V2__index.sql", True)


def test_failing_no_transaction_migration_is_recorded_and_repaired(
        tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, {
        "V1__a.sql": "CREATE TABLE a (id int, name text);\n",
        "V2__index.sql": "-- devenv:no-transaction\n"
                         "CREATE INDEX CONCURRENTLY a_name ON a (name);\n"
                         "CREATE INDEX CONCURRENTLY a_nope ON a (nope);\n",
    })
    repair_hint = (
        "Hint: It ran outside a transaction (-- devenv:no-transaction), so it may be partly "
        "applied; it is recorded as failed. Undo or finish its changes in the database by hand "
        "and fix the file, then run `devenv repair auth` and `devenv migrate auth`.")
    assert failure(lambda: migrate(database, ms)) == (
        'Migration 2 failed: migrations/auth/V2__index.sql:3:1: column "nope" does not exist\n'
        "  3 | CREATE INDEX CONCURRENTLY a_nope ON a (nope);\n"
        "    | ^\n" + repair_hint)
    assert ledger(database) == [("1", "V1__a.sql", True), ("2", "V2__index.sql", False)]
    assert [r.state for r in info(database, ms)] == ["applied", "failed"]
    assert failure(lambda: migrate(database, ms)).startswith(
        "Refusing to migrate auth: the database history does not match migrations/auth:\n"
        "  - migrations/auth/V2__index.sql failed on ")
    ms = write(tmp_path, {"V2__index.sql": "-- devenv:no-transaction\n"
                                           "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_name ON a "
                                           "(name);\n"})
    assert repair(database, ms) == ["forgot the failed run of migrations/auth/V2__index.sql"]
    assert [a.version for a in migrate(database, ms).applied] == ["2"]
    assert ledger(database) == [("1", "V1__a.sql", True), ("2", "V2__index.sql", True)]


def test_concurrent_runners_apply_each_migration_once(tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, {f"V{i}__t{i}.sql": f"CREATE TABLE t{i} (id int);\nSELECT pg_sleep(0.01);"
                          for i in range(1, 21)})
    results: list[list[str | None]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append([a.version for a in migrate(database, ms).applied])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 0, 20]  # the lock holder applied them all
    assert [r[0] for r in ledger(database)] == [str(i) for i in range(1, 21)]


def test_info_and_pending_count_before_any_run(tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, GOLANG)
    assert pending_count(database, ms) == 3
    assert validate(database, ms) == []
    assert [(r.version, r.description, r.state) for r in info(database, ms)] == [
        ("1", "users", "pending"), ("2", "orders", "pending"), ("3", "items", "pending")]


RUNNER = """
import sys
from pathlib import Path
from devenv.migrations import load_migrations, migrate
root = Path(sys.argv[1])
migrate(sys.argv[2], load_migrations(root / "migrations" / "auth", root=root))
"""


def interruptible() -> None:
    """In the child before exec: SIGINT handled as in a terminal (default), whatever the test
    runner inherited. A runner started as a background job of a non-interactive shell ignores
    SIGINT, and a Python started with SIGINT ignored never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_sleeping_runner(tmp_path: Path, database: str, server: str
                          ) -> subprocess.Popen[str]:
    """RUNNER in a child process, returned once its migration sleeps in `pg_sleep(60)` on the
    server (the moment to interrupt it); killed if it never gets there within 30 s."""
    dbname = psycopg.conninfo.conninfo_to_dict(database)["dbname"]
    process = subprocess.Popen([sys.executable, "-c", RUNNER, str(tmp_path), database],
                               cwd=Path(__file__).parents[2], stderr=subprocess.PIPE, text=True,
                               preexec_fn=interruptible)
    try:
        deadline = time.monotonic() + 30
        while not query(server, f"SELECT 1 FROM pg_stat_activity WHERE datname = '{dbname}' "
                                "AND query LIKE '%pg_sleep(60)%' AND state = 'active'"):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
    except BaseException:
        process.kill()
        raise
    return process


def wait_until_no_advisory_lock(server: str) -> None:
    """A killed client's session (and its migration lock) ends when the server notices."""
    deadline = time.monotonic() + 30
    while query(server, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"):
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_interrupted_run_rolls_back_and_releases_the_lock(
        tmp_path: Path, database: str, server: str, sig: signal.Signals) -> None:
    ms = write(tmp_path, {"V1__a.sql": "CREATE TABLE a (id int);\n",
                          "V2__slow.sql": "CREATE TABLE slow (id int);\nSELECT pg_sleep(60);\n"})
    process = start_sleeping_runner(tmp_path, database, server)
    try:
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode != 0
    if sig == signal.SIGINT:
        assert stderr.rstrip().endswith("KeyboardInterrupt")
    wait_until_no_advisory_lock(server)
    assert (tables(database), ledger(database)) == (["a"], [("1", "V1__a.sql", True)])
    ms = write(tmp_path, {"V2__slow.sql": "CREATE TABLE slow (id int);\n"})
    assert [a.version for a in migrate(database, ms).applied] == ["2"]


def test_connection_failure_names_the_database_without_its_password(
        tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, FLYWAY)
    parts = psycopg.conninfo.conninfo_to_dict(database)
    wrong = make_conninfo(database, password="wrong-secret")
    message = failure(lambda: migrate(wrong, ms))
    assert message.startswith(
        f"cannot reach {parts['user']}@{parts['host']}:{parts['port']}/{parts['dbname']} (")
    assert f'password authentication failed for user "{parts["user"]}"' in message
    assert message.endswith("\nHint: is the stack up? `devenv status` shows it, `devenv up` "
                            "starts it")
    assert "wrong-secret" not in message


def test_error_column_counts_characters_not_bytes(tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, {"V1__a.sql": "SELECT 'héllo wörld ✓';\nSELECT 'ü', nope;\n"})
    assert failure(lambda: migrate(database, ms)).startswith(
        'Migration 1 failed: migrations/auth/V1__a.sql:2:13: column "nope" does not exist\n'
        "  2 | SELECT 'ü', nope;\n"
        "    |             ^\n")
