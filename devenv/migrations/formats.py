"""Migration files on disk: Flyway, golang-migrate and dbmate folders, parsed and validated.

Pure: reads files, never a database. Every problem is a DevenvError naming the files, relative
to the project root, so that `load_migrations` can run before any server is up.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import total_ordering
from pathlib import Path
from typing import Literal

from devenv.errors import DevenvError
from devenv.migrations.sqltext import (
    NO_TRANSACTION,
    checksum,
    display_path,
    read_sql_file,
    wants_no_transaction,
)

Format = Literal["flyway", "golang-migrate", "dbmate"]

FORMAT_NAMES: dict[Format, str] = {
    "flyway": "Flyway",
    "golang-migrate": "golang-migrate",
    "dbmate": "dbmate",
}
FORMAT_PATTERNS: dict[Format, str] = {
    "flyway": "V<version>__<description>.sql or R__<description>.sql",
    "golang-migrate": "<version>_<name>.up.sql and <version>_<name>.down.sql",
    "dbmate": "<version>_<name>.sql",
}

_FLYWAY_V = re.compile(r"^V(\d+(?:[._]\d+)*)__(.*)\.sql$")
_FLYWAY_R = re.compile(r"^R__(.*)\.sql$")
_GOLANG = re.compile(r"^(\d+)_(.*)\.(up|down)\.sql$")
_DBMATE = re.compile(r"^(\d+)_(.*)\.sql$")
_DBMATE_MARKER = re.compile(r"^--\s*migrate:(up|down)\b(.*)$", re.MULTILINE)


@total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    """A migration version compared numerically part by part: 1 < 1.0.1 < 1.1 < 2 < 2_1 < 10.

    Trailing zero parts do not count (1 == 1.0, as in Flyway), so they are duplicates.
    """

    parts: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> Version:
        pieces = re.split(r"[._]", text.strip())
        if not text.strip() or not all(p.isdigit() for p in pieces):
            raise DevenvError(f"'{text}' is not a migration version",
                              "Versions are numbers separated by dots, like 1, 1.2 or 20240101.")
        return cls(tuple(int(p) for p in pieces))

    @property
    def key(self) -> tuple[int, ...]:
        parts = list(self.parts)
        while len(parts) > 1 and parts[-1] == 0:
            parts.pop()
        return tuple(parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __lt__(self, other: Version) -> bool:
        return self.key < other.key

    def __str__(self) -> str:
        return ".".join(str(p) for p in self.parts)


@dataclass(frozen=True)
class Script:
    """The SQL sent for one direction of one migration, and where it sits in its file.

    `start` is the character offset of the sent SQL in `text` (non-zero for dbmate sections), so
    a server error position maps back to a line and column of the file.
    """

    path: Path
    shown: str  # relative to root, for messages
    text: str  # the whole file
    start: int
    end: int
    transactional: bool
    marker: str = ""  # what asked for no transaction, for messages: "-- devenv:no-transaction"

    @property
    def sql(self) -> str:
        return self.text[self.start:self.end]


@dataclass(frozen=True)
class Migration:
    """One versioned (version set) or repeatable (version None) migration."""

    version: Version | None
    description: str
    script: str  # path of the (up) file relative to the folder: the ledger's key
    up: Script
    down: Script | None
    checksum: str

    @property
    def kind(self) -> Literal["versioned", "repeatable"]:
        return "versioned" if self.version is not None else "repeatable"


@dataclass(frozen=True)
class MigrationSet:
    """A folder's migrations: versioned ones in version order, then repeatables by description."""

    folder: Path
    shown: str
    service: str
    format: Format | None  # None: the folder holds no migrations yet
    versioned: tuple[Migration, ...] = ()
    repeatable: tuple[Migration, ...] = field(default=())
    # The folder does not exist: fine for a default folder and an empty ledger (the service has
    # no migrations), drift when the ledger holds applied ones (issue 24).
    missing: bool = False

    @property
    def all(self) -> tuple[Migration, ...]:
        return self.versioned + self.repeatable

    def shown_script(self, script: str) -> str:
        """A ledger script name as a path relative to the root, for messages."""
        return f"{self.shown}/{script}" if self.shown not in ("", ".") else script


def absent_folder(folder: Path, *, root: Path, service: str) -> MigrationSet:
    """A service's default folder that does not exist: no files, and a set that says so, so
    that the ledger can still be checked against it (applied versions whose folder was deleted
    are drift, not "no migrations")."""
    return MigrationSet(folder, display_path(folder, root), service, None, missing=True)


