"""Running one script on the connection, and a server error turned into file:line:col.

The server reports `statement_position`, a 1-based character offset into the text sent; the
text sent starts at `Script.start` in its file (dbmate sections) and, when sent statement by
statement, at the statement's offset in the script, so both are added before counting lines.
"""

from __future__ import annotations

import psycopg

from devenv.migrations.connect import Conn
from devenv.migrations.formats import Script
from devenv.migrations.sqltext import Statement, excerpt, locate, split_statements


class ScriptFailed(Exception):
    """A script's SQL failed; `report` is the user-facing text naming the file and line."""

    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


def run_whole(conn: Conn, script: Script) -> None:
    """Send the whole script at once (simple protocol: the server parses it, as one query).

    Call it inside a transaction block; on error the block rolls back, and `explain` then says
    where it failed.
    """
    conn.execute(script.sql.encode())


def explain(conn: Conn, script: Script, error: psycopg.Error) -> ScriptFailed:
    """The report of `error` raised by `run_whole`, once its transaction has rolled back.

    A runtime error (unique violation, division by zero...) carries no position, so the
    statements are replayed one by one in a transaction that is always rolled back, to find the
    failing one and point at its first line.
    """
    pos = error.diag.statement_position
    if pos is not None or conn.broken or conn.closed:
        return ScriptFailed(report(script, error, None if pos is None else int(pos) - 1))
    found: tuple[psycopg.Error, int] | None = None
    try:
        with conn.transaction(force_rollback=True):
            for statement in split_statements(script.sql):
                try:
                    conn.execute(statement.sql.encode())
                except psycopg.Error as exc:
                    found = (exc, _offset(statement, exc))
                    raise
    except psycopg.Error:
        pass
    if found is None or found[0].diag.message_primary != error.diag.message_primary:
        return ScriptFailed(report(script, error, None))
    return ScriptFailed(report(script, found[0], found[1]))


def run_statements(conn: Conn, script: Script) -> None:
    """Run the script one statement at a time in autocommit, for `-- devenv:no-transaction`
    (PostgreSQL runs a multi-statement query as one implicit transaction)."""
    for statement in split_statements(script.sql):
        try:
            conn.execute(statement.sql.encode())
        except psycopg.Error as exc:
            raise ScriptFailed(report(script, exc, _offset(statement, exc))) from exc


def _offset(statement: Statement, error: psycopg.Error) -> int:
    pos = error.diag.statement_position
    return statement.start + (int(pos) - 1 if pos is not None else _lead(statement.sql))


def _lead(sql: str) -> int:
    """Offset of a statement's first real character (past blanks and `--` comment lines)."""
    offset = 0
    for line in sql.splitlines(keepends=True):
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            return offset + len(line) - len(line.lstrip())
        offset += len(line)
    return 0


def report(script: Script, error: psycopg.Error, offset: int | None) -> str:
    """`path:line:col: message`, the offending line with a caret, and the server's detail.

    `offset` is a 0-based character offset into the script's SQL, None when unknown.
    """
    diag = error.diag
    message = diag.message_primary or str(error).strip() or type(error).__name__
    if offset is None:
        text = f"{script.shown}: {message}"
    else:
        where = locate(script.text, script.start + offset)
        text = f"{script.shown}:{where.line}:{where.column}: {message}\n{excerpt(where)}"
    if diag.message_detail:
        text += f"\nDETAIL: {diag.message_detail}"
    if diag.message_hint:
        text += f"\nHINT: {diag.message_hint}"
    return text
