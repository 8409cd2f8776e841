"""The `devenv_schema_history` table: what was applied to this database, when and by whom.

Rows are written in the same transaction as their migration, so a rolled-back migration leaves
no row. The table lives in the role's current schema, resolved once per run and then named with
its schema, so a migration that changes search_path cannot send later rows elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from devenv.errors import DevenvError
from devenv.migrations.connect import Conn

TABLE = "devenv_schema_history"
COLUMNS = ("installed_rank, version, description, type, script, checksum, applied_by, "
           "applied_at, execution_ms, success")


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


def in_current_schema(conn: Conn, name: str) -> sql.Identifier:
    """`name` in the schema the role is using: where devenv's ledger tables live."""
    row = conn.execute("SELECT current_schema()").fetchone()
    if row is None or row[0] is None:
        raise DevenvError(f"The database has no schema to hold {name} "
                          "(current_schema() is NULL)",
                          "Create a schema the role can write to, or fix its search_path.")
    return sql.Identifier(str(row[0]), name)


def ensure_table(conn: Conn) -> sql.Identifier:
    """Create the ledger if needed (call it under the lock: CREATE IF NOT EXISTS can race)."""
    table = in_current_schema(conn, TABLE)
    conn.execute(sql.SQL("""
        CREATE TABLE IF NOT EXISTS {} (
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
        )""").format(table))
    return table


def read_rows(conn: Conn, table: sql.Identifier | None = None) -> list[LedgerRow]:
    """Every row in installed order; none when the table does not exist yet (one query)."""
    name = table or sql.Identifier(TABLE)
    query = sql.SQL("SELECT {} FROM {} ORDER BY installed_rank").format(sql.SQL(COLUMNS), name)
    try:
        with conn.cursor(row_factory=class_row(LedgerRow)) as cur:
            return cur.execute(query).fetchall()
    except psycopg.errors.UndefinedTable:
        return []


def insert_row(conn: Conn, table: sql.Identifier, *, rank: int, version: str | None,
               description: str, kind: str, script: str, checksum: str, execution_ms: int,
               success: bool) -> None:
    """One ledger row, as a prepared statement: a run inserts hundreds with one plan."""
    conn.execute(
        sql.SQL("INSERT INTO {} (installed_rank, version, description, type, script, checksum,"
                " execution_ms, success) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)").format(table),
        (rank, version, description, kind, script, checksum, execution_ms, success),
        prepare=True)


def delete_ranks(conn: Conn, table: sql.Identifier, ranks: list[int]) -> None:
    conn.execute(sql.SQL("DELETE FROM {} WHERE installed_rank = ANY(%s)").format(table), (ranks,))


def update_checksum(conn: Conn, table: sql.Identifier, *, rank: int, checksum: str,
                    description: str, script: str) -> None:
    conn.execute(sql.SQL("UPDATE {} SET checksum = %s, description = %s, script = %s "
                         "WHERE installed_rank = %s").format(table),
                 (checksum, description, script, rank))
