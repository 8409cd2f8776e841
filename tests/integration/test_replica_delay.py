"""`replica_delay` on the real engine: a fresh write stays invisible on the replica for the
delay (PostgreSQL's recovery_min_apply_delay), then appears, on PostgreSQL 18 and 17.

Bounded polls, no fixed sleeps: the write is checked invisible right after its commit, then
polled for up to the delay plus 10 s, and the time it took is checked to be at least the delay.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.integration.stacks import PCC, CopiedStack, copied

pytestmark = pytest.mark.xdist_group("test_replica_delay")

DELAY = 1.0  # seconds; `replica_delay: 1s`


@pytest.fixture(scope="module", params=["postgres:18", "postgres:17"])
def delayed(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    def edit(manifest: dict[str, Any]) -> None:
        manifest["servers"]["alloydb"].update(replicas=1, replica_delay="1s",
                                              image=request.param)

    with copied(PCC, tmp_path_factory.mktemp("pcc"), prefix="t-hb-delay", edit=edit) as stack:
        stack.ok("up")
        yield stack


def _count(conn: psycopg.Connection[Any], query: str) -> int:
    row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_a_fresh_write_is_invisible_for_the_delay_and_visible_after(
        delayed: CopiedStack) -> None:
    env = delayed.env("client")
    with psycopg.connect(env["DATABASE_DIRECT_URL"], autocommit=True) as primary, \
            psycopg.connect(env["DATABASE_READONLY_URL"], autocommit=True) as replica:
        assert replica.execute("SHOW recovery_min_apply_delay").fetchone() == ("1s",)
        primary.execute("CREATE TABLE lagged (n int)")
        deadline = time.monotonic() + DELAY + 10
        while _count(replica, "SELECT count(*) FROM pg_class WHERE relname = 'lagged'") == 0:
            assert time.monotonic() < deadline, "the table never reached the replica"
            time.sleep(0.02)

        started = time.monotonic()
        primary.execute("INSERT INTO lagged VALUES (1)")  # autocommit: committed on return
        assert _count(replica, "SELECT count(*) FROM lagged") == 0
        deadline = time.monotonic() + DELAY + 10
        while _count(replica, "SELECT count(*) FROM lagged") == 0:
            assert time.monotonic() < deadline, f"not visible within {DELAY + 10}s"
            time.sleep(0.02)
        took = time.monotonic() - started
    assert took >= DELAY, f"visible on the replica after {took:.3f}s, before the 1s delay"


def test_up_is_ready_with_a_delayed_replica_and_status_shows_it_streaming(
        delayed: CopiedStack) -> None:
    result = delayed.ok("up")
    assert "is up to date" in result.stdout  # a delayed replica streams: the warm path holds
    assert [(r["name"], r["state"]) for r in delayed.status()["replicas"]] == [
        ("alloydb-replica-1", "streaming")]
