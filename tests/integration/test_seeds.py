"""Seeds against a real PostgreSQL: SQL and CSV files applied once, edits reported, force."""

from __future__ import annotations

from pathlib import Path

import pytest

from devenv.errors import DevenvError
from devenv.migrations import SeedSet, load_seeds, migrate, seed, seed_status
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
