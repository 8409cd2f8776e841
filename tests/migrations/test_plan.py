"""How a file must run, decided from its statements (pure: no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devenv.errors import DevenvError
from devenv.migrations.formats import Script
from devenv.migrations.plan import plan
from devenv.migrations.sqltext import Statement, control, lead, outside_only, split_statements


def script(text: str, *, transactional: bool = True) -> Script:
    return Script(Path("V1__x.sql"), "migrations/app/V1__x.sql", text, 0, len(text),
                  transactional)


@pytest.mark.parametrize(("sql", "label"), [
    ("CREATE INDEX CONCURRENTLY i ON t (a)", "CREATE INDEX CONCURRENTLY"),
    ("create unique index concurrently if not exists i on t (a)", "CREATE INDEX CONCURRENTLY"),
    ("/* why */ DROP INDEX CONCURRENTLY IF EXISTS s.i", "DROP INDEX CONCURRENTLY"),
    ("REINDEX (VERBOSE) TABLE CONCURRENTLY t", "REINDEX ... CONCURRENTLY"),
    ("REINDEX DATABASE app", "REINDEX DATABASE"),
    ("VACUUM (ANALYZE) t", "VACUUM"),
    ("CREATE DATABASE other", "CREATE DATABASE"),
    ("ALTER SYSTEM SET work_mem = '64MB'", "ALTER SYSTEM"),
    ("ALTER TABLE m DETACH PARTITION m_2024 CONCURRENTLY", "ALTER TABLE ... DETACH PARTITION ... "
                                                           "CONCURRENTLY"),
    ("CREATE MATERIALIZED VIEW daily WITH (timescaledb.continuous) AS SELECT time_bucket("
     "'1 day', at) AS day, count(*) FROM m GROUP BY 1", "CREATE MATERIALIZED VIEW ... WITH "
                                                       "(timescaledb.continuous)"),
    ("CALL refresh_continuous_aggregate('daily', NULL, NULL)",
     "CALL refresh_continuous_aggregate"),
    ("CLUSTER", "CLUSTER"),
])
def test_statements_that_cannot_run_in_a_transaction(sql: str, label: str) -> None:
    assert outside_only(Statement(0, sql)) == label


@pytest.mark.parametrize("sql", [
    "CREATE INDEX i ON t (a)",
    "CREATE MATERIALIZED VIEW daily WITH (timescaledb.continuous) AS SELECT 1 WITH NO DATA",
    "SELECT 'CREATE INDEX CONCURRENTLY x ON t (a)'",
    "DO $$ BEGIN EXECUTE 'VACUUM'; END $$",
    "-- VACUUM\nANALYZE t",
    "CLUSTER t USING t_pkey",
    "ALTER TABLE m DETACH PARTITION m_2024",
])
def test_ordinary_statements(sql: str) -> None:
    assert outside_only(Statement(0, sql)) is None


@pytest.mark.parametrize(("sql", "kind"), [
    ("BEGIN", "open"), ("begin isolation level serializable", "open"),
    ("START TRANSACTION", "open"), ("COMMIT", "commit"), ("END", "commit"),
    ("ROLLBACK", "rollback"), ("ROLLBACK TO SAVEPOINT s", None), ("SAVEPOINT s", None),
    ("DO $$ BEGIN NULL; END $$", None), ("COMMIT PREPARED 'x'", None),
])
def test_transaction_control(sql: str, kind: str | None) -> None:
    assert control(Statement(0, sql)) == kind


def test_lead_skips_blank_lines_and_both_comment_styles() -> None:
    sql = "\n  -- one\n/* two\n   /* nested */ */\n  INSERT INTO t VALUES (1)"
    assert sql[lead(sql):].startswith("INSERT")


def test_plans() -> None:
    assert plan(script("CREATE TABLE t (a int);\nINSERT INTO t VALUES (1);\n")).mode == \
        "transaction"
    only = plan(script("SET lock_timeout = '5s';\nCREATE INDEX CONCURRENTLY i ON t (a);\n"))
    assert (only.mode, only.why) == ("statements", "CREATE INDEX CONCURRENTLY at line 2 cannot "
                                                   "run in one")
    marked = plan(script("-- devenv:no-transaction\nUPDATE t SET a = 1;\n", transactional=False))
    assert (marked.mode, marked.why) == ("statements", "-- devenv:no-transaction")
    wrapped = plan(script("BEGIN ISOLATION LEVEL SERIALIZABLE;\nCREATE TABLE t (a int);\n"
                          "INSERT INTO t VALUES (1);\nCOMMIT;\n"))
    assert (wrapped.mode, wrapped.begin) == ("wrapped", "BEGIN ISOLATION LEVEL SERIALIZABLE;")
    assert [s.sql.strip() for s in split_statements(wrapped.script.sql)] == [
        "CREATE TABLE t (a int);", "INSERT INTO t VALUES (1);"]
    written = plan(script("BEGIN;\nCREATE TABLE t (a int);\nCOMMIT;\nBEGIN;\nDROP TABLE u;\n"
                          "COMMIT;\n"))
    assert (written.mode, written.own_transactions) == ("statements", True)


def test_unclosed_begin_is_refused() -> None:
    with pytest.raises(DevenvError) as caught:
        plan(script("CREATE TABLE t (a int);\nBEGIN;\nDROP TABLE u;\n"))
    assert str(caught.value).startswith(
        "migrations/app/V1__x.sql:2: this BEGIN is never committed")
