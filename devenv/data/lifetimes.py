"""A server's lifetime, so that no test gets a clone a restart emptied in the middle of a run.

Clones live in the tmpfs tablespace (engine/clonespace): a container restart (`docker restart`,
Docker Desktop waking up, the OOM killer) empties it while the catalog still lists them. The
pytest plugin makes clones ahead, so one made before a restart could reach a test after it.

The check is `pg_postmaster_start_time()`, read on the session the clone is made on: a
session never outlives its server process, so the lifetime read when the session opened is
the lifetime of every clone made on it. Comparing it with the server's current one costs one
query per test, the same round trip that finds a dead admin session; a marker file in the
tablespace would cost a file-system call on top and miss a restart that raced the clone.
"""

from __future__ import annotations

import time

import psycopg

from devenv.data.golden import Conn, advisory_lock
from devenv.engine import clonespace, probes
from devenv.engine.context import Context, unreachable
from devenv.model.stack import ServerSpec

RESTART_WAIT_S = 60.0  # a restarted PostgreSQL container answers in 1-3 s; a busy host is slower
_LOCK = "devenv:clonespace"  # one repair at a time among xdist workers


def connect(ctx: Context, server: ServerSpec) -> tuple[Conn, str]:
    """A new admin session and the lifetime it belongs to, waiting out a restart."""
    def attempt() -> tuple[Conn, str]:
        conn: Conn = ctx.admin_connect(server)
        return conn, lifetime(conn)

    try:
        return probes.retry_until(time.monotonic() + RESTART_WAIT_S, attempt)
    except psycopg.OperationalError as exc:
        raise unreachable(server.name, exc) from None


def lifetime(conn: Conn) -> str:
    """When this session's server process started: it changes with every restart."""
    row = conn.execute("SELECT pg_postmaster_start_time()::text").fetchone()
    assert row is not None
    return str(row[0])


def repair(conn: Conn, server: ServerSpec) -> list[str]:
    """After a restart: drop the clones it emptied and make the tablespace again (once)."""
    with advisory_lock(conn, _LOCK, wait_s=RESTART_WAIT_S,
                       what=f"the clones' tablespace of {server.name}"):
        return clonespace.ensure(conn, server)
