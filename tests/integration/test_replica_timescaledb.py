"""A TimescaleDB server with a read replica, on the real engine (the stand-in image is the
Apache-2 build: hypertables and time_bucket, no compression or continuous aggregates).

The repo's own stack reduced to its TimescaleDB server and the monitor service, whose
migrations make the `metrics` hypertable: rows written on the primary across several chunks
are read on the replica, as a hypertable, on TimescaleDB for PostgreSQL 18 and 17.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.integration.stacks import CAPSULE, CopiedStack, copied

pytestmark = pytest.mark.xdist_group("test_replica_timescaledb")


@pytest.fixture(scope="module", params=["timescale/timescaledb:latest-pg18",
                                        "timescale/timescaledb:latest-pg17"])
def monitor(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    def edit(manifest: dict[str, Any]) -> None:
        server = manifest["servers"]["monitor-db"]
        server.update(replicas=1, image=request.param)
        manifest["servers"] = {"monitor-db": server}
        service = manifest["services"]["monitor"]
        service.pop("redis", None)
        manifest["services"] = {"monitor": service}

    with copied(CAPSULE, tmp_path_factory.mktemp("capsule"), prefix="t-hb-tsdb",
                edit=edit) as stack:
        stack.ok("up")
        yield stack


def one(conn: psycopg.Connection[Any], query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def test_a_hypertable_filled_on_the_primary_is_read_on_the_replica(
        monitor: CopiedStack) -> None:
    env = monitor.env("monitor")
    with psycopg.connect(env["DATABASE_DIRECT_URL"], autocommit=True) as primary:
        primary.execute(
            "INSERT INTO metrics (time, service, name, value) "
            "SELECT now() - make_interval(hours => h), 'api', 'latency_ms', h "
            "FROM generate_series(0, 95) AS h")  # four days: four daily chunks at least
        chunks = one(primary, "SELECT count(*) FROM show_chunks('metrics')")
    assert chunks >= 4
    with psycopg.connect(env["DATABASE_READONLY_URL"], autocommit=True) as replica:
        assert one(replica, "SELECT pg_is_in_recovery()") is True
        deadline = time.monotonic() + 30
        while one(replica, "SELECT count(*) FROM metrics WHERE service = 'api'") < 96:
            assert time.monotonic() < deadline, "the rows never reached the replica"
            time.sleep(0.05)
        assert one(replica, "SELECT count(*) FROM timescaledb_information.hypertables "
                   "WHERE hypertable_name = 'metrics'") == 1
        assert one(replica, "SELECT count(*) FROM show_chunks('metrics')") == chunks
        buckets = one(replica, "SELECT count(*) FROM (SELECT time_bucket('1 day', time) "
                      "FROM metrics WHERE service = 'api' GROUP BY 1) AS days")
        assert buckets >= 4
        assert one(replica, "SELECT sum(value) FROM metrics WHERE service = 'api'") == sum(
            range(96))
