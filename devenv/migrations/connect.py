"""Opening the one connection a run uses, with a connection failure turned into a DevenvError.

Not an admin session (Context.admin_connect): a run connects with the URL it is given, the
service's own role or the stack's migration role, and runs the service's files as that role,
with the search_path the service chose. This layer has no Context, and the Kubernetes Job runs
it with no .devenv/ at all."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict

from devenv.errors import STACK_DOWN_HINT, DevenvError, last_line

Conn = psycopg.Connection[tuple[object, ...]]


def describe(conninfo: str) -> str:
    """`user@host:port/dbname` of a conninfo, never its password."""
    try:
        parts = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "the configured database"
    return (f"{parts.get('user', '?')}@{parts.get('host', 'localhost')}:"
            f"{parts.get('port', 5432)}/{parts.get('dbname', '?')}")


# The server notices a vanished client (killed runner) only when it next talks to it; with this
# check (PostgreSQL 14+) a running statement is aborted within a second, so the transaction
# rolls back and the advisory lock is released instead of waiting for the statement to end.
# A startup option, so that RESET ALL between migrations keeps it.
_CHECK = "-c client_connection_check_interval=1000"


def connect(conninfo: str) -> Conn:
    """An autocommit connection: transactions are opened explicitly, one per file."""
    try:
        given = conninfo_to_dict(conninfo).get("options")
        try:
            return psycopg.connect(conninfo, autocommit=True, client_encoding="UTF8",
                                   options=f"{given} {_CHECK}" if given else _CHECK)
        except psycopg.OperationalError as exc:
            # PostgreSQL < 14 does not know the setting; PgBouncer refuses startup options.
            if "client_connection_check_interval" not in str(exc) and "options" not in str(exc):
                raise
            return psycopg.connect(conninfo, autocommit=True, client_encoding="UTF8")
    except psycopg.Error as exc:
        raise DevenvError(f"cannot reach {describe(conninfo)} ({last_line(exc)})",
                          STACK_DOWN_HINT) from None
