"""Issue 24, through the real CLI on a real stack: a ledger that outlives what it describes.

1. A deleted default migrations folder (`migrations/<service>/`, not set in the manifest) with
   applied versions in the ledger is drift, not "no migrations".
2. A seed whose rows a rollback dropped is applied again by the next `migrate`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest

from tests.integration.fault_stack import admin_url, query, small_stack
from tests.integration.stacks import CopiedStack, Result

pytestmark = pytest.mark.xdist_group("test_ledger_lost")

# golang-migrate, so that `rollback` has downs; the seed writes into the table of version 2.
MIGRATIONS = {
    "000001_items.up.sql": "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);\n",
    "000001_items.down.sql": "DROP TABLE items;\n",
    "000002_tags.up.sql": "CREATE TABLE tags (id int PRIMARY KEY, label text NOT NULL);\n",
    "000002_tags.down.sql": "DROP TABLE tags;\n",
}
SEEDS = {
    "01_items.sql": "INSERT INTO items VALUES (1, 'first');\n",
    "02_tags.csv": "id,label\n1,red\n2,blue\n",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    with small_stack(tmp_path_factory.mktemp("ledger") / "p", prefix="t-ledger",
                     migrations=MIGRATIONS, seeds=SEEDS) as copied:
        copied.ok("up")
        yield copied


def failed(result: Result) -> str:
    assert result.code == 1, result.explain()
    assert "Traceback" not in result.stderr, result.explain()
    return result.stderr


def seed_states(stack: CopiedStack) -> dict[str, str]:
    data = json.loads(stack.ok("info", "app", "--json").stdout)
    return {s["script"]: s["state"] for s in data["seeds"]}


def test_rollback_then_migrate_seeds_the_dropped_table_again(stack: CopiedStack) -> None:
    db = admin_url(stack, "app")
    assert query(db, "SELECT id, label FROM tags ORDER BY id") == [(1, "red"), (2, "blue")]

    stack.ok("rollback", "app")
    assert query(db, "SELECT to_regclass('tags') IS NULL") == [(True,)]
    # The data of 02_tags.csv went with its table: info says so, the items seed is untouched.
    assert seed_states(stack) == {"seeds/app/01_items.sql": "applied",
                                  "seeds/app/02_tags.csv": "pending"}

    out = stack.ok("migrate", "app").stdout
    assert "seeded seeds/app/02_tags.csv" in out
    assert "seeded seeds/app/01_items.sql" not in out
    assert query(db, "SELECT id, label FROM tags ORDER BY id") == [(1, "red"), (2, "blue")]
    assert query(db, "SELECT id, name FROM items") == [(1, "first")]
    assert seed_states(stack) == {"seeds/app/01_items.sql": "applied",
                                  "seeds/app/02_tags.csv": "applied"}
    assert "is up to date" in stack.ok("up").stdout


def test_rollback_then_up_seeds_the_dropped_table_again(stack: CopiedStack) -> None:
    db = admin_url(stack, "app")
    stack.ok("rollback", "app", "--steps", "2")
    out = stack.ok("up").stdout
    assert "app: applied 2 migration(s), now at 2" in out
    assert "app: applied 2 seed file(s)" in out
    assert query(db, "SELECT id, label FROM tags ORDER BY id") == [(1, "red"), (2, "blue")]
    assert query(db, "SELECT id, name FROM items") == [(1, "first")]


def test_deleted_default_migrations_folder_is_drift(stack: CopiedStack) -> None:
    folder = stack.root / "migrations" / "app"
    kept = stack.root / "kept-migrations"
    shutil.copytree(folder, kept)
    shutil.rmtree(folder)
    try:
        err = failed(stack.devenv("validate"))
        assert err == (
            "error: migration drift:\n"
            "app: migrations/app does not exist, but the ledger holds 2 applied versions "
            "(latest 2) whose files are gone (folder missing)\n"
            "hint: Restore the folder migrations/app (e.g. `git checkout -- migrations/app`), "
            "or, if the service no longer has migrations, run `devenv repair app` to forget "
            "them (its tables and data stay).\n")

        app = next(s for s in stack.status()["services"] if s["service"] == "app")
        assert app["version"] == "2"
        assert [d["kind"] for d in app["drift"]] == ["folder-missing"]
        table = stack.ok("status").stdout
        assert "1 folder missing" in table

        err = failed(stack.devenv("up"))
        assert ("error: Refusing to migrate app: the database history does not match "
                "migrations/app:\n  - migrations/app does not exist, but the ledger holds 2 "
                "applied versions (latest 2) whose files are gone (folder missing)\n") in err
        assert "`devenv repair app`" in err
        failed(stack.devenv("migrate"))
    finally:
        shutil.copytree(kept, folder)
    stack.ok("validate")
    assert "is up to date" in stack.ok("up").stdout


def test_no_default_folder_and_an_empty_ledger_is_no_migrations(stack: CopiedStack) -> None:
    """After `repair` forgets a deleted folder's versions, the service has no migrations, as a
    brand-new service without a folder has none: `up`, `validate` and `status` are fine."""
    folder = stack.root / "migrations" / "app"
    kept = stack.root / "kept-migrations-2"
    shutil.copytree(folder, kept)
    shutil.rmtree(folder)
    try:
        out = stack.ok("repair", "app").stdout
        assert "app: forgot migrations/app/000002_tags.up.sql (version 2): the file is gone" in out
        stack.ok("validate")
        stack.ok("up")
        app = next(s for s in stack.status()["services"] if s["service"] == "app")
        assert (app["version"], app["pending"], app["drift"]) == (None, 0, [])
        assert query(admin_url(stack, "app"), "SELECT count(*) FROM tags") == [(2,)]
    finally:
        shutil.copytree(kept, folder)
