"""Is there anything to migrate or seed, and do the files still match the ledger? One
connection, two reads, no lock, no DDL.

The question every warm `devenv up` asks of every service: it has to be cheap and silent. The
drift check costs no query of its own: it compares the checksums `load_migrations` already
computed with the rows just read (Flyway's validate-on-migrate, without a second pass).
"""

from __future__ import annotations

from dataclasses import dataclass

from devenv.migrations.connect import Conn, connect
from devenv.migrations.formats import MigrationSet
from devenv.migrations.ledger import read_rows
from devenv.migrations.lock import SCHEMA_LOCK
from devenv.migrations.seedfiles import SeedSet
from devenv.migrations.seeds import read_ledger, state_of
from devenv.migrations.state import History, Problem, pending, problems


@dataclass(frozen=True)
class Outstanding:
    migrations: int  # pending migrations (versioned and changed repeatables)
    seeds: int  # seed files never applied
    edited_seeds: int  # seed files edited since they were applied
    drift: tuple[Problem, ...] = ()  # files that no longer match the ledger
    busy: bool = False  # another run holds the migration lock: its "failed" rows are running
    scripts: tuple[str, ...] = ()  # the pending migrations' files, in order (`devenv plan`)
    seed_files: tuple[str, ...] = ()  # the seed files to apply, new or edited

    @property
    def any(self) -> bool:
        return bool(self.migrations or self.seeds or self.edited_seeds or self.busy)


def outstanding(conninfo: str, migrations: MigrationSet | None, seeds: SeedSet | None, *,
                out_of_order: bool = False) -> Outstanding:
    drift: list[Problem] = []
    busy = False
    with connect(conninfo) as conn:
        todo = []
        if migrations is not None:
            history = History(read_rows(conn))
            todo = pending(migrations, history)
            drift = problems(migrations, history, out_of_order=out_of_order)
            # A migration run outside a transaction is recorded as failed until it ends: when
            # another run holds the lock, it may still be running, not failed. Only asked when
            # a failure is seen, so the usual check stays at two queries.
            if any(p.kind == "failed" for p in drift) and _locked_elsewhere(conn):
                drift, busy = [p for p in drift if p.kind != "failed"], True
        states = []
        if seeds is not None and seeds.files:
            ledger = read_ledger(conn)
            states = [state_of(f, ledger) for f in seeds.files]
    seed_files = tuple(f.shown for f, s in zip(seeds.files if seeds else (), states,
                                               strict=True) if s == "pending")
    return Outstanding(len(todo), states.count("pending"), states.count("changed"), tuple(drift),
                       busy, tuple(m.up.shown for m in todo), seed_files)


def _locked_elsewhere(conn: Conn) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (SCHEMA_LOCK,)).fetchone()
    if row and row[0]:
        conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))
        return False
    return True
