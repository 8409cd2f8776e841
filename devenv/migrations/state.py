"""Files against the ledger: each migration's state, drift problems and what to apply next.

Pure: takes ledger rows already read, so every rule here is tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from devenv.errors import DevenvError
from devenv.migrations.formats import Migration, MigrationSet, Version
from devenv.migrations.ledger import LedgerRow

State = Literal["pending", "applied", "changed", "missing", "failed"]
ProblemKind = Literal["changed", "missing", "folder-missing", "failed", "out-of-order"]


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
            state: State = "missing" if row.success else "failed"
            out.append(((0, *version.key), "", _row(row, migrations, state)))
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
    if migrations.missing:
        found += _folder_missing(migrations, history)
    for version in sorted(set(files) | set(history.versioned)):
        m, row = files.get(version), history.versioned.get(version)
        if row is not None and not row.success:
            found.append(Problem("failed", f"{_shown(migrations, m, row)} failed on "
                                 f"{row.applied_at:%Y-%m-%d %H:%M:%S} and may be partly applied"))
        elif m is None and row is not None and not migrations.missing:
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


def _folder_missing(migrations: MigrationSet, history: History) -> list[Problem]:
    """One problem for a whole deleted folder, instead of one "file is gone" per version: a
    default folder that does not exist used to read as "no migrations" (issue 24)."""
    versions = sorted(v for v, r in history.versioned.items() if r.success)
    repeatables = sum(1 for r in history.repeatable.values() if r.success)
    held = []
    if versions:
        held.append(f"{_count(len(versions), 'applied version')} (latest {versions[-1]})")
    if repeatables:
        held.append(_count(repeatables, "repeatable migration"))
    if not held:
        return []
    return [Problem("folder-missing", f"{migrations.shown} does not exist, but the ledger holds "
                    f"{' and '.join(held)} whose files are gone (folder missing)")]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


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


_HINTS: dict[ProblemKind, str] = {
    "failed": "A failed migration may be partly applied: undo or finish its changes in the "
              "database by hand (`devenv psql {service}`) and fix the file, then run "
              "`devenv repair {service}` and `devenv migrate {service}`.",
    "changed": "Put edited files back as they were applied and add a new migration instead "
               "(or, if the database already matches them, run "
               "`devenv repair {service}`).",
    "missing": "Restore deleted files (or run `devenv repair {service}` to forget "
               "them).",
    "folder-missing": "Restore the folder {folder} (e.g. `git checkout -- {folder}`), or, if "
                      "the service no longer has migrations, run `devenv repair {service}` to "
                      "forget them (its tables and data stay).",
    "out-of-order": "Give new files a version above the latest applied one, or allow them "
                    "with `out_of_order: true` under services.{service}.migrations in the "
                    "manifest.",
}


class DriftError(DevenvError):
    """The files do not match the ledger: `up` and `migrate` refuse before changing anything
    (Flyway's validate-on-migrate), whatever else is pending."""


def drift_hint(service: str, found: list[Problem], *, folder: str) -> str:
    """One sentence per kind of problem found, each naming the command for this service
    (and `folder`, the migrations folder as shown, where restoring it is the fix)."""
    kinds = [k for k in _HINTS if any(p.kind == k for p in found)]
    return " ".join(_HINTS[k].format(service=service, folder=folder) for k in kinds)


def drift_error(migrations: MigrationSet, found: list[Problem], *, verb: str) -> DriftError:
    lines = "\n".join(f"  - {p.text}" for p in found)
    return DriftError(
        f"Refusing to {verb} {migrations.service}: the database history does not match "
        f"{migrations.shown}:\n{lines}",
        drift_hint(migrations.service, found, folder=migrations.shown))