def load_migrations(folder: Path, *, root: Path, service: str | None = None) -> MigrationSet:
    """Parse and validate a migration folder; `service` (default: the folder's name) is only
    used to say which `devenv migrate SERVICE` command to type in messages."""
    shown_folder = display_path(folder, root)
    if not folder.is_dir():
        raise DevenvError(f"Migration folder {shown_folder} does not exist",
                          "Create it, or fix the migrations path in the manifest.")
    top = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(".sql"))
    nested = sorted(p for p in folder.rglob("*.sql") if p.is_file() and p.parent != folder)

    def shown(path: Path) -> str:
        return display_path(path, root)

    by_format: dict[Format, list[Path]] = defaultdict(list)
    unmatched: list[Path] = []
    top_formats = {_classify(p.name) for p in top} - {None}
    # Flyway scans sub-folders, golang-migrate and dbmate do not: follow each tool.
    flyway_only = top_formats <= {"flyway"} and any(_classify(p.name) for p in nested)
    for path in top + (nested if flyway_only else []):
        kind = _classify(path.name)
        if kind is None:
            unmatched.append(path)
        else:
            by_format[kind].append(path)
    if len(by_format) > 1:
        parts = [f"{FORMAT_NAMES[f]} ({', '.join(shown(p) for p in by_format[f])})"
                 for f in FORMAT_NAMES if f in by_format]
        raise DevenvError(f"{shown_folder} mixes migration formats: {'; '.join(parts)}",
                          "Keep one format per folder: Flyway, golang-migrate or dbmate.")
    fmt: Format | None = next(iter(by_format), None)
    if unmatched:
        expected = (FORMAT_PATTERNS[fmt] if fmt else "; ".join(
            f"{FORMAT_NAMES[f]} {FORMAT_PATTERNS[f]}" for f in FORMAT_NAMES))
        names = ", ".join(shown(p) for p in unmatched)
        noun = "file name matches" if len(unmatched) == 1 else "file names match"
        raise DevenvError(f"{names}: {noun} no migration format (expected {expected})",
                          "Rename the file, or move it out of the migration folder.")
    service = service or folder.name
    if fmt is None:
        return MigrationSet(folder, shown_folder, service, None)
    files = by_format[fmt]
    if fmt == "flyway":
        migrations = _flyway(folder, files, shown)
    elif fmt == "golang-migrate":
        migrations = _golang(folder, files, shown)
    else:
        migrations = _dbmate(folder, files, shown)
    versioned = sorted((m for m in migrations if m.version is not None),
                       key=lambda m: (m.version, m.script))
    _refuse_duplicates(versioned)
    repeatable = sorted((m for m in migrations if m.version is None),
                        key=lambda m: (m.description, m.script))
    return MigrationSet(folder, shown_folder, service, fmt, tuple(versioned), tuple(repeatable))


def _classify(name: str) -> Format | None:
    if _FLYWAY_V.match(name) or _FLYWAY_R.match(name):
        return "flyway"
    if _GOLANG.match(name):
        return "golang-migrate"
    if _DBMATE.match(name):
        return "dbmate"
    return None


def _describe(text: str) -> str:
    return text.replace("_", " ").strip()


def _whole_file(path: Path, shown: str, *, transactional: bool = True) -> Script:
    text = read_sql_file(path, shown=shown)
    if not transactional:
        return Script(path, shown, text, 0, len(text), False,
                      f"executeInTransaction=false in {shown}.conf")
    if wants_no_transaction(text):
        return Script(path, shown, text, 0, len(text), False, NO_TRANSACTION)
    return Script(path, shown, text, 0, len(text), True)


def _flyway_conf_no_transaction(path: Path) -> bool:
    """Flyway's per-script config `V1__x.sql.conf` may say `executeInTransaction=false`."""
    conf = path.with_name(path.name + ".conf")
    if not conf.is_file():
        return False
    for line in conf.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "executeInTransaction" and value.strip().lower() == "false":
            return True
    return False


Shown = Callable[[Path], str]


