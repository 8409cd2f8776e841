"""Tests that read on a replica: wait until it has replayed what the primary committed.

Clones are made on the primary and reach a replica through WAL, so a test reading through
`DATABASE_READONLY_URL` needs the replica to have replayed the clone's creation first, and then
each commit it wants to read back. One cached session per replica keeps a wait at one query
per replica when it has nothing to wait for; a paused replica fails at once (it would never
catch up) instead of running out the timeout.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from devenv.engine import replication
from devenv.engine.context import Context, unreachable
from devenv.engine.replication import REPLAY_TIMEOUT
from devenv.errors import DevenvError
from devenv.model.replicas import Replica, replicas_of
from devenv.model.stack import ServerSpec


class ReplayWait:
    """Cached admin sessions to a stack's replicas (one per replica, opened on first use)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._sessions: dict[str, psycopg.Connection[Any]] = {}

    def until_replayed(self, server: ServerSpec, primary: psycopg.Connection[Any],
                       timeout: float = REPLAY_TIMEOUT) -> None:
        """Return once every replica of `server` replayed the primary's WAL as of now
        (`primary`: an autocommit session there, e.g. the admin's or the test's own)."""
        if not server.replicas:
            return
        row = primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        assert row is not None
        lsn = str(row[0])
        deadline = time.monotonic() + timeout
        for replica in replicas_of(server):
            self._wait(server, replica, lsn, deadline, timeout)

    def _wait(self, server: ServerSpec, replica: Replica, lsn: str, deadline: float,
              timeout: float) -> None:
        pause = 0.001
        while True:
            replayed, paused = self._probe(server, replica, lsn)
            if replayed:
                return
            if paused:
                raise replication.paused_error(server, replica, lsn)
            if time.monotonic() >= deadline:
                delay = f" (replica_delay {server.replica_delay})" if server.replica_delay else ""
                raise DevenvError(
                    f"replica '{replica.name}' did not replay the primary's WAL up to {lsn} "
                    f"within {timeout:g}s{delay}",
                    hint=f"`devenv status` shows its lag; `devenv logs {replica.name}` its log")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _probe(self, server: ServerSpec, replica: Replica, lsn: str) -> tuple[bool, bool]:
        """(replayed up to lsn, paused), reconnecting once if the replica restarted."""
        for attempt in (1, 2):
            conn = self._session(server, replica)
            try:
                _, paused, replayed, _ = replication.replay_position(conn, lsn)
                return replayed, paused
            except psycopg.OperationalError as exc:
                self._sessions.pop(replica.name, None)
                if attempt == 2:
                    raise unreachable(replica.name, exc, kind="replica") from None
        raise AssertionError("unreachable")

    def _session(self, server: ServerSpec, replica: Replica) -> psycopg.Connection[Any]:
        conn = self._sessions.get(replica.name)
        if conn is None or conn.closed:
            conn = self.ctx.admin_session(server, replica=replica)
            self._sessions[replica.name] = conn
        return conn

    def close(self) -> None:
        for conn in self._sessions.values():
            conn.close()
        self._sessions.clear()
