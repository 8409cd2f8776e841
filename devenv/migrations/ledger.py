"""The ledgers: `devenv.devenv_schema_history` (what was applied, when, by whom) and
`devenv.devenv_seed_history`, in one fixed schema that nothing a migration does can move.

Why a schema of its own: an unqualified table follows `search_path`, whose default is
`"$user", public`, so a migration creating a schema named like the service's role used to make
the next run find an empty ledger there and re-apply every file. `devenv` is created by the
first run as the service's role (which owns it), every statement names it, and templates,
clones and resets copy it with the database. A ledger left in `public` or another schema by an
earlier devenv is moved here (ALTER TABLE ... SET SCHEMA, rows untouched) on the next run under
the lock; read-only callers (warm `up`, `status`, `validate`) read it where it still is.

Migration rows of a transactional file are written in the file's transaction, so a rolled-back
migration leaves no row; a file run outside a transaction is recorded as started (a failed
row) before it runs, and marked successful after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from devenv.errors import DevenvError
from devenv.migrations.connect import Conn
from devenv.model.stack import LEDGER_SCHEMA

SCHEMA = LEDGER_SCHEMA
TABLE = "devenv_schema_history"
SEED_TABLE = "devenv_seed_history"
COLUMNS = ("installed_rank, version, description, type, script, checksum, applied_by, "
           "applied_at, execution_ms, success")
_MIGRATION_DDL = """(
    installed_rank integer PRIMARY KEY,
    version        text,
    description    text NOT NULL,
    type           text NOT NULL,
    script         text NOT NULL,
    checksum       text NOT NULL,
    applied_by     text NOT NULL DEFAULT current_user,
    applied_at     timestamptz NOT NULL DEFAULT now(),
    execution_ms   integer NOT NULL,
    success        boolean NOT NULL
)"""
# tables: the root tables (by OID) a seed wrote into, so that a seed whose table was dropped
# since (a rollback, a migration that recreates it) counts as not applied (issue 24).
_SEED_DDL = ("(script text PRIMARY KEY, checksum text NOT NULL, "
             "applied_at timestamptz NOT NULL DEFAULT now(), success boolean NOT NULL, "
             "tables oid[])")
_DDL = {TABLE: _MIGRATION_DDL, SEED_TABLE: _SEED_DDL}
# Columns added after a ledger's first release: the next run that writes the ledger adds them
# to a table an earlier devenv made; readers cope without them until then.
_ADDED: dict[str, tuple[tuple[str, str], ...]] = {SEED_TABLE: (("tables", "oid[]"),)}


@dataclass(frozen=True)
class LedgerRow:
    installed_rank: int
    version: str | None
    description: str
    type: str  # "versioned" | "repeatable"
    script: str
    checksum: str
    applied_by: str
    applied_at: datetime
    execution_ms: int
    success: bool


def home(name: str = TABLE) -> sql.Identifier:
    """Where a ledger table lives: always schema-qualified."""
    return sql.Identifier(SCHEMA, name)


def legacy_schemas(conn: Conn, name: str) -> list[str]:
    """Schemas other than `devenv` holding a table `name` (an earlier devenv's ledger)."""
    rows = conn.execute(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = %s AND c.relkind IN ('r', 'p') AND n.nspname <> %s "
        "ORDER BY n.nspname = 'public' DESC, n.nspname", (name, SCHEMA)).fetchall()
    return [str(r[0]) for r in rows]


def locate(conn: Conn, name: str = TABLE) -> str | None:
    """The schema of an earlier devenv's ledger `name` that holds rows, or None.

    Only asked when `devenv.<name>` is missing, so the usual read costs one query. Empty
    copies (an old run made one in a schema created by a migration) do not count.
    """
    found = [s for s in legacy_schemas(conn, name) if _count(conn, s, name) > 0]
    if len(found) > 1:
        tables = ", ".join(f"{s}.{name}" for s in found)
        raise DevenvError(
            f"The database holds more than one devenv ledger ({tables}) and none in "
            f"{SCHEMA}.{name}: devenv cannot tell which one says what was applied",
            f"Keep the right one and drop the other as the database's owner (`devenv psql` "
            f"then e.g. `DROP TABLE {found[-1]}.{name};`), then run the command again.")
    return found[0] if found else None


def _count(conn: Conn, schema: str, name: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
        sql.Identifier(schema, name))).fetchone()
    return int(row[0]) if row and isinstance(row[0], int) else 0


