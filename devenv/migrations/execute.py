"""Running one script on the connection, and a server error turned into file:line:col.

The server reports `statement_position`, a 1-based character offset into the text sent; the
text sent starts at `Script.start` in its file (dbmate sections) and, when sent statement by
statement, at the statement's offset in the script, so both are added before counting lines.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

import psycopg

from devenv.migrations.connect import Conn
from devenv.migrations.formats import Script
from devenv.migrations.sqltext import (
    Statement,
    control,
    excerpt,
    lead,
    locate,
    outside_only,
    split_statements,
)


class ScriptFailed(Exception):
    """A script's SQL failed; `report` is the user-facing text naming the file and line.

    `partial`: something of the script stayed (a statement run outside a transaction that
    succeeded, or failed in a way that can leave residue, like CREATE INDEX CONCURRENTLY).
    """

    def __init__(self, report: str, *, partial: bool = False, sqlstate: str | None = None
                 ) -> None:
        super().__init__(report)
        self.report = report
        self.partial = partial
        self.sqlstate = sqlstate


# PostgreSQL's disk_full: a write found no room ("could not extend file ...: No space left on
# device"), which on a `storage: tmpfs` server is its capped tmpfs (issue 27 item 19).
DISK_FULL_SQLSTATE = "53100"
DISK_FULL_HINT = ("The server has no room left for its data: a `storage: tmpfs` server holds "
                  "at most its `tmpfs_size` (raise it under `servers:` in the manifest, then "
                  "`devenv up`); a server on a volume is out of the disk Docker keeps volumes "
                  "on.")


def space_hint(sqlstate: str | None) -> str:
    """The sentence to put before a failure's usual hint when the server ran out of space."""
    return f"{DISK_FULL_HINT} " if sqlstate == DISK_FULL_SQLSTATE else ""


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
        return ScriptFailed(report(script, error, None if pos is None else int(pos) - 1),
                            sqlstate=error.sqlstate)
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
        return ScriptFailed(report(script, error, None), sqlstate=error.sqlstate)
    return ScriptFailed(report(script, found[0], found[1]), sqlstate=error.sqlstate)


@dataclass
class Progress:
    """How far a statement-by-statement run got: whether anything is committed for good, and
    whether the file's own transaction block is open (to roll back after a failure)."""

    committed: bool = False
    open_block: bool = False
    last_committed_line: int = 0


def run_statements(conn: Conn, script: Script, progress: Progress | None = None) -> None:
    """Run the script one statement at a time in autocommit, as psql does: for files marked
    `-- devenv:no-transaction`, files of statements that cannot run in a transaction, and files
    with their own BEGIN/COMMIT (PostgreSQL runs a multi-statement query as one implicit
    transaction). A failure inside the file's own block rolls that block back; `progress` says
    whether anything stayed (`ScriptFailed.partial`)."""
    done = progress if progress is not None else Progress()
    for statement in split_statements(script.sql):
        kind = control(statement)
        try:
            conn.execute(statement.sql.encode())
        except psycopg.Error as exc:
            if done.open_block:
                _end_block(conn)
                done.open_block = False
            # A failed CREATE INDEX CONCURRENTLY can leave an invalid index behind; refused
            # inside a transaction block (25001), it did nothing.
            partial = done.committed or (outside_only(statement) is not None
                                         and exc.sqlstate != "25001")
            raise ScriptFailed(report(script, exc, _offset(statement, exc)), partial=partial,
                               sqlstate=exc.sqlstate) from exc
        except BaseException:  # Ctrl-C: psycopg cancelled the statement; end the file's block
            if done.open_block:
                _end_block(conn)
                done.open_block = False
            raise
        if kind == "open":
            done.open_block = True
        elif kind is not None:
            if kind == "commit" and done.open_block:
                done.committed = True
                done.last_committed_line = _line(script, statement)
            done.open_block = False
        elif not done.open_block:
            done.committed = True
            done.last_committed_line = _line(script, statement)


def _end_block(conn: Conn) -> None:
    if not conn.closed and not conn.broken:
        with suppress(psycopg.Error):
            conn.execute("ROLLBACK")


def _line(script: Script, statement: Statement) -> int:
    end = statement.start + len(statement.sql.rstrip())
    return locate(script.text, script.start + max(end - 1, 0)).line


def _offset(statement: Statement, error: psycopg.Error) -> int:
    pos = error.diag.statement_position
    return statement.start + (int(pos) - 1 if pos is not None else lead(statement.sql))


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
