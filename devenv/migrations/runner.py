"""The verbs over a database: migrate, rollback, info, validate, pending_count, repair.

One connection per run, as the service's own role (so the service owns what it creates), under
a session advisory lock. Each file runs in its own transaction together with its ledger row:
a failure in file N leaves the database at N-1 with no row for N, and Ctrl-C rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from time import perf_counter

import psycopg
from psycopg import sql

from devenv.errors import DevenvError
from devenv.migrations.connect import Conn, connect
from devenv.migrations.execute import ScriptFailed, explain, run_statements, run_whole
from devenv.migrations.formats import Migration, MigrationSet, Script, Version
from devenv.migrations.ledger import (
    delete_ranks,
    ensure_table,
    insert_row,
    read_rows,
    update_checksum,
)
from devenv.migrations.lock import SCHEMA_LOCK, advisory_lock
from devenv.migrations.state import (
    History,
    InfoRow,
    Problem,
    drift_error,
    info_rows,
    pending,
    problems,
)

Event = Callable[[str], None]


@dataclass(frozen=True)
class Applied:
    """One migration applied (or rolled back) by this run."""

    version: str | None  # None for a repeatable migration
    description: str
    script: str  # relative to the root
    execution_ms: int


@dataclass(frozen=True)
class MigrateResult:
    applied: list[Applied]
    current_version: str | None  # after the run
    elapsed_ms: int


def _quiet(_: str) -> None:
    pass


def _ms(since: float) -> int:
    return round((perf_counter() - since) * 1000)


@contextmanager
def _session(conninfo: str, emit: Event) -> Iterator[tuple[Conn, sql.Identifier]]:
    """The run's connection, holding the schema lock, with the ledger table in place."""
    with connect(conninfo) as conn, advisory_lock(
            conn, SCHEMA_LOCK,
            on_wait=lambda: emit("waiting for another migration run on this database")):
        yield conn, ensure_table(conn, on_event=emit)


def migrate(conninfo: str, migrations: MigrationSet, *, target: str | None = None,
            out_of_order: bool = False, on_event: Event | None = None) -> MigrateResult:
    """Apply pending migrations in order (up to `target`), after checking the history for drift."""
    emit = on_event or _quiet
    started = perf_counter()
    goal = _target(migrations, target)
    applied: list[Applied] = []
    with _session(conninfo, emit) as (conn, table):
        history = History(read_rows(conn, table))
        found = problems(migrations, history, out_of_order=out_of_order)
        if found:
            raise drift_error(migrations, found, verb="migrate")
        current = history.current
        if goal is not None and current is not None and goal < current:
            raise DevenvError(f"Target version {goal} of {migrations.shown} is below the current "
                              f"version {current}", "Migrate only goes forward.")
        rank = history.next_rank
        for migration in pending(migrations, history, target=goal):
            applied.append(_apply(conn, table, migrations, migration, rank, current, emit))
            rank += 1
            if migration.version is not None and (current is None
                                                  or migration.version > current):
                current = migration.version
    if not applied:
        emit(f"{migrations.shown} is up to date")
    return MigrateResult(applied, None if current is None else str(current), _ms(started))


def _target(migrations: MigrationSet, target: str | None) -> Version | None:
    if target is None:
        return None
    goal = Version.parse(target)
    if all(m.version != goal for m in migrations.versioned):
        raise DevenvError(f"No migration in {migrations.shown} has version {target}",
                          "Pass the version of an existing migration file.")
    return goal


