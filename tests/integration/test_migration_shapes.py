"""Migration folders shaped like real projects' (issue 17), against a real PostgreSQL: a ledger
that no schema or search_path can move, statements that cannot run in a transaction, files
with their own BEGIN/COMMIT, optional golang-migrate downs, and interrupted runs."""

from __future__ import annotations

import signal
from pathlib import Path

import psycopg
from psycopg import sql

from devenv.migrations import info, load_seeds, migrate, pending_count, rollback, seed, validate
from tests.integration.test_migrations import (
    database,
    failure,
    query,
    server,
    start_sleeping_runner,
    wait_until_no_advisory_lock,
    write,
)

__all__ = ["database", "server"]  # fixtures, imported for pytest


def role_of(conninfo: str) -> str:
    return str(psycopg.conninfo.conninfo_to_dict(conninfo)["user"])


def history(conninfo: str) -> list[tuple[object, ...]]:
    return query(conninfo, "SELECT version, success FROM devenv.devenv_schema_history "
                           "ORDER BY installed_rank")


def ledgers(conninfo: str) -> list[tuple[object, ...]]:
    """Every table named like a devenv ledger, wherever it is."""
    return query(conninfo, "SELECT schemaname, tablename FROM pg_tables WHERE tablename LIKE "
                           "'devenv\\_%\\_history' ORDER BY 1, 2")


# -- 1. the ledger does not follow search_path ---------------------------------------------------
def schema_like_role(role: str) -> dict[str, str]:
    """A dbmate folder whose first migration creates a schema named like the service's role:
    PostgreSQL's default search_path is "$user", public, so it becomes the current schema."""
    return {
        "20240101000000_schema.sql": f"""-- migrate:up
CREATE SCHEMA {role};
CREATE TABLE {role}.accounts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE FUNCTION {role}.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_at := coalesce(NEW.created_at, now());
    RETURN NEW;
END;
$$;
CREATE TRIGGER accounts_touch BEFORE INSERT ON {role}.accounts
    FOR EACH ROW EXECUTE FUNCTION {role}.touch();

-- migrate:down
DROP SCHEMA {role} CASCADE;
""",
    }


SECOND = {"20240102000000_sessions.sql": """-- migrate:up
SET search_path = pg_catalog;
CREATE TABLE public.sessions (id uuid PRIMARY KEY, account bigint NOT NULL);

-- migrate:down
DROP TABLE public.sessions;
"""}


def test_schema_named_like_the_role_does_not_move_the_ledger(
        tmp_path: Path, database: str) -> None:
    role = role_of(database)
    ms = write(tmp_path, schema_like_role(role))
    migrate(database, ms)
    ms = write(tmp_path, SECOND)
    assert pending_count(database, ms) == 1
    assert [a.version for a in migrate(database, ms).applied] == ["20240102000000"]
    assert history(database) == [("20240101000000", True), ("20240102000000", True)]
    seeds = tmp_path / "seeds" / "auth"
    seeds.mkdir(parents=True)
    (seeds / "01_accounts.sql").write_text(f"INSERT INTO {role}.accounts (email) "
                                           "VALUES ('ada@example.com');\n")
    seed(database, load_seeds(seeds, root=tmp_path))
    assert ledgers(database) == [("devenv", "devenv_schema_history"),
                                 ("devenv", "devenv_seed_history")]
    assert migrate(database, ms).applied == []
    assert validate(database, ms) == []
    owner = query(database, "SELECT nspowner::regrole::text FROM pg_namespace "
                            "WHERE nspname = 'devenv'")
    assert owner == [(role,)]


