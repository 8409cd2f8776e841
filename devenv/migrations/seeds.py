"""Applying seeds: each file once, in its own transaction with its `devenv_seed_history` row.

An edited seed is never re-applied silently nor skipped silently: `seed` re-applies it only
with `force=True` and otherwise returns it in `SeedResult.changed` for the CLI to warn about.
Re-applying runs the file again as it is, over the rows already there: seeds meant to be forced
should be idempotent (INSERT ... ON CONFLICT); a CSV seed COPYs its rows again. A full, clean
re-apply of every seed happens on reset, which recreates the database.

A seed's ledger row also keeps the tables it wrote into; while one of them is gone (a rollback
dropped it), the seed reads as pending and the next run applies it again (issue 24).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from time import perf_counter
from typing import Literal

import psycopg
from psycopg import sql

from devenv.errors import DevenvError
from devenv.migrations.connect import Conn, connect
from devenv.migrations.execute import DISK_FULL_SQLSTATE, explain, run_whole, space_hint
from devenv.migrations.formats import Script
from devenv.migrations.ledger import SEED_TABLE, ensure_table, read_table
from devenv.migrations.lock import SEED_LOCK, advisory_lock
from devenv.migrations.seedfiles import SeedFile, SeedSet
from devenv.model.stack import LEDGER_SCHEMA

SeedState = Literal["applied", "pending", "changed"]
TABLE = SEED_TABLE


@dataclass(frozen=True)
class SeedStatus:
    script: str  # relative to the root
    state: SeedState
    applied_at: datetime | None


@dataclass(frozen=True)
class SeedResult:
    applied: list[str]  # files applied by this run, relative to the root
    changed: list[str]  # edited since they were applied and NOT re-applied (no force)
    elapsed_ms: int


def _quiet(_: str) -> None:
    pass


# A seed counts as applied while every table it wrote into still exists: its rows went with a
# table that a rollback (or a migration recreating it) dropped. OIDs, not names: a table
# dropped and created again under the same name is another table, empty. Rows without
# `tables` (recorded by an earlier devenv) count as applied, as they did.
_APPLIED = ("SELECT script, checksum, applied_at FROM {} h WHERE success AND (h.tables IS NULL "
            "OR (SELECT count(*) FROM pg_class c WHERE c.oid = ANY(h.tables)) "
            "= cardinality(h.tables))")
_APPLIED_BEFORE_TABLES = "SELECT script, checksum, applied_at FROM {} WHERE success"

# What the seed's transaction wrote: pg_stat_xact_user_tables counts inserts, updates and
# deletes (COPY included), but its counts also hold the session's earlier transactions whose
# statistics are not flushed yet (PostgreSQL 15+ flushes them at most once a second, when
# idle), so the counts read when the transaction began (_COUNTS) are subtracted. No flush
# happens inside a transaction block. Each table is taken up to its root through
# pg_inherits: a partition or a TimescaleDB chunk can be dropped (retention) while its table,
# and the seed's other rows, stay. Temporary tables, devenv's own ledgers and an extension's
# tables (TimescaleDB's catalog, written when an insert makes a chunk) do not count.
_COUNTS = ("SELECT coalesce(array_agg(relid), '{}'), "
           "coalesce(array_agg(n_tup_ins + n_tup_upd + n_tup_del), '{}') "
           "FROM pg_catalog.pg_stat_xact_user_tables")
_WRITTEN = sql.SQL("""(WITH RECURSIVE up(rel) AS (
    SELECT s.relid FROM pg_catalog.pg_stat_xact_user_tables s
      JOIN pg_catalog.pg_class c ON c.oid = s.relid
      LEFT JOIN unnest(%s::oid[], %s::bigint[]) b(relid, n) ON b.relid = s.relid
     WHERE s.n_tup_ins + s.n_tup_upd + s.n_tup_del > coalesce(b.n, 0)
       AND c.relpersistence <> 't' AND s.schemaname <> {schema}
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.objid = s.relid
                       AND d.classid = 'pg_catalog.pg_class'::regclass AND d.deptype = 'e')
    UNION
    SELECT i.inhparent FROM up JOIN pg_catalog.pg_inherits i ON i.inhrelid = up.rel)
  SELECT coalesce(array_agg(rel ORDER BY rel), '{{}}') FROM up
   WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_inherits i WHERE i.inhrelid = up.rel))""").format(
    schema=sql.Literal(LEDGER_SCHEMA))


def read_ledger(conn: Conn, table: sql.Composable | None = None
                ) -> dict[str, tuple[str, datetime]]:
    """Applied seeds by file name (a seed whose table was dropped since is not: see _APPLIED);
    read-only callers pass no `table` (devenv's schema, else an earlier devenv's ledger, else
    none: nothing is created)."""
    if table is None:  # looked up first: no ERROR in a fresh database's log (read_rows)
        table = read_table(conn, TABLE)
        if table is None:
            return {}
    return _applied(conn, table)


def _applied(conn: Conn, table: sql.Composable) -> dict[str, tuple[str, datetime]]:
    try:
        rows = conn.execute(sql.SQL(_APPLIED).format(table)).fetchall()
    except psycopg.errors.UndefinedColumn:  # an earlier devenv's ledger, read before a run
        rows = conn.execute(sql.SQL(_APPLIED_BEFORE_TABLES).format(table)).fetchall()
    return {str(s): (str(c), a) for s, c, a in rows if isinstance(a, datetime)}


def state_of(seed_file: SeedFile, ledger: dict[str, tuple[str, datetime]]) -> SeedState:
    if seed_file.name not in ledger:
        return "pending"
    return "applied" if ledger[seed_file.name][0] == seed_file.checksum else "changed"


def seed_status(conninfo: str, seeds: SeedSet) -> list[SeedStatus]:
    """Each seed file: applied, pending, or changed (edited after it was applied)."""
    with connect(conninfo) as conn:
        ledger = read_ledger(conn)
    return [SeedStatus(f.shown, state_of(f, ledger),
                       ledger[f.name][1] if f.name in ledger else None) for f in seeds.files]


def seed(conninfo: str, seeds: SeedSet, *, force: bool = False,
         on_event: Callable[[str], None] | None = None) -> SeedResult:
    """Apply pending seeds in name order (and changed ones with `force`)."""
    emit = on_event or _quiet
    started = perf_counter()
    applied: list[str] = []
    changed: list[str] = []
    with connect(conninfo) as conn, advisory_lock(
            conn, SEED_LOCK, on_wait=lambda: emit("waiting for another seed run")):
        table = ensure_table(conn, TABLE, emit)
        ledger = read_ledger(conn, table)
        for seed_file in seeds.files:
            state = state_of(seed_file, ledger)
            if state == "applied":
                continue
            if state == "changed" and not force:
                changed.append(seed_file.shown)
                emit(f"{seed_file.shown} changed since it was applied: not re-applied "
                     f"(`devenv seed {seeds.service} --force` re-applies it)")
                continue
            file_started = perf_counter()
            _apply(conn, table, seeds, seed_file)
            applied.append(seed_file.shown)
            emit(f"seeded {seed_file.shown} in {round((perf_counter() - file_started) * 1000)} ms")
    return SeedResult(applied, changed, round((perf_counter() - started) * 1000))


def _apply(conn: Conn, table: sql.Composable, seeds: SeedSet, seed_file: SeedFile) -> None:
    script = Script(seed_file.path, seed_file.shown, seed_file.text, 0, len(seed_file.text), True)
    try:
        with conn.transaction():
            before = conn.execute(_COUNTS, prepare=True).fetchone()
            if seed_file.kind == "sql":
                run_whole(conn, script)
            else:
                _copy(conn, seed_file)
            conn.execute("RESET ALL")
            conn.execute(sql.SQL(
                "INSERT INTO {} (script, checksum, success, tables) VALUES (%s, %s, true, {}) "
                "ON CONFLICT (script) DO UPDATE SET checksum = EXCLUDED.checksum, "
                "applied_at = now(), success = true, tables = EXCLUDED.tables").format(
                    table, _WRITTEN),
                (seed_file.name, seed_file.checksum, *(before or ([], []))), prepare=True)
    except psycopg.Error as exc:
        if seed_file.kind == "sql":
            report = explain(conn, script, exc).report
        else:
            report = f"{seed_file.shown}: {exc.diag.message_primary or exc}"
            if exc.diag.context:
                report += f"\nCONTEXT: {exc.diag.context.strip()}"
            if exc.diag.message_detail:
                report += f"\nDETAIL: {exc.diag.message_detail}"
        hint = f"Fix the file, then run `devenv seed {seeds.service}` again."
        if exc.sqlstate == DISK_FULL_SQLSTATE:
            hint = f"{space_hint(exc.sqlstate)}Then run `devenv seed {seeds.service}` again."
        if exc.sqlstate == "25001":  # "... cannot run inside a transaction block"
            hint = ("Seeds always run in a transaction: move the statement into a migration "
                    "whose first line is `-- devenv:no-transaction` (Flyway: "
                    "`executeInTransaction=false` in its .sql.conf file).")
        raise DevenvError(f"Seed failed: {report}", f"It was rolled back. {hint}") from None


def _copy(conn: Conn, seed_file: SeedFile) -> None:
    query = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true)").format(
        sql.Identifier(*seed_file.table), sql.SQL(", ").join(map(sql.Identifier,
                                                                 seed_file.columns)))
    with conn.cursor() as cur, cur.copy(query) as copy:
        copy.write(seed_file.text.encode())
