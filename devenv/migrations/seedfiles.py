"""Seed files on disk: `seeds/<service>/*.sql` and `*.csv`, in name order. Pure, no database.

A CSV file loads into the table its name says, without a leading order prefix of digits and an
underscore: `02_currencies.csv` -> currencies, `03_billing.plans.csv` -> billing.plans; its
header line gives the column list.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from devenv.errors import DevenvError
from devenv.migrations.sqltext import checksum, display_path, read_sql_file

_ORDER_PREFIX = re.compile(r"^\d+_")


@dataclass(frozen=True)
class SeedFile:
    path: Path
    shown: str  # relative to the root, for messages
    name: str  # file name: the seed ledger's key
    kind: Literal["sql", "csv"]
    text: str
    checksum: str  # sha256 hex of the content, line endings normalised
    table: tuple[str, ...] = ()  # csv: (table,) or (schema, table)
    columns: tuple[str, ...] = ()  # csv: from the header line


@dataclass(frozen=True)
class SeedSet:
    folder: Path
    shown: str
    service: str
    files: tuple[SeedFile, ...]


def load_seeds(folder: Path, *, root: Path, service: str | None = None) -> SeedSet:
    """Read and check every seed file; other files (README.md...) are ignored."""
    shown_folder = display_path(folder, root)
    if not folder.is_dir():
        raise DevenvError(f"Seed folder {shown_folder} does not exist",
                          "Create it, or fix the seeds path in the manifest.")
    files = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if not path.is_file() or path.suffix not in (".sql", ".csv"):
            continue
        shown = display_path(path, root)
        text = read_sql_file(path, shown=shown)
        if path.suffix == ".sql":
            files.append(SeedFile(path, shown, path.name, "sql", text, checksum(text)))
        else:
            files.append(SeedFile(path, shown, path.name, "csv", text, checksum(text),
                                  _table(path, shown), _columns(text, shown)))
    return SeedSet(folder, shown_folder, service or folder.name, tuple(files))


def _table(path: Path, shown: str) -> tuple[str, ...]:
    name = _ORDER_PREFIX.sub("", path.stem)
    parts = tuple(name.split("."))
    if not 1 <= len(parts) <= 2 or not all(parts):
        raise DevenvError(f"{shown}: '{name}' is not a table name (table or schema.table)",
                          "Name CSV seeds after their table, like 02_currencies.csv or "
                          "03_billing.plans.csv.")
    return parts


def _columns(text: str, shown: str) -> tuple[str, ...]:
    header = next(csv.reader(io.StringIO(text)), [])
    columns = tuple(c.strip() for c in header)
    if not columns or not all(columns):
        raise DevenvError(f"{shown}: the header line has an empty column name",
                          "The first line of a CSV seed names the table's columns.")
    return columns