def test_ledgers_of_an_earlier_devenv_are_adopted_without_reapplying(
        tmp_path: Path, database: str) -> None:
    """An earlier devenv kept its ledgers in the current schema (public), and after a migration
    created the role's schema, left an empty copy there."""
    role = role_of(database)
    ms = write(tmp_path, schema_like_role(role))
    first = ms.versioned[0]
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {role}".encode())
        conn.execute(f"CREATE TABLE {role}.accounts (id bigint PRIMARY KEY)".encode())
        for schema in ("public", role):
            conn.execute(sql.SQL(
                "CREATE TABLE {}.devenv_schema_history (installed_rank integer PRIMARY KEY, "
                "version text, description text NOT NULL, type text NOT NULL, script text NOT "
                "NULL, checksum text NOT NULL, applied_by text NOT NULL DEFAULT current_user, "
                "applied_at timestamptz NOT NULL DEFAULT now(), execution_ms integer NOT NULL, "
                "success boolean NOT NULL)").format(sql.Identifier(schema)))
        conn.execute("INSERT INTO public.devenv_schema_history (installed_rank, version, "
                     "description, type, script, checksum, execution_ms, success) VALUES "
                     "(1, %s, %s, 'versioned', %s, %s, 12, true)",
                     (str(first.version), first.description, first.script, first.checksum))
        conn.execute("CREATE TABLE public.devenv_seed_history (script text PRIMARY KEY, "
                     "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), "
                     "success boolean NOT NULL)")
    ms = write(tmp_path, SECOND)
    # Read-only callers read the old ledger where it is, and move nothing.
    assert pending_count(database, ms) == 1
    assert [(r.version, r.state) for r in info(database, ms)] == [
        ("20240101000000", "applied"), ("20240102000000", "pending")]
    events: list[str] = []
    assert [a.version for a in migrate(database, ms, on_event=events.append).applied] == [
        "20240102000000"]
    assert "moved the ledger public.devenv_schema_history to devenv.devenv_schema_history" in events
    assert history(database) == [("20240101000000", True), ("20240102000000", True)]
    assert ("devenv", "devenv_schema_history") in ledgers(database)


# -- 3. statements that cannot run in a transaction --------------------------------------------
FLYWAY_SHOP = {
    "V1__orders.sql": """CREATE SCHEMA shop;
CREATE TABLE shop.orders (
    id         bigint GENERATED ALWAYS AS IDENTITY,
    placed_at  timestamptz NOT NULL,
    customer   text NOT NULL,
    total      numeric(12, 2) NOT NULL CHECK (total >= 0),
    PRIMARY KEY (id, placed_at)
) PARTITION BY RANGE (placed_at);
CREATE TABLE shop.orders_2024 PARTITION OF shop.orders
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE shop.orders_2025 PARTITION OF shop.orders
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE shop.customers (name text PRIMARY KEY, email text);
DO $$
BEGIN
    FOR i IN 1..50 LOOP
        INSERT INTO shop.customers VALUES ('customer ' || i, 'c' || i || '@example.com');
        INSERT INTO shop.orders (placed_at, customer, total)
        VALUES ('2024-06-01'::timestamptz + i * interval '1 day', 'customer ' || i, i * 1.5);
    END LOOP;
END
$$;
""",
    "V2__customer_email_index.sql": """-- Built without locking writes (no marker needed).
/* CONCURRENTLY cannot run inside a transaction block */
CREATE UNIQUE INDEX CONCURRENTLY customers_email ON shop.customers (email);
DROP INDEX CONCURRENTLY IF EXISTS shop.customers_legacy_email;
CREATE INDEX CONCURRENTLY customers_lower_email ON shop.customers (lower(email));
""",
    "V3__vacuum.sql": "VACUUM (ANALYZE) shop.customers;\n",
    "V4__totals.sql": "ALTER TABLE shop.customers ADD COLUMN orders integer NOT NULL DEFAULT 0;\n",
    "R__order_view.sql": """CREATE OR REPLACE VIEW shop.order_totals AS
SELECT customer, count(*) AS orders, sum(total) AS spent FROM shop.orders GROUP BY customer;
""",
}


def test_flyway_folder_with_concurrent_indexes_and_vacuum_applies_unchanged(
        tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, FLYWAY_SHOP)
    result = migrate(database, ms)
    assert [a.version for a in result.applied] == ["1", "2", "3", "4", None]
    assert query(database, "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON "
                           "c.oid = i.indexrelid WHERE c.relname LIKE 'customers\\_%' "
                           "ORDER BY 1") == [("customers_email", True),
                                             ("customers_lower_email", True),
                                             ("customers_pkey", True)]
    assert history(database) == [("1", True), ("2", True), ("3", True), ("4", True),
                                 (None, True)]
    assert query(database, "SELECT count(*) FROM shop.order_totals") == [(50,)]