def _apply(conn: Conn, table: sql.Identifier, migrations: MigrationSet, m: Migration,
           rank: int, current: Version | None, emit: Event) -> Applied:
    emit(f"applying {m.up.shown}")
    started = perf_counter()
    version = None if m.version is None else str(m.version)

    def record(*, success: bool, commit: bool = False) -> None:
        # RESET ALL first: a migration's SET ROLE / search_path must not leak into the ledger
        # row or the next migration (Flyway restores the connection's state the same way).
        # Pipelined with the ledger row (and COMMIT): one round trip instead of three.
        with conn.pipeline():
            conn.execute("RESET ALL")
            insert_row(conn, table, rank=rank, version=version, description=m.description,
                       kind=m.kind, script=m.script, checksum=m.checksum,
                       execution_ms=_ms(started), success=success)
            if commit:
                conn.execute("COMMIT")

    what = f"Migration {version}" if version else "Repeatable migration"
    if m.up.transactional:
        try:
            conn.execute("BEGIN")
            run_whole(conn, m.up)
            record(success=True, commit=True)
        except psycopg.Error as exc:
            _rollback(conn)
            failure = explain(conn, m.up, exc)
            at = f"version {current}" if current is not None else "no version (empty history)"
            raise DevenvError(
                f"{what} failed: {failure.report}",
                f"It was rolled back: {migrations.service} is still at {at}. Fix the file, then "
                f"run `devenv migrate {migrations.service}` again.") from None
        except BaseException:  # Ctrl-C: psycopg has cancelled the query; undo the transaction
            _rollback(conn)
            raise
    else:
        try:
            run_statements(conn, m.up)
        except (ScriptFailed, KeyboardInterrupt) as exc:
            with suppress(psycopg.Error):
                record(success=False)
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise DevenvError(f"{what} failed: {exc.report}", _repair_hint(migrations)) from None
        record(success=True)
    ms = _ms(started)
    emit(f"applied {m.up.shown} in {ms} ms")
    return Applied(version, m.description, m.up.shown, ms)


def _rollback(conn: Conn) -> None:
    """End a failed transaction; a dead connection has rolled back with its session."""
    if not conn.closed and not conn.broken:
        with suppress(psycopg.Error):
            conn.execute("ROLLBACK")


def _repair_hint(migrations: MigrationSet) -> str:
    service = migrations.service
    return ("It ran outside a transaction (-- devenv:no-transaction), so it may be partly "
            "applied; it is recorded as failed. Undo or finish its changes in the database by "
            f"hand and fix the file, then run `devenv repair {service}` and "
            f"`devenv migrate {service}`.")


def validate(conninfo: str, migrations: MigrationSet, *, out_of_order: bool = False) -> list[str]:
    """Drift problems, each naming its file; empty when the files match the history."""
    return [p.text for p in inspect(conninfo, migrations, out_of_order=out_of_order)[1]]


def info(conninfo: str, migrations: MigrationSet) -> list[InfoRow]:
    """Every migration with its state: pending, applied, changed, missing or failed."""
    return inspect(conninfo, migrations)[0]


def inspect(conninfo: str, migrations: MigrationSet, *,
            out_of_order: bool = False) -> tuple[list[InfoRow], list[Problem]]:
    """Every migration's state and the drift problems, from one read of the ledger."""
    with connect(conninfo) as conn:
        history = History(read_rows(conn))
    return (info_rows(migrations, history),
            problems(migrations, history, out_of_order=out_of_order))


def pending_count(conninfo: str, migrations: MigrationSet) -> int:
    """How many migrations `migrate` would apply now: one query, no lock, no table created."""
    with connect(conninfo) as conn:
        history = History(read_rows(conn))
    return len(pending(migrations, history))


