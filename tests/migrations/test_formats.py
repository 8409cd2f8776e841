"""Migration and seed files on disk: formats, ordering and every refusal, without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devenv.errors import DevenvError
from devenv.migrations import MigrationSet, Version, load_migrations, load_seeds
from devenv.migrations.formats import absent_folder
from devenv.migrations.ledger import LedgerRow
from devenv.migrations.sqltext import checksum, excerpt, locate, split_statements
from devenv.migrations.state import History, drift_hint, info_rows, pending, problems


def folder(tmp_path: Path, files: dict[str, str | bytes], name: str = "migrations/auth") -> Path:
    base = tmp_path / name
    base.mkdir(parents=True)
    for rel, content in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return base


def load(tmp_path: Path, files: dict[str, str | bytes]) -> MigrationSet:
    return load_migrations(folder(tmp_path, files), root=tmp_path)


def refusal(tmp_path: Path, files: dict[str, str | bytes]) -> DevenvError:
    with pytest.raises(DevenvError) as caught:
        load(tmp_path, files)
    return caught.value


# --- versions ---------------------------------------------------------------------------------

def test_versions_order_numerically_part_by_part() -> None:
    texts = ["10", "2_1", "1.1", "2", "1", "1.0.1"]
    assert [str(v) for v in sorted(map(Version.parse, texts))] == [
        "1", "1.0.1", "1.1", "2", "2.1", "10"]


def test_trailing_zero_parts_do_not_count() -> None:
    assert Version.parse("1.0") == Version.parse("1")
    assert hash(Version.parse("2.0.0")) == hash(Version.parse("2"))


@given(st.lists(st.integers(0, 30), min_size=1, max_size=4),
       st.lists(st.integers(0, 30), min_size=1, max_size=4))
def test_version_order_matches_padded_tuples(a: list[int], b: list[int]) -> None:
    width = max(len(a), len(b))
    pa, pb = a + [0] * (width - len(a)), b + [0] * (width - len(b))
    va, vb = Version.parse(".".join(map(str, a))), Version.parse("_".join(map(str, b)))
    assert (va < vb) == (pa < pb)
    assert (va == vb) == (pa == pb)


def test_a_version_must_be_numbers() -> None:
    with pytest.raises(DevenvError) as caught:
        Version.parse("1.a")
    assert str(caught.value) == ("'1.a' is not a migration version\n"
                                 "Hint: Versions are numbers separated by dots, like 1, 1.2 or "
                                 "20240101.")


# --- formats ----------------------------------------------------------------------------------

def test_flyway_versioned_and_repeatable(tmp_path: Path) -> None:
    ms = load(tmp_path, {
        "V10__ten.sql": "SELECT 10;", "V2_1__two_one.sql": "SELECT 21;",
        "V1.0.1__patch.sql": "SELECT 101;", "V1__Initial_setup.sql": "SELECT 1;",
        "V1.1__minor.sql": "SELECT 11;", "V2__two.sql": "SELECT 2;",
        "R__views.sql": "SELECT 'v';", "R__a_function.sql": "SELECT 'f';",
        "README.md": "ignored", "flyway.conf": "flyway.url=ignored",
    })
    assert ms.format == "flyway"
    assert ms.service == "auth"
    assert ms.shown == "migrations/auth"
    assert [(str(m.version), m.description, m.script) for m in ms.versioned] == [
        ("1", "Initial setup", "V1__Initial_setup.sql"), ("1.0.1", "patch", "V1.0.1__patch.sql"),
        ("1.1", "minor", "V1.1__minor.sql"), ("2", "two", "V2__two.sql"),
        ("2.1", "two one", "V2_1__two_one.sql"), ("10", "ten", "V10__ten.sql")]
    assert [(m.version, m.description) for m in ms.repeatable] == [
        (None, "a function"), (None, "views")]
    first = ms.versioned[0]
    assert first.up.shown == "migrations/auth/V1__Initial_setup.sql"
    assert first.up.sql == "SELECT 1;"
    assert first.up.transactional
    assert first.down is None
    assert first.checksum == checksum("SELECT 1;")


def test_flyway_reads_sub_folders(tmp_path: Path) -> None:
    ms = load(tmp_path, {"V1__a.sql": "SELECT 1;", "2024/V2__b.sql": "SELECT 2;"})
    assert [m.script for m in ms.versioned] == ["V1__a.sql", "2024/V2__b.sql"]
    assert ms.versioned[1].up.shown == "migrations/auth/2024/V2__b.sql"


def test_golang_migrate_pairs(tmp_path: Path) -> None:
    ms = load(tmp_path, {
        "000002_add_email.up.sql": "ALTER TABLE users ADD email text;",
        "000002_add_email.down.sql": "ALTER TABLE users DROP email;",
        "000001_create_users.up.sql": "CREATE TABLE users (id int);",
        "000001_create_users.down.sql": "DROP TABLE users;",
    })
    assert ms.format == "golang-migrate"
    assert [(str(m.version), m.description, m.script) for m in ms.versioned] == [
        ("1", "create users", "000001_create_users.up.sql"),
        ("2", "add email", "000002_add_email.up.sql")]
    down = ms.versioned[1].down
    assert down is not None
    assert down.sql == "ALTER TABLE users DROP email;"
    assert down.shown == "migrations/auth/000002_add_email.down.sql"


def test_golang_migrate_without_any_down_files(tmp_path: Path) -> None:
    ms = load(tmp_path, {"1_a.up.sql": "SELECT 1;", "2_b.up.sql": "SELECT 2;"})
    assert [m.down for m in ms.versioned] == [None, None]


DBMATE = """-- migrate:up
CREATE TABLE users (id int);