def test_file_mixing_concurrently_with_ordinary_statements_is_refused_before_anything_runs(
        tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, {
        "V1__orders.sql": FLYWAY_SHOP["V1__orders.sql"],
        "V2__email.sql": "ALTER TABLE shop.customers ADD COLUMN verified boolean;\n"
                         "\n"
                         "CREATE INDEX CONCURRENTLY customers_verified\n"
                         "    ON shop.customers (verified);\n",
    })
    assert failure(lambda: migrate(database, ms)) == (
        "migrations/auth/V2__email.sql:3: CREATE INDEX CONCURRENTLY cannot run inside a "
        "transaction, but the file also has statements that run in one (line 1: ALTER TABLE "
        "shop.customers ADD COLUMN verified boolean;): devenv, like Flyway, does not run a file "
        "that mixes them; nothing was run\n"
        "Hint: Move the CREATE INDEX CONCURRENTLY statement into a migration of its own (devenv "
        "runs such a file outside a transaction, as Flyway does), or run the whole file outside "
        "a transaction, statement by statement, with a first line `-- devenv:no-transaction` "
        "(Flyway: `executeInTransaction=false` in migrations/auth/V2__email.sql.conf); a "
        "failure then leaves it partly applied.")
    assert history(database) == []  # not even V1: every file is planned before the first runs
    (tmp_path / "migrations/auth/V2__email.sql.conf").write_text("executeInTransaction=false\n")
    ms = write(tmp_path, {})
    assert [a.version for a in migrate(database, ms).applied] == ["1", "2"]


def test_cannot_run_in_a_transaction_block_names_the_no_transaction_marker(
        tmp_path: Path, database: str) -> None:
    """CONCURRENTLY inside the file's own BEGIN/COMMIT: the server refuses it, and the hint
    says how to run it outside a transaction."""
    ms = write(tmp_path, {
        "000001_customers.up.sql": "CREATE TABLE customers (id int PRIMARY KEY, email text);\n",
        "000002_email.up.sql": "BEGIN;\n"
                               "ALTER TABLE customers ADD COLUMN verified boolean;\n"
                               "CREATE INDEX CONCURRENTLY customers_email ON customers (email);\n"
                               "COMMIT;\n",
    })
    message = failure(lambda: migrate(database, ms))
    assert message.startswith(
        "Migration 2 failed: migrations/auth/000002_email.up.sql:3:1: CREATE INDEX "
        "CONCURRENTLY cannot run inside a transaction block\n")
    assert message.endswith(
        "Hint: Nothing of it was applied (it ran statement by statement: it manages its own "
        "transactions (BEGIN; at line 1); the failing statement and its transaction rolled "
        "back): auth is still at version 1. The statement cannot run inside a transaction "
        "block: inside the file's own BEGIN/COMMIT block, move that statement out of the "
        "block; otherwise make the file run outside a transaction with a first line "
        "`-- devenv:no-transaction` (Flyway: `executeInTransaction=false` in its .sql.conf "
        "file; dbmate: `-- migrate:up transaction:false`), or move the statement into a "
        "migration of its own, then run `devenv migrate auth` again.")
    assert history(database) == [("1", True)]
    assert query(database, "SELECT count(*) FROM information_schema.columns "
                           "WHERE column_name = 'verified'") == [(0,)]


