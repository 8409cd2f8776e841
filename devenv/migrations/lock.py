"""Session-level advisory locks that serialize concurrent runners on one database.

A session lock, not a transaction lock, because each migration commits on its own while the
run must stay exclusive; a killed process loses its session and so its lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import psycopg
from psycopg import sql

from devenv.errors import DevenvError


def lock_key(name: str) -> int:
    """A fixed signed 64-bit key derived from a name (pg_advisory_lock takes a bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


SCHEMA_LOCK = lock_key("devenv_schema_history")
SEED_LOCK = lock_key("devenv_seed_history")
# How long a runner waits for another one (issue 14): any session that can connect to the
# database can take this lock, a service that reads it too, so waiting has an end.
WAIT_S = 300.0


Conn = psycopg.Connection[tuple[object, ...]]


@contextmanager
def advisory_lock(conn: Conn, key: int, *, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold pg_advisory_lock(key) for the block; `on_wait` runs once if another session holds
    it, and after WAIT_S the error names that session."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    if not (row and row[0]):
        on_wait()
        wait_for(conn, key, wait_s=WAIT_S, what="the migration lock of this database")
    try:
        yield
    finally:
        # A broken connection has already lost the lock with its session.
        if not conn.closed and not conn.broken:
            with suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def wait_for(conn: Conn, key: int, *, wait_s: float, what: str) -> None:
    """Take pg_advisory_lock(key), waiting at most `wait_s`: every lock devenv waits on has a
    deadline (issue 14), and the error names the session holding it, never a hang."""
    conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{int(wait_s * 1000)}ms")))
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
    except psycopg.errors.LockNotAvailable:
        raise DevenvError(f"waited {wait_s:.0f} s for {what}: {holder(conn, key)}",
                          hint="let it finish, or end that session "
                          "(`SELECT pg_terminate_backend(PID)` as the admin)") from None
    finally:
        conn.execute("RESET lock_timeout")


def holder(conn: Conn, key: int) -> str:
    """Who holds pg_advisory_lock(key) in this database: pid, role, application, since when.

    A bigint key is pg_locks' classid (high 32 bits) and objid (low 32 bits), objsubid 1."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(
        "SELECT a.pid, a.usename, a.application_name, a.datname, "
        "to_char(coalesce(a.xact_start, a.backend_start), 'YYYY-MM-DD HH24:MI:SS') "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::bigint::oid "
        "AND l.objid = %s::bigint::oid AND l.objsubid = 1 AND l.database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1",
        (unsigned >> 32, unsigned & 0xFFFFFFFF)).fetchone()
    if row is None:
        return "held by a session that has since let go"
    pid, role, app, database, since = row
    return (f"held by pid {pid} (role {role}, {f'application {app!r}, ' if app else ''}"
            f"database {database}, since {since})")