def ensure_table(conn: Conn, name: str = TABLE,
                 on_event: Callable[[str], None] | None = None) -> sql.Identifier:
    """The ledger in place under `devenv`, adopting an earlier devenv's one (call it under the
    run's advisory lock: CREATE IF NOT EXISTS and the move can race)."""
    qualified = f"{SCHEMA}.{name}"
    row = conn.execute(
        "SELECT to_regnamespace(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL, "
        "ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass(%s) "
        "AND attnum > 0 AND NOT attisdropped)",
        (SCHEMA, qualified, qualified)).fetchone()
    has_schema, has_table = bool(row and row[0]), bool(row and row[1])
    columns = [str(c) for c in row[2]] if row and isinstance(row[2], list) else []
    table = home(name)
    if not has_table:
        try:
            _create(conn, name, has_schema=has_schema, on_event=on_event)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise DevenvError(
                f"Cannot create devenv's ledger {qualified}: {exc.diag.message_primary}",
                f"The service's role needs CREATE on its database (devenv's provisioning makes "
                f"it the owner), or create the schema for it: `CREATE SCHEMA {SCHEMA} "
                "AUTHORIZATION <role>;` as the admin.") from None
        columns = _columns(conn, qualified)
    for column, kind in _ADDED.get(name, ()):
        if column not in columns:  # an earlier devenv's table (adopted, or found in place)
            conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} " + kind).format(
                table, sql.Identifier(column)))
    return table


def _columns(conn: Conn, qualified: str) -> list[str]:
    rows = conn.execute("SELECT attname::text FROM pg_attribute WHERE attrelid = %s::regclass "
                        "AND attnum > 0 AND NOT attisdropped", (qualified,)).fetchall()
    return [str(r[0]) for r in rows]


def _create(conn: Conn, name: str, *, has_schema: bool,
            on_event: Callable[[str], None] | None) -> None:
    table = home(name)
    with conn.transaction():
        if not has_schema:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
        old = locate(conn, name)
        if old is not None:
            conn.execute(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
                sql.Identifier(old, name), sql.Identifier(SCHEMA)))
            if on_event is not None:
                on_event(f"moved the ledger {old}.{name} to {SCHEMA}.{name}")
        else:
            conn.execute(sql.SQL("CREATE TABLE {} " + _DDL[name]).format(table))


def read_rows(conn: Conn, table: sql.Identifier | None = None) -> list[LedgerRow]:
    """Every row in installed order; none when there is no ledger yet. Never creates anything
    (read-only callers pass no `table`). The ledger is looked up in the catalog first: selecting
    from a table that is not there yet would log an ERROR in a fresh database's server log,
    which alarms whoever reads it (issue 28)."""
    if table is None:
        table = read_table(conn, TABLE)
        if table is None:
            return []
    return _select(conn, table)


def read_table(conn: Conn, name: str) -> sql.Identifier | None:
    """The table a read-only caller reads ledger `name` from, None when there is none yet.

    Costs one catalog query; callers that only read rows use `read_rows`, one query.
    """
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                       (f"{SCHEMA}.{name}",)).fetchone()
    if row and row[0]:
        return home(name)
    old = locate(conn, name)
    return None if old is None else sql.Identifier(old, name)


def _select(conn: Conn, table: sql.Identifier) -> list[LedgerRow]:
    query = sql.SQL("SELECT {} FROM {} ORDER BY installed_rank").format(sql.SQL(COLUMNS), table)
    with conn.cursor(row_factory=class_row(LedgerRow)) as cur:
        return cur.execute(query).fetchall()


def insert_row(conn: Conn, table: sql.Identifier, *, rank: int, version: str | None,
               description: str, kind: str, script: str, checksum: str, execution_ms: int,
               success: bool) -> None:
    """One ledger row, as a prepared statement: a run inserts hundreds with one plan."""
    conn.execute(
        sql.SQL("INSERT INTO {} (installed_rank, version, description, type, script, checksum,"
                " execution_ms, success) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)").format(table),
        (rank, version, description, kind, script, checksum, execution_ms, success),
        prepare=True)


def finish_row(conn: Conn, table: sql.Identifier, *, rank: int, execution_ms: int) -> None:
    """Mark a started (non-transactional) migration's row as successful."""
    conn.execute(sql.SQL("UPDATE {} SET success = true, execution_ms = %s "
                         "WHERE installed_rank = %s").format(table), (execution_ms, rank))


def delete_ranks(conn: Conn, table: sql.Identifier, ranks: list[int]) -> None:
    conn.execute(sql.SQL("DELETE FROM {} WHERE installed_rank = ANY(%s)").format(table), (ranks,))


def update_checksum(conn: Conn, table: sql.Identifier, *, rank: int, checksum: str,
                    description: str, script: str) -> None:
    conn.execute(sql.SQL("UPDATE {} SET checksum = %s, description = %s, script = %s "
                         "WHERE installed_rank = %s").format(table),
                 (checksum, description, script, rank))