# -- 4. files that manage their own transaction --------------------------------------------------
def test_golang_file_wrapped_in_its_own_transaction_rolls_back_whole(
        tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, {
        "000001_accounts.up.sql": "BEGIN;\n"
                                  "CREATE TABLE accounts (id int PRIMARY KEY, balance int);\n"
                                  "INSERT INTO accounts VALUES (1, 10), (2, 20);\n"
                                  "COMMIT;\n",
        "000002_ledger.up.sql": "BEGIN ISOLATION LEVEL SERIALIZABLE;\n"
                                "CREATE TABLE entries (account int REFERENCES accounts, "
                                "amount int);\n"
                                "INSERT INTO entries VALUES (3, 5);\n"
                                "COMMIT;\n",
    })
    message = failure(lambda: migrate(database, ms))
    assert message.startswith(
        "Migration 2 failed: migrations/auth/000002_ledger.up.sql:3:1: insert or update on "
        'table "entries" violates foreign key constraint')
    assert message.endswith("Hint: It was rolled back: auth is still at version 1. Fix the "
                            "file, then run `devenv migrate auth` again.")
    assert history(database) == [("1", True)]
    assert query(database, "SELECT to_regclass('entries') IS NULL") == [(True,)]
    ms = write(tmp_path, {"000002_ledger.up.sql": "BEGIN ISOLATION LEVEL SERIALIZABLE;\n"
                                                  "CREATE TABLE entries (account int REFERENCES "
                                                  "accounts, amount int);\n"
                                                  "INSERT INTO entries VALUES (1, 5);\n"
                                                  "COMMIT;\n"})
    assert [a.version for a in migrate(database, ms).applied] == ["2"]


def test_file_with_several_transactions_runs_as_written_and_never_claims_a_rollback(
        tmp_path: Path, database: str) -> None:
    """The issue's case: a COMMIT in the middle, then a failure. The first block stays."""
    ms = write(tmp_path, {
        "000008_base.up.sql": "CREATE TABLE users (id int PRIMARY KEY, name text);\n",
        "000009_backfill.up.sql": "BEGIN;\n"
                                  "ALTER TABLE users ADD COLUMN email text;\n"
                                  "UPDATE users SET email = name || '@example.com';\n"
                                  "COMMIT;\n"
                                  "\n"
                                  "BEGIN;\n"
                                  "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"
                                  "CREATE UNIQUE INDEX users_email ON users (emial);\n"
                                  "COMMIT;\n",
    })
    message = failure(lambda: migrate(database, ms))
    assert message.startswith("Migration 9 failed: migrations/auth/000009_backfill.up.sql:8:")
    assert "rolled back" not in message
    assert message.endswith(
        "Hint: It manages its own transactions, so devenv ran it as written, as psql and "
        "golang-migrate do (it manages its own transactions (BEGIN; at line 1)): what it "
        "committed before the failure (up to line 4) stays, so it may be partly applied; it is "
        "recorded as failed. Undo or finish its changes in the database by hand and fix the "
        "file, then run `devenv repair auth` and `devenv migrate auth`.")
    assert history(database) == [("8", True), ("9", False)]
    assert query(database, "SELECT count(*) FROM information_schema.columns "
                           "WHERE table_name = 'users' AND column_name = 'email'") == [(1,)]
    assert failure(lambda: migrate(database, ms)).startswith(
        "Refusing to migrate auth: the database history does not match migrations/auth:\n"
        "  - migrations/auth/000009_backfill.up.sql failed on ")


# -- 5. smaller ----------------------------------------------------------------------------------
def test_golang_folder_with_some_downs_rolls_back_until_one_without(
        tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, {
        "000001_users.up.sql": "CREATE TABLE users (id int PRIMARY KEY);\n",
        "000001_users.down.sql": "DROP TABLE users;\n",
        "000002_seed_admin.up.sql": "INSERT INTO users VALUES (1);\n",  # up-only
        "000003_orders.up.sql": "CREATE TABLE orders (id int, user_id int REFERENCES users);\n",
        "000003_orders.down.sql": "DROP TABLE orders;\n",
        "000004_orders_index.up.sql": "CREATE INDEX CONCURRENTLY orders_user ON orders "
                                      "(user_id);\n",
        "000004_orders_index.down.sql": "DROP INDEX CONCURRENTLY orders_user;\n",
    })
    assert [a.version for a in migrate(database, ms).applied] == ["1", "2", "3", "4"]
    assert [u.version for u in rollback(database, ms, steps=2)] == ["4", "3"]
    assert failure(lambda: rollback(database, ms)) == (
        "Cannot roll back: migrations/auth/000002_seed_admin.up.sql (version 2) has no down "
        "migration\n"
        "Hint: Add a .down.sql file to roll back; nothing was rolled back.")
    assert history(database) == [("1", True), ("2", True)]


