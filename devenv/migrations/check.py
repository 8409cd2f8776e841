"""Is there anything to migrate or seed? One connection, two reads, no lock, no DDL.

The question every warm `devenv up` asks of every service: it has to be cheap and silent.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from devenv.migrations.connect import connect
from devenv.migrations.formats import MigrationSet
from devenv.migrations.ledger import read_rows
from devenv.migrations.seedfiles import SeedSet
from devenv.migrations.seeds import TABLE as SEED_TABLE
from devenv.migrations.seeds import _read as read_seed_ledger
from devenv.migrations.seeds import _state as seed_state
from devenv.migrations.state import History, pending


@dataclass(frozen=True)
class Outstanding:
    migrations: int  # pending migrations (versioned and changed repeatables)
    seeds: int  # seed files never applied
    edited_seeds: int  # seed files edited since they were applied

    @property
    def any(self) -> bool:
        return bool(self.migrations or self.seeds or self.edited_seeds)


def outstanding(conninfo: str, migrations: MigrationSet | None,
                seeds: SeedSet | None) -> Outstanding:
    with connect(conninfo) as conn:
        count = len(pending(migrations, History(read_rows(conn)))) if migrations else 0
        states = []
        if seeds is not None and seeds.files:
            ledger = read_seed_ledger(conn, sql.Identifier(SEED_TABLE))
            states = [seed_state(f, ledger) for f in seeds.files]
    return Outstanding(count, states.count("pending"), states.count("changed"))
