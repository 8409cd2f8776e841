"""Opening the one connection a run uses, with a connection failure turned into a DevenvError."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict

from devenv.errors import DevenvError

Conn = psycopg.Connection[tuple[object, ...]]


def describe(conninfo: str) -> str:
    """`user@host:port/dbname` of a conninfo, never its password."""
    try:
        parts = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "the configured database"
    return (f"{parts.get('user', '?')}@{parts.get('host', 'localhost')}:"
            f"{parts.get('port', 5432)}/{parts.get('dbname', '?')}")


def connect(conninfo: str) -> Conn:
    """An autocommit connection: transactions are opened explicitly, one per file."""
    try:
        return psycopg.connect(conninfo, autocommit=True, client_encoding="UTF8")
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DevenvError(f"Cannot connect to {describe(conninfo)}: {reason}",
                          "Is the stack up? Start it with `devenv up`.") from None
