"""Seeds against a real PostgreSQL: SQL and CSV files applied once, edits reported, force."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from devenv.errors import DevenvError
from devenv.migrations import SeedSet, load_seeds, migrate, rollback, seed, seed_status
from tests.integration.test_migrations import database, query, server, write

__all__ = ["database", "server"]  # fixtures, imported for pytest


def seeds_in(root: Path, files: dict[str, str]) -> SeedSet:
    base = root / "seeds" / "billing"
    base.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (base / name).write_text(text, encoding="utf-8")
    return load_seeds(base, root=root)


SCHEMA = {"V1__schema.sql": (
    "CREATE TABLE currencies (code text PRIMARY KEY, name text NOT NULL, symbol text);\n"
    "CREATE SCHEMA billing;\n"
    "CREATE TABLE billing.plans (code text PRIMARY KEY, currency text REFERENCES currencies,"
    " price numeric NOT NULL);\n"
    "CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL);\n")}

SEEDS = {
    "01_settings.sql": "INSERT INTO settings VALUES ('theme', 'dark')\n"
                       "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;\n",
    "02_currencies.csv": 'code,name,symbol\nEUR,Euro,€\nUSD,"Dollar, US",\nJPY,Yen,¥\n',
    "03_billing.plans.csv": "code,currency,price\npro,EUR,10.5\nteam,USD,40\n",
    "README.md": "not a seed",
}


def migrated(tmp_path: Path, database: str) -> None:
    migrate(database, write(tmp_path, SCHEMA, folder="migrations/billing"))


def test_sql_and_csv_seeds_apply_once(tmp_path: Path, database: str) -> None:
    migrated(tmp_path, database)
    seeds = seeds_in(tmp_path, SEEDS)
    assert [s.state for s in seed_status(database, seeds)] == ["pending"] * 3
    events: list[str] = []
    result = seed(database, seeds, on_event=events.append)
    assert (result.applied, result.changed) == (
        ["seeds/billing/01_settings.sql", "seeds/billing/02_currencies.csv",
         "seeds/billing/03_billing.plans.csv"], [])
    assert [e.rsplit(" in ", 1)[0] for e in events] == [f"seeded {s}" for s in result.applied]
    assert query(database, "SELECT code, name, symbol FROM currencies ORDER BY code") == [
        ("EUR", "Euro", "€"), ("JPY", "Yen", "¥"), ("USD", "Dollar, US", None)]
    assert query(database, "SELECT code, price::text FROM billing.plans ORDER BY code") == [
        ("pro", "10.5"), ("team", "40")]
    again = seed(database, seeds)
    assert (again.applied, again.changed) == ([], [])
    assert [s.state for s in seed_status(database, seeds)] == ["applied"] * 3
    assert query(database, "SELECT count(*) FROM currencies") == [(3,)]


def test_edited_seed_is_reported_and_applied_only_with_force(
        tmp_path: Path, database: str) -> None:
    migrated(tmp_path, database)
    seed(database, seeds_in(tmp_path, SEEDS))
    seeds = seeds_in(tmp_path, {"01_settings.sql": "INSERT INTO settings VALUES ('theme', "
                                                   "'light') ON CONFLICT (key) DO UPDATE SET "
                                                   "value = EXCLUDED.value;\n"})
    assert [(s.script, s.state) for s in seed_status(database, seeds)] == [
        ("seeds/billing/01_settings.sql", "changed"),
        ("seeds/billing/02_currencies.csv", "applied"),
        ("seeds/billing/03_billing.plans.csv", "applied")]
    events: list[str] = []
    result = seed(database, seeds, on_event=events.append)
    assert (result.applied, result.changed) == ([], ["seeds/billing/01_settings.sql"])
    assert events == ["seeds/billing/01_settings.sql changed since it was applied: not "
                      "re-applied (`devenv seed billing --force` re-applies it)"]
    assert query(database, "SELECT value FROM settings") == [("dark",)]
    forced = seed(database, seeds, force=True)
    assert (forced.applied, forced.changed) == (["seeds/billing/01_settings.sql"], [])
    assert query(database, "SELECT value FROM settings") == [("light",)]
    assert [s.state for s in seed_status(database, seeds)] == ["applied"] * 3


def test_failing_sql_seed_names_file_and_line(tmp_path: Path, database: str) -> None:
    migrated(tmp_path, database)
    seeds = seeds_in(tmp_path, {"01_settings.sql": "INSERT INTO settings VALUES ('a', 'b');\n"
                                                   "INSERT INTO setings VALUES ('c', 'd');\n"})
    with pytest.raises(DevenvError) as caught:
        seed(database, seeds)
    assert str(caught.value) == (
        'Seed failed: seeds/billing/01_settings.sql:2:13: relation "setings" does not exist\n'
        "  2 | INSERT INTO setings VALUES ('c', 'd');\n"
        "    |             ^\n"
        "Hint: It was rolled back. Fix the file, then run `devenv seed billing` again.")
    assert query(database, "SELECT count(*) FROM settings") == [(0,)]
    assert [s.state for s in seed_status(database, seeds)] == ["pending"]


def test_failing_csv_seed_names_file_and_row(tmp_path: Path, database: str) -> None:
    migrated(tmp_path, database)
    seeds = seeds_in(tmp_path, {"02_currencies.csv": "code,name\nEUR,Euro\nUSD\n"})
    with pytest.raises(DevenvError) as caught:
        seed(database, seeds)
    assert str(caught.value) == (
        'Seed failed: seeds/billing/02_currencies.csv: missing data for column "name"\n'
        "CONTEXT: COPY currencies, line 3: \"USD\"\n"
        "Hint: It was rolled back. Fix the file, then run `devenv seed billing` again.")
    assert query(database, "SELECT count(*) FROM currencies") == [(0,)]


def test_a_seed_whose_table_a_rollback_dropped_is_pending_again(
        tmp_path: Path, database: str) -> None:
    """Issue 24: rollback, then migrate: the seed of the dropped table runs again, the seed of
    the table that stayed does not (it would insert its rows twice)."""
    ms = write(tmp_path, {
        "000001_settings.up.sql": "CREATE TABLE settings (key text PRIMARY KEY, value text);\n",
        "000001_settings.down.sql": "DROP TABLE settings;\n",
        "000002_plans.up.sql": "CREATE TABLE plans (code text, price numeric, at date, "
                               "PRIMARY KEY (code, at)) PARTITION BY RANGE (at);\n"
                               "CREATE TABLE plans_2024 PARTITION OF plans FOR VALUES FROM "
                               "('2024-01-01') TO ('2025-01-01');\n",
        "000002_plans.down.sql": "DROP TABLE plans;\n",
    }, folder="migrations/billing")
    migrate(database, ms)
    seeds = seeds_in(tmp_path, {
        "01_settings.sql": "INSERT INTO settings VALUES ('theme', 'dark');\n"
                           "CREATE TEMP TABLE scratch AS SELECT 1 AS x;\n",
        "02_plans.csv": "code,price,at\npro,10.5,2024-03-01\n",
        "03_nothing.sql": "SELECT 1;\n",
    })
    seed(database, seeds)
    assert [s.state for s in seed_status(database, seeds)] == ["applied"] * 3

    rollback(database, ms)
    assert [(s.script, s.state, s.applied_at) for s in seed_status(database, seeds)][1] == (
        "seeds/billing/02_plans.csv", "pending", None)
    assert [s.state for s in seed_status(database, seeds)] == ["applied", "pending", "applied"]

    migrate(database, ms)
    again = seed(database, seeds)
    assert (again.applied, again.changed) == (["seeds/billing/02_plans.csv"], [])
    assert query(database, "SELECT code, price::text FROM plans") == [("pro", "10.5")]
    assert query(database, "SELECT key, value FROM settings") == [("theme", "dark")]
    assert [s.state for s in seed_status(database, seeds)] == ["applied"] * 3
    assert seed(database, seeds).applied == []


def test_a_seed_ledger_of_an_earlier_devenv_gains_the_tables_column(
        tmp_path: Path, database: str) -> None:
    """Rows recorded before devenv kept each seed's tables count as applied (what they wrote
    is unknown); the next seed run adds the column and records what new seeds write."""
    migrated(tmp_path, database)
    seeds = seeds_in(tmp_path, {"01_settings.sql": SEEDS["01_settings.sql"]})
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE TABLE devenv.devenv_seed_history (script text PRIMARY KEY, "
                     "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), "
                     "success boolean NOT NULL)")
        conn.execute("INSERT INTO devenv.devenv_seed_history (script, checksum, success) "
                     "VALUES ('01_settings.sql', %s, true)", (seeds.files[0].checksum,))
    assert [s.state for s in seed_status(database, seeds)] == ["applied"]
    seeds = seeds_in(tmp_path, {"02_currencies.csv": SEEDS["02_currencies.csv"]})
    assert seed(database, seeds).applied == ["seeds/billing/02_currencies.csv"]
    assert query(database, "SELECT script, tables IS NULL FROM devenv.devenv_seed_history "
                           "ORDER BY script") == [("01_settings.sql", True),
                                                  ("02_currencies.csv", False)]
    assert [s.state for s in seed_status(database, seeds)] == ["applied", "applied"]
