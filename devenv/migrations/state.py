"""Files against the ledger: each migration's state, drift problems and what to apply next.

Pure: takes ledger rows already read, so every rule here is tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from devenv.migrations.formats import Migration, MigrationSet, Version
from devenv.migrations.ledger import LedgerRow

State = Literal["pending", "applied", "changed", "missing", "failed"]
ProblemKind = Literal["changed", "missing", "failed", "out-of-order"]


@dataclass(frozen=True)
class InfoRow:
    version: str | None  # None for a repeatable migration
    description: str
    script: str  # relative to the root, for display
    state: State
    applied_at: datetime | None
    execution_ms: int | None


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    text: str


class History:
    """The ledger digested: the latest row per version and per repeatable script."""

    def __init__(self, rows: list[LedgerRow]) -> None:
        self.rows = rows
        self.versioned: dict[Version, LedgerRow] = {}
        self.repeatable: dict[str, LedgerRow] = {}
        for row in rows:  # installed order: later rows win
            if row.version is not None:
                self.versioned[Version.parse(row.version)] = row
            else:
                self.repeatable[row.script] = row

    @property
    def current(self) -> Version | None:
        """The highest successfully applied version."""
        return max((v for v, r in self.versioned.items() if r.success), default=None)

    @property
    def next_rank(self) -> int:
        return max((r.installed_rank for r in self.rows), default=0) + 1


def info_rows(migrations: MigrationSet, history: History) -> list[InfoRow]:
    """Every file and every ledger row without a file, versioned by version, then repeatables."""
    out: list[tuple[tuple[int, ...], str, InfoRow]] = []
    files = _by_version(migrations)
    for version in sorted(set(files) | set(history.versioned)):
        m, row = files.get(version), history.versioned.get(version)
        if m is None:
            assert row is not None
            out.append(((0, *version.key), "", _row(row, migrations, "missing")))
        else:
            out.append(((0, *version.key), "", _file_row(m, row)))
    scripts = {m.script: m for m in migrations.repeatable}
    for m in migrations.repeatable:
        out.append(((1,), m.description, _file_row(m, history.repeatable.get(m.script))))
    for script, row in history.repeatable.items():
        if script not in scripts:
            out.append(((1,), row.description, _row(row, migrations, "missing")))
    return [info for _, _, info in sorted(out, key=lambda t: (t[0], t[1]))]


def _file_row(m: Migration, row: LedgerRow | None) -> InfoRow:
    version = None if m.version is None else str(m.version)
    if row is None:
        return InfoRow(version, m.description, m.up.shown, "pending", None, None)
    state: State
    if not row.success:
        state = "failed"
    elif row.checksum == m.checksum:
        state = "applied"
    else:  # an edited repeatable is simply due again; an edited versioned file is drift
        state = "changed" if m.version is not None else "pending"
    return InfoRow(version, m.description, m.up.shown, state, row.applied_at, row.execution_ms)


def _row(row: LedgerRow, migrations: MigrationSet, state: State) -> InfoRow:
    return InfoRow(row.version, row.description, migrations.shown_script(row.script), state,
                   row.applied_at, row.execution_ms)


def problems(migrations: MigrationSet, history: History, *, out_of_order: bool) -> list[Problem]:
    """Drift between the files and the ledger, each naming the file, in version order."""
    found: list[Problem] = []
    current = history.current
    files = _by_version(migrations)
    for version in sorted(set(files) | set(history.versioned)):
        m, row = files.get(version), history.versioned.get(version)
        if row is not None and not row.success:
            found.append(Problem("failed", f"{_shown(migrations, m, row)} failed on "
                                 f"{row.applied_at:%Y-%m-%d %H:%M:%S} and may be partly applied"))
        elif m is None and row is not None:
            found.append(Problem("missing", f"{migrations.shown_script(row.script)} was applied "
                                 f"(version {row.version}) but the file is gone"))
        elif m is not None and row is not None and row.checksum != m.checksum:
            found.append(Problem("changed", f"{m.up.shown} was changed after it was applied "
                                 f"(checksum {row.checksum[:12]} applied, "
                                 f"{m.checksum[:12]} now)"))
        elif (m is not None and row is None and current is not None and version < current
              and not out_of_order):
            found.append(Problem("out-of-order", f"{m.up.shown} (version {version}) is not "
                                 f"applied and older than the latest applied version {current}"))
    for m in migrations.repeatable:
        row = history.repeatable.get(m.script)
        if row is not None and not row.success:
            found.append(Problem("failed", f"{m.up.shown} failed on "
                                 f"{row.applied_at:%Y-%m-%d %H:%M:%S} and may be partly applied"))
    return found


def _shown(migrations: MigrationSet, m: Migration | None, row: LedgerRow) -> str:
    return m.up.shown if m is not None else migrations.shown_script(row.script)


def pending(migrations: MigrationSet, history: History, *,
            target: Version | None = None) -> list[Migration]:
    """What `migrate` applies, in order: unapplied versions up to `target`, then the repeatables
    that are new or edited (only when the run goes to the latest version)."""
    plan = [m for m in migrations.versioned
            if m.version not in history.versioned
            and (target is None or (m.version is not None and m.version <= target))]
    last = migrations.versioned[-1].version if migrations.versioned else None
    if target is None or last is None or target >= last:
        for m in migrations.repeatable:
            row = history.repeatable.get(m.script)
            if row is None or row.checksum != m.checksum:
                plan.append(m)
    return plan


def _by_version(migrations: MigrationSet) -> dict[Version, Migration]:
    return {m.version: m for m in migrations.versioned if m.version is not None}