def _flyway(folder: Path, files: list[Path], shown: Shown) -> list[Migration]:
    out = []
    for path in files:
        script = _whole_file(path, shown(path),
                             transactional=not _flyway_conf_no_transaction(path))
        rel = path.relative_to(folder).as_posix()
        version: Version | None = None
        if m := _FLYWAY_V.match(path.name):
            version, description = Version.parse(m.group(1)), m.group(2)
        else:
            description = path.name.removeprefix("R__").removesuffix(".sql")
        out.append(Migration(version, _describe(description), rel, script, None,
                             checksum(script.sql)))
    return out


def _golang(folder: Path, files: list[Path], shown: Shown) -> list[Migration]:
    """Up files with their optional down files, paired by version as golang-migrate pairs
    them. A migration without a down is valid (golang-migrate accepts it: `rollback` stops
    there with an error); a down without its up is a typo, refused by name."""
    ups: list[tuple[Version, Path]] = []
    downs: dict[Version, list[Path]] = defaultdict(list)
    for path in files:
        m = _GOLANG.match(path.name)
        assert m is not None
        if m.group(3) == "up":
            ups.append((Version.parse(m.group(1)), path))
        else:
            downs[Version.parse(m.group(1))].append(path)
    up_versions = {v for v, _ in ups}
    lonely = sorted(p for v, paths in downs.items() for p in paths if v not in up_versions)
    if lonely:
        problems = []
        for path in lonely:
            twin = path.with_name(path.name.removesuffix(".down.sql") + ".up.sql")
            problems.append(f"{shown(path)} has no up file (expected {shown(twin)})")
        raise DevenvError(
            "; ".join(problems),
            "Add the missing .up.sql file (a down file undoes its up file of the same version), "
            "or delete the down file.")
    twice = [(v, paths) for v, paths in downs.items() if len(paths) > 1]
    if twice:
        raise DevenvError("; ".join(f"More than one down file for version {v}: "
                                    + ", ".join(shown(x) for x in sorted(p)) for v, p in twice),
                          "Keep one .down.sql file per version.")
    out = []
    for version, path in ups:
        m = _GOLANG.match(path.name)
        assert m is not None
        up = _whole_file(path, shown(path))
        down_paths = downs.get(version)
        down = _whole_file(down_paths[0], shown(down_paths[0])) if down_paths else None
        out.append(Migration(version, _describe(m.group(2)), path.name, up, down,
                             checksum(up.sql)))
    return out


def _dbmate(folder: Path, files: list[Path], shown: Shown) -> list[Migration]:
    """One file per migration, split at its `-- migrate:up` and `-- migrate:down` lines; a
    marker line may say `transaction:false`, as in dbmate."""
    out = []
    for path in files:
        m = _DBMATE.match(path.name)
        assert m is not None
        text = read_sql_file(path, shown=shown(path))
        markers = list(_DBMATE_MARKER.finditer(text))
        sections: dict[str, Script] = {}
        for i, marker in enumerate(markers):
            direction = marker.group(1)
            if direction in sections:
                raise DevenvError(f"{shown(path)} has more than one '-- migrate:{direction}' line",
                                  "Keep one up section and at most one down section.")
            start = text.find("\n", marker.end())
            start = len(text) if start == -1 else start + 1
            end = markers[i + 1].start() if i + 1 < len(markers) else len(text)
            options = marker.group(2).split()
            why = ("transaction:false" if "transaction:false" in options else
                   NO_TRANSACTION if wants_no_transaction(text[start:end]) else "")
            sections[direction] = Script(path, shown(path), text, start, end, not why, why)
        up = sections.get("up")
        if up is None:
            raise DevenvError(f"{shown(path)} has no '-- migrate:up' line",
                              "dbmate migrations start their SQL with a '-- migrate:up' line.")
        if not up.sql.strip():
            raise DevenvError(f"{shown(path)} has an empty '-- migrate:up' section",
                              "Write the migration's SQL under '-- migrate:up'.")
        down = sections.get("down")
        if down is not None and not down.sql.strip():
            down = None
        out.append(Migration(Version.parse(m.group(1)), _describe(m.group(2)), path.name, up,
                             down, checksum(up.sql)))
    return out


def _refuse_duplicates(versioned: list[Migration]) -> None:
    groups: dict[Version, list[Migration]] = defaultdict(list)
    for migration in versioned:
        assert migration.version is not None
        groups[migration.version].append(migration)
    clashes = [g for g in groups.values() if len(g) > 1]
    if clashes:
        raise DevenvError(
            "; ".join(f"Duplicate migration version {g[0].version}: "
                      + ", ".join(m.up.shown for m in g) for g in clashes),
            "Give each migration its own version.")
