"""`devenv migration new`: the next migration file of a folder, in the folder's own format and
numbering (files on disk only; the caller passes the clock).

The numbering follows what the folder already does, as each tool's own `new`/`create` would:
versions of 12 digits or more are timestamps (dbmate's `new`, `migrate create` without `-seq`),
plain numbers a sequence kept at its zero-padded width (`migrate create -seq -digits 6`), dotted
ones count up their last non-zero part (1.24.0 -> 1.25.0).
An empty folder takes the format asked for, and each tool's default numbering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from devenv.errors import DevenvError
from devenv.migrations.formats import FORMAT_NAMES, Format, MigrationSet

TIMESTAMP = "%Y%m%d%H%M%S"
_VERSION_IN_NAME = re.compile(r"^V?(\d+(?:[._]\d+)*)[_]")


@dataclass(frozen=True)
class NewFile:
    path: Path
    text: str


def slug(name: str) -> str:
    """`Add users table` -> `add_users_table`: what every tool accepts in a file name."""
    text = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not text:
        raise DevenvError(f"'{name}' has no letter or digit to name a migration file with",
                          hint="name it for what it does, e.g. `devenv migration new auth "
                          "add_users`")
    return text


def next_version(found: MigrationSet, fmt: Format, now: datetime) -> str:
    raw = [m.group(1) for m in (_VERSION_IN_NAME.match(Path(x.script).name)
                                for x in found.versioned) if m]
    stamp = now.strftime(TIMESTAMP)
    if not raw:
        return {"flyway": "1", "golang-migrate": "000001", "dbmate": stamp}[fmt]
    if all(len(v) >= 12 and v.isdigit() for v in raw):
        last = max(int(v) for v in raw)
        return stamp if int(stamp) > last else str(last + 1)
    if all(v.isdigit() for v in raw):
        padded = any(v.startswith("0") for v in raw)
        return str(max(int(v) for v in raw) + 1).zfill(max(map(len, raw)) if padded else 0)
    # dotted (1.24.0): the newest one with its last non-zero part counted up, as the folder
    # counts (1.24.0 -> 1.25.0, 2_1 -> 2_2), keeping its separators
    newest = max(raw, key=lambda v: [int(x) for x in re.split(r"[._]", v)])
    parts = re.split(r"([._])", newest)
    numbers = parts[::2]
    last = max((i for i, x in enumerate(numbers) if int(x)), default=len(numbers) - 1)
    numbers = [str(int(x) + 1) if i == last else ("0" if i > last else x)
               for i, x in enumerate(numbers)]
    parts[::2] = numbers
    return "".join(parts)


def new_files(found: MigrationSet, name: str, now: datetime, *,
              wanted: Format | None = None) -> list[NewFile]:
    """The file(s) to write; refuses a `wanted` format other than the folder's."""
    fmt = found.format or wanted or "flyway"
    if wanted is not None and found.format is not None and wanted != found.format:
        raise DevenvError(f"{found.shown} holds {FORMAT_NAMES[found.format]} migrations, not "
                          f"{FORMAT_NAMES[wanted]}",
                          hint="leave out --format: a folder keeps one format")
    base = slug(name)
    version = next_version(found, fmt, now)
    folder = found.folder
    if fmt == "flyway":
        return [NewFile(folder / f"V{version}__{base}.sql", f"-- {name}\n")]
    if fmt == "golang-migrate":
        return [NewFile(folder / f"{version}_{base}.up.sql", f"-- {name}\n"),
                NewFile(folder / f"{version}_{base}.down.sql", f"-- undo: {name}\n")]
    return [NewFile(folder / f"{version}_{base}.sql",
                    f"-- migrate:up\n-- {name}\n\n-- migrate:down\n-- undo: {name}\n")]