def test_error_without_position_skips_block_comments(tmp_path: Path, database: str) -> None:
    ms = write(tmp_path, {"V1__a.sql": (
        "CREATE TABLE a (id int PRIMARY KEY);\n"
        "INSERT INTO a VALUES (1);\n"
        "/*\n"
        " * The same id again: a runtime error, which has no position.\n"
        " */\n"
        "INSERT INTO a VALUES (1);\n")})
    assert failure(lambda: migrate(database, ms)).startswith(
        'Migration 1 failed: migrations/auth/V1__a.sql:6:1: duplicate key value violates '
        'unique constraint "a_pkey"\n'
        "  6 | INSERT INTO a VALUES (1);\n")


def test_killed_no_transaction_migration_is_failed_not_rerun(
        tmp_path: Path, database: str, server: str) -> None:
    ms = write(tmp_path, {
        "V1__events.sql": "CREATE TABLE events (id int GENERATED ALWAYS AS IDENTITY, "
                          "what text);\n",
        "V2__backfill.sql": "-- devenv:no-transaction\n"
                            "INSERT INTO events (what) VALUES ('backfill');\n"
                            "SELECT pg_sleep(60);\n",
    })
    process = start_sleeping_runner(tmp_path, database, server)
    try:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    finally:
        process.kill()
    assert history(database) == [("1", True), ("2", False)]
    wait_until_no_advisory_lock(server)
    message = failure(lambda: migrate(database, ms))
    assert message.startswith(
        "Refusing to migrate auth: the database history does not match migrations/auth:\n"
        "  - migrations/auth/V2__backfill.sql failed on ")
    assert "may be partly applied" in message
    assert query(database, "SELECT count(*) FROM events") == [(1,)]


def test_no_transaction_file_failing_before_anything_stayed_leaves_no_row(
        tmp_path: Path, database: str) -> None:
    """Its first statement failed on its own: nothing stayed, so the history says so too and
    no repair is needed."""
    ms = write(tmp_path, {"V1__a.sql": "CREATE TABLE a (id int);\n",
                          "V2__idx.sql": "-- devenv:no-transaction\n"
                                         "INSERT INTO a_archive SELECT * FROM a;\n"
                                         "CREATE INDEX CONCURRENTLY a_id ON a (id);\n"})
    assert failure(lambda: migrate(database, ms)) == (
        'Migration 2 failed: migrations/auth/V2__idx.sql:2:13: relation "a_archive" does not '
        "exist\n"
        "  2 | INSERT INTO a_archive SELECT * FROM a;\n"
        "    |             ^\n"
        "Hint: Nothing of it was applied (it ran statement by statement: "
        "-- devenv:no-transaction; the failing statement rolled back): auth is still at "
        "version 1. Fix the file, then run `devenv migrate auth` again.")
    assert history(database) == [("1", True)]


def test_seed_that_cannot_run_in_a_transaction_names_the_marker(
        tmp_path: Path, database: str) -> None:
    migrate(database, write(tmp_path, {"V1__a.sql": "CREATE TABLE a (id int);\n"}))
    seeds = tmp_path / "seeds" / "auth"
    seeds.mkdir(parents=True)
    (seeds / "01_rows.sql").write_text("INSERT INTO a VALUES (1);\nVACUUM a;\n")
    message = failure(lambda: seed(database, load_seeds(seeds, root=tmp_path)))
    assert "VACUUM cannot run inside a transaction block" in message
    assert message.endswith(
        "Hint: It was rolled back. Seeds always run in a transaction: move the statement into "
        "a migration whose first line is `-- devenv:no-transaction` (Flyway: "
        "`executeInTransaction=false` in its .sql.conf file).")
