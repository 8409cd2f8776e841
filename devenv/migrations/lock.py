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


@contextmanager
def advisory_lock(conn: psycopg.Connection[tuple[object, ...]], key: int, *,
                  on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold pg_advisory_lock(key) for the block; `on_wait` runs once if another session holds
    it, and after WAIT_S the error names that session."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    if not (row and row[0]):
        on_wait()
        wait = sql.Literal(f"{int(WAIT_S * 1000)}ms")
        conn.execute(sql.SQL("SET lock_timeout = {}").format(wait))
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        except psycopg.errors.LockNotAvailable:
            raise DevenvError(
                f"waited {WAIT_S:.0f} s for the migration lock of this database: "
                f"{_holder(conn, key)}",
                hint="let that run finish, or end its session "
                "(`SELECT pg_terminate_backend(PID)` as the admin)") from None
        finally:
            conn.execute("RESET lock_timeout")
    try:
        yield
    finally:
        # A broken connection has already lost the lock with its session.
        if not conn.closed and not conn.broken:
            with suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def _holder(conn: psycopg.Connection[tuple[object, ...]], key: int) -> str:
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(
        "SELECT a.pid, a.usename, a.application_name, "
        "to_char(coalesce(a.xact_start, a.backend_start), 'YYYY-MM-DD HH24:MI:SS') "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::bigint::oid "
        "AND l.objid = %s::bigint::oid AND l.objsubid = 1 AND l.database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1",
        (unsigned >> 32, unsigned & 0xFFFFFFFF)).fetchone()
    if row is None:
        return "held by a session that has since let go"
    pid, role, app, since = row
    return (f"held by pid {pid} (role {role}, {f'application {app!r}, ' if app else ''}"
            f"since {since})")
