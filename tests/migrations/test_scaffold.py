"""`devenv migration new`: the next file in the folder's own format and numbering."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from devenv.errors import DevenvError
from devenv.migrations.formats import absent_folder, load_migrations
from devenv.migrations.scaffold import new_files

NOW = datetime(2026, 12, 7, 22, 30, 5, tzinfo=UTC)


def names(tmp_path: Path, files: dict[str, str], title: str = "Add users",
          fmt: str | None = None) -> list[str]:
    folder = tmp_path / "m"
    for name, text in files.items():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text or "SELECT 1;\n")
    found = (load_migrations(folder, root=tmp_path) if files else
             absent_folder(folder, root=tmp_path, service="s"))
    return [f.path.name for f in new_files(found, title, NOW, wanted=fmt)]  # type: ignore[arg-type]


@pytest.mark.parametrize(("files", "expected"), [
    ({}, ["V1__add_users.sql"]),
    ({"V1__a.sql": "", "V2__b.sql": "", "R__views.sql": ""}, ["V3__add_users.sql"]),
    ({"V1__a.sql": "", "V1.1__b.sql": ""}, ["V1.2__add_users.sql"]),
    ({"V1.0.0__a.sql": "", "V1.24.0__b.sql": "", "V1.3.0__c.sql": ""},
     ["V1.25.0__add_users.sql"]),
    ({"V2_1__a.sql": ""}, ["V2_2__add_users.sql"]),
    ({"V20240101120000__a.sql": ""}, ["V20261207223005__add_users.sql"]),
    ({"000001_a.up.sql": "", "000001_a.down.sql": ""},
     ["000002_add_users.up.sql", "000002_add_users.down.sql"]),
    ({"1_a.up.sql": "", "1_a.down.sql": ""}, ["2_add_users.up.sql", "2_add_users.down.sql"]),
    ({"20240101120000_a.sql": "-- migrate:up\nSELECT 1;\n"}, ["20261207223005_add_users.sql"]),
    # a timestamp from the future (another clock): one more than it, so it still sorts last
    ({"20991231235959_a.sql": "-- migrate:up\nSELECT 1;\n"}, ["20991231235960_add_users.sql"]),
])
def test_the_next_file_follows_the_folders_format_and_numbering(
        tmp_path: Path, files: dict[str, str], expected: list[str]) -> None:
    assert names(tmp_path, files) == expected


def test_an_empty_folder_takes_each_tools_default_numbering(tmp_path: Path) -> None:
    assert names(tmp_path, {}, fmt="golang-migrate") == [
        "000001_add_users.up.sql", "000001_add_users.down.sql"]
    assert names(tmp_path, {}, fmt="dbmate") == ["20261207223005_add_users.sql"]


def test_dbmate_gets_both_sections(tmp_path: Path) -> None:
    found = absent_folder(tmp_path / "m", root=tmp_path, service="s")
    [made] = new_files(found, "Add users", NOW, wanted="dbmate")
    assert made.text == "-- migrate:up\n-- Add users\n\n-- migrate:down\n-- undo: Add users\n"


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(DevenvError) as err:
        names(tmp_path, {"V1__a.sql": ""}, fmt="dbmate")
    assert err.value.message == "m holds Flyway migrations, not dbmate"
    with pytest.raises(DevenvError) as err:
        names(tmp_path / "x", {}, title="--")
    assert "has no letter or digit" in err.value.message
    with pytest.raises(DevenvError) as err:  # a mixed folder: the loader's own error
        names(tmp_path / "y", {"V1__a.sql": "", "1_b.up.sql": ""})
    assert "mixes migration formats" in err.value.message
