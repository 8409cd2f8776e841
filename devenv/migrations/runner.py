"""The verbs over a database: migrate, rollback, info, validate, pending_count, repair.

One connection per run, as the service's own role (so the service owns what it creates), under
a session advisory lock. Every pending file is planned (`plan`) before the first one runs. A
transactional file runs in its own transaction together with its ledger row: a failure in file
N leaves the database at N-1 with no row for N, and Ctrl-C rolls back. A file that must run
statement by statement is recorded as started first, and its report says only what happened:
rolled back when nothing stayed, otherwise failed and maybe partly applied.
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
from devenv.migrations.execute import (
    DISK_FULL_SQLSTATE,
    Progress,
    ScriptFailed,
    explain,
    run_statements,
    run_whole,
    space_hint,
)
from devenv.migrations.formats import Migration, MigrationSet, Version
from devenv.migrations.ledger import (
    delete_ranks,
    ensure_table,
    finish_row,
    insert_row,
    read_rows,
    update_checksum,
)
from devenv.migrations.lock import SCHEMA_LOCK, advisory_lock
from devenv.migrations.plan import Plan, plan
from devenv.migrations.sqltext import NO_TRANSACTION
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
# active_sql_transaction: "... cannot run inside a transaction block"
OUTSIDE_ONLY_SQLSTATE = "25001"


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
        # Every file's plan before the first one runs: a file that cannot run is refused
        # while the database is still as it was.
        todo = [(m, plan(m.up)) for m in pending(migrations, history, target=goal)]
        for migration, how in todo:
            applied.append(_apply(conn, table, migrations, migration, how, rank, current, emit))
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
           how: Plan, rank: int, current: Version | None, emit: Event) -> Applied:
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
    at = f"version {current}" if current is not None else "no version (empty history)"
    service = migrations.service
    if how.mode != "statements":
        try:
            conn.execute(how.begin.encode())
            run_whole(conn, how.script)
            record(success=True, commit=True)
        except psycopg.Error as exc:
            _rollback(conn)
            failure = explain(conn, how.script, exc)
            raise DevenvError(
                f"{what} failed: {failure.report}",
                f"It was rolled back: {service} is still at {at}. "
                + _fix_hint(failure, how, service)) from None
        except BaseException:  # Ctrl-C: psycopg has cancelled the query; undo the transaction
            _rollback(conn)
            raise
    else:
        # Recorded as started (a failed row, committed) before the first statement: a run
        # killed half-way leaves "failed, may be partly applied", never a silent re-run.
        record(success=False)
        progress = Progress()
        try:
            run_statements(conn, how.script, progress)
        except (ScriptFailed, KeyboardInterrupt) as exc:
            partial = exc.partial if isinstance(exc, ScriptFailed) else progress.committed
            if not partial:  # nothing of it stayed: the history says so too
                with suppress(psycopg.Error):
                    delete_ranks(conn, table, [rank])
            if isinstance(exc, KeyboardInterrupt):
                raise
            if not partial:
                raise DevenvError(
                    f"{what} failed: {exc.report}",
                    f"Nothing of it was applied (it ran statement by statement: {how.why}; the "
                    f"failing statement{' and its transaction' if how.own_transactions else ''} "
                    f"rolled back): {service} is still at {at}. "
                    + _fix_hint(exc, how, service)) from None
            raise DevenvError(f"{what} failed: {exc.report}",
                              _repair_hint(migrations, how, progress)) from None
        with conn.pipeline():
            conn.execute("RESET ALL")
            finish_row(conn, table, rank=rank, execution_ms=_ms(started))
    ms = _ms(started)
    emit(f"applied {m.up.shown} in {ms} ms")
    return Applied(version, m.description, m.up.shown, ms)


def _fix_hint(failure: ScriptFailed, how: Plan, service: str) -> str:
    """What to type: the usual "fix the file", or for "cannot run inside a transaction block"
    the two ways to run the file outside one; first, when the server had no room left, where
    its room comes from."""
    if failure.sqlstate == DISK_FULL_SQLSTATE:
        return f"{space_hint(failure.sqlstate)}Then run `devenv migrate {service}` again."
    if failure.sqlstate == OUTSIDE_ONLY_SQLSTATE:
        where = ("inside the file's own BEGIN/COMMIT block, move that statement out of the "
                 "block; otherwise " if how.own_transactions else "")
        return (f"The statement cannot run inside a transaction block: {where}make the file "
                f"run outside a transaction with a first line `{NO_TRANSACTION}` (Flyway: "
                "`executeInTransaction=false` in its .sql.conf file; dbmate: "
                "`-- migrate:up transaction:false`), or move the statement into a migration of "
                f"its own, then run `devenv migrate {service}` again.")
    return f"Fix the file, then run `devenv migrate {service}` again."


def _rollback(conn: Conn) -> None:
    """End a failed transaction; a dead connection has rolled back with its session."""
    if not conn.closed and not conn.broken:
        with suppress(psycopg.Error):
            conn.execute("ROLLBACK")


def _repair_hint(migrations: MigrationSet, how: Plan, progress: Progress) -> str:
    service = migrations.service
    if how.own_transactions:
        kept = (f" (up to line {progress.last_committed_line})"
                if progress.last_committed_line else "")
        ran = (f"It manages its own transactions, so devenv ran it as written, as psql and "
               f"golang-migrate do ({how.why}): what it committed before the failure"
               f"{kept} stays, so it may be partly applied; it is recorded as failed.")
    else:
        ran = (f"It ran outside a transaction ({how.why}), so it may be partly applied; it is "
               "recorded as failed.")
    return (f"{ran} Undo or finish its changes in the database by hand and fix the file, then "
            f"run `devenv repair {service}` and `devenv migrate {service}`.")


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
        plans = [plan(m.down) for m in undone if m.down is not None]  # refused before any runs
        for m, down_plan in zip(undone, plans, strict=True):
            assert m.version is not None
            rank = history.versioned[m.version].installed_rank
            done.append(_undo(conn, table, m, down_plan, rank, emit))
    if not done:
        emit(f"{migrations.shown}: nothing to roll back")
    return done


def _undo(conn: Conn, table: sql.Identifier, m: Migration, how: Plan, rank: int,
          emit: Event) -> Applied:
    down = how.script
    emit(f"rolling back {m.down.shown if m.down else down.shown}")
    started = perf_counter()
    try:
        if how.mode != "statements":
            try:
                conn.execute(how.begin.encode())
                run_whole(conn, down)
                conn.execute("RESET ALL")
                delete_ranks(conn, table, [rank])
                conn.execute("COMMIT")
            except psycopg.Error as exc:
                _rollback(conn)
                raise explain(conn, down, exc) from None
            except BaseException:
                _rollback(conn)
                raise
        else:
            run_statements(conn, down)
            conn.execute("RESET ALL")
            delete_ranks(conn, table, [rank])
    except ScriptFailed as failed:
        state = ("it was rolled back" if how.mode != "statements" or not failed.partial else
                 f"it ran statement by statement ({how.why}) and may be partly applied")
        fix = ("" if failed.sqlstate != OUTSIDE_ONLY_SQLSTATE else
               f" A statement that cannot run inside a transaction block needs a first line "
               f"`{NO_TRANSACTION}` in the down file.")
        raise DevenvError(
            f"Rollback of version {m.version} failed: {failed.report}",
            f"{state.capitalize()}; version {m.version} is still recorded as applied. Fix the "
            f"down migration, then roll back again.{fix}") from None
    ms = _ms(started)
    shown = m.down.shown if m.down else down.shown
    emit(f"rolled back {shown} in {ms} ms")
    return Applied(str(m.version), m.description, shown, ms)


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