def rollback(conninfo: str, migrations: MigrationSet, *, steps: int = 1,
             on_event: Event | None = None) -> list[Applied]:
    """Run the down scripts of the `steps` highest applied versions, newest first, each in its
    own transaction with the removal of its ledger row. Flyway folders have no downs."""
    emit = on_event or _quiet
    if migrations.format == "flyway":
        raise DevenvError(
            f"Cannot roll back {migrations.service}: {migrations.shown} holds Flyway migrations, "
            "which have no down scripts",
            "Write a new versioned migration that undoes the change.")
    if steps < 1:
        raise DevenvError(f"Cannot roll back {steps} steps", "Pass a number of steps of 1 or more.")
    done: list[Applied] = []
    with _session(conninfo, emit) as (conn, table):
        history = History(read_rows(conn, table))
        found = problems(migrations, history, out_of_order=True)
        if found:
            raise drift_error(migrations, found, verb="roll back")
        files = {m.version: m for m in migrations.versioned}
        chosen = sorted((v for v, r in history.versioned.items() if r.success),
                        reverse=True)[:steps]
        undone = [files[v] for v in chosen]
        lacking = [m for m in undone if m.down is None]
        if lacking:
            how = ("a '-- migrate:down' section with SQL" if migrations.format == "dbmate"
                   else "a .down.sql file")
            raise DevenvError(
                "Cannot roll back: " + ", ".join(
                    f"{m.up.shown} (version {m.version})" for m in lacking)
                + f" {'has' if len(lacking) == 1 else 'have'} no down migration",
                f"Add {how} to roll back; nothing was rolled back.")
        for m in undone:
            assert m.down is not None and m.version is not None
            done.append(_undo(conn, table, migrations, m, m.down,
                              history.versioned[m.version].installed_rank, emit))
    if not done:
        emit(f"{migrations.shown}: nothing to roll back")
    return done


def _undo(conn: Conn, table: sql.Identifier, migrations: MigrationSet, m: Migration,
          down: Script, rank: int, emit: Event) -> Applied:
    emit(f"rolling back {down.shown}")
    started = perf_counter()
    try:
        if down.transactional:
            try:
                with conn.transaction():
                    run_whole(conn, down)
                    conn.execute("RESET ALL")
                    delete_ranks(conn, table, [rank])
            except psycopg.Error as exc:
                raise explain(conn, down, exc) from None
        else:
            run_statements(conn, down)
            conn.execute("RESET ALL")
            delete_ranks(conn, table, [rank])
    except ScriptFailed as failed:
        state = ("it was rolled back" if down.transactional else
                 "it ran outside a transaction and may be partly applied")
        raise DevenvError(
            f"Rollback of version {m.version} failed: {failed.report}",
            f"{state.capitalize()}; version {m.version} is still recorded as applied. Fix the "
            "down migration, then roll back again.") from None
    ms = _ms(started)
    emit(f"rolled back {down.shown} in {ms} ms")
    return Applied(str(m.version), m.description, down.shown, ms)


def repair(conninfo: str, migrations: MigrationSet, *,
           on_event: Event | None = None) -> list[str]:
    """Make the history match the files, once the database has been fixed by hand: forget
    failed rows and rows of deleted files, accept the checksums of edited applied files.
    Returns what it did, one line per file."""
    emit = on_event or _quiet
    actions: list[str] = []
    with _session(conninfo, emit) as (conn, table):
        rows = read_rows(conn, table)
        files = {m.version: m for m in migrations.versioned}
        scripts = {m.script: m for m in migrations.repeatable}
        history = History(rows)
        with conn.transaction():
            failed = [r for r in rows if not r.success]
            if failed:
                delete_ranks(conn, table, [r.installed_rank for r in failed])
                actions += [f"forgot the failed run of {migrations.shown_script(r.script)}"
                            for r in failed]
            for version, row in history.versioned.items():
                if not row.success:
                    continue
                m = files.get(version)
                if m is None:
                    delete_ranks(conn, table, [row.installed_rank])
                    actions.append(f"forgot {migrations.shown_script(row.script)} "
                                   f"(version {version}): the file is gone")
                elif m.checksum != row.checksum:
                    update_checksum(conn, table, rank=row.installed_rank, checksum=m.checksum,
                                    description=m.description, script=m.script)
                    actions.append(f"accepted the edited {m.up.shown} (version {version})")
            for script, row in history.repeatable.items():
                if row.success and script not in scripts:
                    gone = [r.installed_rank for r in rows if r.script == script]
                    delete_ranks(conn, table, gone)
                    actions.append(f"forgot {migrations.shown_script(script)}: the file is gone")
    for action in actions:
        emit(action)
    return actions
