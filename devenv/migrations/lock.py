"""Session-level advisory locks that serialize concurrent runners on one database.

A session lock, not a transaction lock, because each migration commits on its own while the
run must stay exclusive; a killed process loses its session and so its lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import psycopg


def lock_key(name: str) -> int:
    """A fixed signed 64-bit key derived from a name (pg_advisory_lock takes a bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


SCHEMA_LOCK = lock_key("devenv_schema_history")
SEED_LOCK = lock_key("devenv_seed_history")


@contextmanager
def advisory_lock(conn: psycopg.Connection[tuple[object, ...]], key: int, *,
                  on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold pg_advisory_lock(key) for the block; `on_wait` runs once if another session holds it."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    if not (row and row[0]):
        on_wait()
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
    try:
        yield
    finally:
        # A broken connection has already lost the lock with its session.
        if not conn.closed and not conn.broken:
            with suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