-- migrate:down
DROP TABLE users;
"""


def test_dbmate_sections(tmp_path: Path) -> None:
    ms = load(tmp_path, {"20240102000000_create_users.sql": DBMATE,
                         "20240101000000_init.sql": "-- migrate:up\nSELECT 1;\n"})
    assert ms.format == "dbmate"
    assert [str(m.version) for m in ms.versioned] == ["20240101000000", "20240102000000"]
    users = ms.versioned[1]
    assert users.description == "create users"
    assert users.up.sql == "CREATE TABLE users (id int);\n\n"
    assert users.up.start == len("-- migrate:up\n")
    assert users.down is not None and users.down.sql == "DROP TABLE users;\n"
    assert users.checksum == checksum("CREATE TABLE users (id int);\n\n")
    assert ms.versioned[0].down is None


def test_dbmate_transaction_false_and_devenv_header(tmp_path: Path) -> None:
    ms = load(tmp_path, {
        "1_a.sql": "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (c);\n",
        "2_b.sql": "-- migrate:up\n-- devenv:no-transaction\n"
                   "CREATE INDEX CONCURRENTLY j ON t (c);\n",
        "3_c.sql": "-- migrate:up\nSELECT 1;\n",
    })
    assert [m.up.transactional for m in ms.versioned] == [False, False, True]


def test_no_transaction_header_and_flyway_script_config(tmp_path: Path) -> None:
    ms = load(tmp_path, {
        "V1__a.sql": "-- devenv:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);",
        "V2__b.sql": "CREATE INDEX CONCURRENTLY j ON t (c);",
        "V2__b.sql.conf": "executeInTransaction=false\n",
        "V3__c.sql": "SELECT 1; -- devenv:no-transaction",
    })
    assert [m.up.transactional for m in ms.versioned] == [False, False, True]


def test_crlf_line_endings_do_not_change_the_checksum(tmp_path: Path) -> None:
    ms = load(tmp_path, {"V1__a.sql": b"SELECT 1;\r\nSELECT 2;\r\n",
                         "V2__b.sql": b"\xef\xbb\xbfSELECT 3;"})
    assert ms.versioned[0].checksum == checksum("SELECT 1;\nSELECT 2;\n")
    assert ms.versioned[1].up.sql == "SELECT 3;"


def test_empty_folder_has_no_format(tmp_path: Path) -> None:
    ms = load(tmp_path, {"README.md": "later"})
    assert (ms.format, ms.versioned, ms.repeatable) == (None, (), ())


# --- refusals ---------------------------------------------------------------------------------

def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DevenvError) as caught:
        load_migrations(tmp_path / "migrations" / "nope", root=tmp_path)
    assert str(caught.value) == ("Migration folder migrations/nope does not exist\n"
                                 "Hint: Create it, or fix the migrations path in the manifest.")


def test_mixed_formats(tmp_path: Path) -> None:
    error = refusal(tmp_path, {"V1__a.sql": "SELECT 1;", "2_b.up.sql": "SELECT 2;",
                               "2_b.down.sql": "SELECT 2;", "3_c.sql": "-- migrate:up\nSELECT 3;"})
    assert str(error) == (
        "migrations/auth mixes migration formats: Flyway (migrations/auth/V1__a.sql); "
        "golang-migrate (migrations/auth/2_b.down.sql, migrations/auth/2_b.up.sql); "
        "dbmate (migrations/auth/3_c.sql)\n"
        "Hint: Keep one format per folder: Flyway, golang-migrate or dbmate.")


def test_unmatched_sql_file_in_a_flyway_folder(tmp_path: Path) -> None:
    error = refusal(tmp_path, {"V1__a.sql": "SELECT 1;", "V2_oops.sql": "SELECT 2;"})
    assert str(error) == (
        "migrations/auth/V2_oops.sql: file name matches no migration format (expected "
        "V<version>__<description>.sql or R__<description>.sql)\n"
        "Hint: Rename the file, or move it out of the migration folder.")


def test_unmatched_sql_files_alone(tmp_path: Path) -> None:
    error = refusal(tmp_path, {"schema.sql": "SELECT 1;", "init.sql": "SELECT 2;"})
    assert str(error) == (
        "migrations/auth/init.sql, migrations/auth/schema.sql: file names match no migration "
        "format (expected Flyway V<version>__<description>.sql or R__<description>.sql; "
        "golang-migrate <version>_<name>.up.sql and <version>_<name>.down.sql; "
        "dbmate <version>_<name>.sql)\n"
        "Hint: Rename the file, or move it out of the migration folder.")


def test_duplicate_flyway_version(tmp_path: Path) -> None:
    error = refusal(tmp_path, {"V2__a.sql": "SELECT 1;", "V2.0__b.sql": "SELECT 2;",
                               "V1__c.sql": "SELECT 3;"})
    assert str(error) == (
        "Duplicate migration version 2.0: migrations/auth/V2.0__b.sql, "
        "migrations/auth/V2__a.sql\n"
        "Hint: Give each migration its own version.")


def test_duplicate_golang_version(tmp_path: Path) -> None:
    error = refusal(tmp_path, {"1_a.up.sql": "SELECT 1;", "1_b.up.sql": "SELECT 2;"})
    assert str(error) == (
        "Duplicate migration version 1: migrations/auth/1_a.up.sql, migrations/auth/1_b.up.sql\n"
        "Hint: Give each migration its own version.")


def test_some_migrations_without_down_files_are_valid(tmp_path: Path) -> None:
    """golang-migrate accepts a folder where only some migrations have a down file."""
    ms = load(tmp_path, {"1_a.up.sql": "SELECT 1;", "1_a.down.sql": "SELECT -1;",
                         "2_b.up.sql": "SELECT 2;"})
    assert [(str(m.version), m.down is not None) for m in ms.versioned] == [("1", True),
                                                                            ("2", False)]


def test_down_without_its_up_is_refused(tmp_path: Path) -> None:
    error = refusal(tmp_path, {"1_a.up.sql": "SELECT 1;", "1_a.down.sql": "SELECT 1;",
                               "2_b.up.sql": "SELECT 2;", "3_c.down.sql": "SELECT 3;"})
    assert str(error) == (
        "migrations/auth/3_c.down.sql has no up file (expected migrations/auth/3_c.up.sql)\n"
        "Hint: Add the missing .up.sql file (a down file undoes its up file of the same "
        "version), or delete the down file.")


def test_non_utf8_file(tmp_path: Path) -> None:
    error = refusal(tmp_path, {"V1__a.sql": b"SELECT 1;\nSELECT '\xe9t\xe9';\n"})
    assert str(error) == ("migrations/auth/V1__a.sql is not valid UTF-8 (byte 0xe9 at line 2)\n"
                          "Hint: Save the file as UTF-8.")


def test_dbmate_without_up_marker(tmp_path: Path) -> None:
    error = refusal(tmp_path, {"1_a.sql": "CREATE TABLE t (id int);"})
    assert str(error) == (
        "migrations/auth/1_a.sql has no '-- migrate:up' line\n"
        "Hint: dbmate migrations start their SQL with a '-- migrate:up' line.")


def test_dbmate_with_empty_up_section(tmp_path: Path) -> None:
    error = refusal(tmp_path, {"1_a.sql": "-- migrate:up\n\n-- migrate:down\nDROP TABLE t;\n"})
    assert str(error) == (
        "migrations/auth/1_a.sql has an empty '-- migrate:up' section\n"
        "Hint: Write the migration's SQL under '-- migrate:up'.")


def test_dbmate_with_two_up_markers(tmp_path: Path) -> None:
    error = refusal(tmp_path, {"1_a.sql": "-- migrate:up\nSELECT 1;\n-- migrate:up\nSELECT 2;\n"})
    assert str(error) == (
        "migrations/auth/1_a.sql has more than one '-- migrate:up' line\n"
        "Hint: Keep one up section and at most one down section.")


# --- positions and statements -----------------------------------------------------------------

def test_locate_and_excerpt() -> None:
    text = "SELECT 1;\r\nCREATE TABL t (id int);\n"
    where = locate(text, text.index("TABL"))
    assert (where.line, where.column, where.text) == (2, 8, "CREATE TABL t (id int);")
    assert excerpt(where) == "  2 | CREATE TABL t (id int);\n    |        ^"


def test_split_statements_understands_quotes_comments_and_dollar_bodies() -> None:
    script = (
        "-- header; not a statement\n"
        "CREATE TABLE t (a text DEFAULT 'x;y', \"b;c\" int);\n"
        "/* a /* nested; */ comment */\n"
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END $body$;\n"
        "SELECT E'it\\'s;', $$a;b$$, 'don''t;';\n"
        "CREATE INDEX CONCURRENTLY i ON t (a)\n"
        "-- trailing comment only;\n"
    )
    statements = split_statements(script)
    assert [s.sql for s in statements] == [
        "-- header; not a statement\nCREATE TABLE t (a text DEFAULT 'x;y', \"b;c\" int);",
        "\n/* a /* nested; */ comment */\nCREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS "
        "$body$ BEGIN RETURN 1; END $body$;",
        "\nSELECT E'it\\'s;', $$a;b$$, 'don''t;';",
        "\nCREATE INDEX CONCURRENTLY i ON t (a)\n-- trailing comment only;\n"]
    assert all(script[s.start:].startswith(s.sql) for s in statements)


# --- seeds ------------------------------------------------------------------------------------

def test_seed_files_in_name_order_with_tables_from_names(tmp_path: Path) -> None:
    base = folder(tmp_path, {
        "03_billing.plans.csv": "code,price\npro,10\n", "01_init.sql": "SELECT 1;",
        "02_currencies.csv": "code, name\nEUR,Euro\n", "currencies.csv": "code\nUSD\n",
        "README.md": "ignored",
    }, name="seeds/billing")
    seeds = load_seeds(base, root=tmp_path)
    assert seeds.service == "billing"
    assert [(f.name, f.kind, f.table, f.columns) for f in seeds.files] == [
        ("01_init.sql", "sql", (), ()),
        ("02_currencies.csv", "csv", ("currencies",), ("code", "name")),
        ("03_billing.plans.csv", "csv", ("billing", "plans"), ("code", "price")),
        ("currencies.csv", "csv", ("currencies",), ("code",))]
    assert seeds.files[1].shown == "seeds/billing/02_currencies.csv"


def test_seed_csv_with_a_bad_table_name(tmp_path: Path) -> None:
    base = folder(tmp_path, {"01_a.b.c.csv": "x\n1\n"}, name="seeds/billing")
    with pytest.raises(DevenvError) as caught:
        load_seeds(base, root=tmp_path)
    assert str(caught.value) == (
        "seeds/billing/01_a.b.c.csv: 'a.b.c' is not a table name (table or schema.table)\n"
        "Hint: Name CSV seeds after their table, like 02_currencies.csv or 03_billing.plans.csv.")


def test_seed_csv_with_an_empty_header_column(tmp_path: Path) -> None:
    base = folder(tmp_path, {"01_t.csv": "a,,b\n1,2,3\n"}, name="seeds/billing")
    with pytest.raises(DevenvError) as caught:
        load_seeds(base, root=tmp_path)
    assert str(caught.value) == (
        "seeds/billing/01_t.csv: the header line has an empty column name\n"
        "Hint: The first line of a CSV seed names the table's columns.")


def test_seed_empty_and_non_utf8_files(tmp_path: Path) -> None:
    base = folder(tmp_path, {"01_t.csv": ""}, name="seeds/a")
    with pytest.raises(DevenvError) as caught:
        load_seeds(base, root=tmp_path)
    assert str(caught.value) == "seeds/a/01_t.csv is empty\nHint: Fill it in, or delete the file."
    base = folder(tmp_path, {"01_t.sql": b"\xff"}, name="seeds/b")
    with pytest.raises(DevenvError) as caught:
        load_seeds(base, root=tmp_path)
    assert str(caught.value) == ("seeds/b/01_t.sql is not valid UTF-8 (byte 0xff at line 1)\n"
                                 "Hint: Save the file as UTF-8.")


def test_missing_seed_folder(tmp_path: Path) -> None:
    with pytest.raises(DevenvError) as caught:
        load_seeds(tmp_path / "seeds" / "x", root=tmp_path)
    assert str(caught.value) == ("Seed folder seeds/x does not exist\n"
                                 "Hint: Create it, or fix the seeds path in the manifest.")


# --- files against the ledger (pure) ----------------------------------------------------------

def _rows(*applied: tuple[str | None, str, str, bool]) -> list[LedgerRow]:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    return [LedgerRow(rank, version, "d", "versioned" if version else "repeatable", script,
                      digest, "svc", when, 3, success)
            for rank, (version, script, digest, success) in enumerate(applied, 1)]


def test_pending_respects_target_and_repeatables(tmp_path: Path) -> None:
    ms = load(tmp_path, {"V1__a.sql": "SELECT 1;", "V2__b.sql": "SELECT 2;",
                         "V3__c.sql": "SELECT 3;", "R__v.sql": "SELECT 'v';"})
    history = History(_rows(("1", "V1__a.sql", ms.versioned[0].checksum, True)))
    assert [m.script for m in pending(ms, history)] == ["V2__b.sql", "V3__c.sql", "R__v.sql"]
    assert [m.script for m in pending(ms, history, target=Version.parse("2"))] == ["V2__b.sql"]
    history = History(_rows(("1", "V1__a.sql", ms.versioned[0].checksum, True),
                            (None, "R__v.sql", ms.repeatable[0].checksum, True)))
    assert [m.script for m in pending(ms, history)] == ["V2__b.sql", "V3__c.sql"]


def test_problems_name_each_file(tmp_path: Path) -> None:
    ms = load(tmp_path, {"V1__a.sql": "SELECT 1;", "V2__b.sql": "SELECT 2;",
                         "V4__d.sql": "SELECT 4;"})
    history = History(_rows(("1", "V1__a.sql", "0" * 64, True), ("3", "V3__c.sql", "x", True),
                            ("4", "V4__d.sql", ms.versioned[2].checksum, False)))
    assert [(p.kind, p.text) for p in problems(ms, history, out_of_order=False)] == [
        ("changed", "migrations/auth/V1__a.sql was changed after it was applied (checksum "
                    f"000000000000 applied, {ms.versioned[0].checksum[:12]} now)"),
        ("out-of-order", "migrations/auth/V2__b.sql (version 2) is not applied and older than "
                         "the latest applied version 3"),
        ("missing", "migrations/auth/V3__c.sql was applied (version 3) but the file is gone"),
        ("failed", "migrations/auth/V4__d.sql failed on 2024-05-01 12:00:00 and may be partly "
                   "applied")]
    assert [p.kind for p in problems(ms, history, out_of_order=True)] == [
        "changed", "missing", "failed"]
    assert [(r.version, r.state) for r in info_rows(ms, history)] == [
        ("1", "changed"), ("2", "pending"), ("3", "missing"), ("4", "failed")]


def test_a_missing_default_folder_with_applied_versions_is_drift(tmp_path: Path) -> None:
    """Issue 24: the folder went, the ledger stayed: one problem naming the folder, not "no
    migrations"; an empty ledger without a folder is a service with no migrations."""
    ms = absent_folder(tmp_path / "migrations" / "auth", root=tmp_path, service="auth")
    assert (ms.missing, ms.format, ms.all) == (True, None, ())
    history = History(_rows(("1", "V1__a.sql", "a", True), ("1.2", "V1.2__b.sql", "b", True),
                            (None, "R__v.sql", "v", True)))
    found = problems(ms, history, out_of_order=False)
    assert [(p.kind, p.text) for p in found] == [
        ("folder-missing", "migrations/auth does not exist, but the ledger holds 2 applied "
                           "versions (latest 1.2) and 1 repeatable migration whose files are "
                           "gone (folder missing)")]
    assert drift_hint("auth", found, folder=ms.shown) == (
        "Restore the folder migrations/auth (e.g. `git checkout -- migrations/auth`), or, if "
        "the service no longer has migrations, run `devenv repair auth` to forget them (its "
        "tables and data stay).")
    assert pending(ms, history) == []
    assert [(r.version, r.state) for r in info_rows(ms, history)] == [
        ("1", "missing"), ("1.2", "missing"), (None, "missing")]
    one = History(_rows(("7", "V7__a.sql", "a", True)))
    assert [p.text for p in problems(ms, one, out_of_order=False)] == [
        "migrations/auth does not exist, but the ledger holds 1 applied version (latest 7) "
        "whose files are gone (folder missing)"]
    assert problems(ms, History([]), out_of_order=False) == []
