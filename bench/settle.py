"""Steady state before measuring, as in a developer's day: the burst of writes of a cold `up`
(initdb, migrations) on disk first: CHECKPOINT every database server, then sync the host."""

from __future__ import annotations

import os
import time

import psycopg

from devenv.engine.context import Context


def settle(ctx: Context) -> None:
    started = time.perf_counter()
    for server in ctx.stack.servers.values():
        if server.is_database:
            with psycopg.connect(ctx.admin_url(server), autocommit=True) as conn:
                conn.execute("CHECKPOINT")
    os.sync()
    print(f"settled after the cold up: CHECKPOINT + sync took "
          f"{time.perf_counter() - started:.1f} s", flush=True)
