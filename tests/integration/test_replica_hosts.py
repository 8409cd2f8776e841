"""Two replicas end to end: the libpq multi-host URL and PgBouncer's host list spread reads.

A copy of pcc (pooled services) with `replicas: 2`: DATABASE_READONLY_DIRECT_URL lists both
replicas with target_session_attrs=prefer-standby and lands on a standby, both replicas stream
and replay what the primary committed, and DATABASE_READONLY_URL (PgBouncer's
`<database>_readonly` entry) round-robins its server connections over the two.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import psycopg
import pytest

from tests.integration.replica_reads import eventually
from tests.integration.stacks import PCC, CopiedStack, copied

pytestmark = pytest.mark.xdist_group("test_replica_hosts")


def _two_replicas(manifest: dict[str, Any]) -> None:
    manifest["servers"]["alloydb"]["replicas"] = 2


@pytest.fixture(scope="module")
def pcc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    with copied(PCC, tmp_path_factory.mktemp("pcc2"), prefix="t-ha-multi",
                edit=_two_replicas) as stack:
        stack.ok("up", "client")
        yield stack



def test_the_multi_host_url_lands_on_a_standby_and_both_replicas_stream(
        pcc: CopiedStack) -> None:
    client = pcc.env("client")
    url = client["DATABASE_READONLY_DIRECT_URL"]
    ports = [int(p) for p in client["PGPORT_READONLY"].split(",")]
    assert len(ports) == 2 and int(client["PGPORT"]) not in ports
    assert url.endswith("?target_session_attrs=prefer-standby")
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        assert conn.info.port in ports
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
    with psycopg.connect(client["DATABASE_DIRECT_URL"], autocommit=True) as conn:
        conn.execute("CREATE TABLE spread (n int)")
        conn.execute("INSERT INTO spread VALUES (42)")
    hosts = client["PGHOST_READONLY"].split(",")
    for host, port in zip(hosts, ports, strict=True):
        one = (f"host={host} port={port} dbname={client['PGDATABASE']} "
               f"user={client['PGUSER']} password={client['PGPASSWORD']}")
        eventually(one, "SELECT max(n) FROM spread", 42, timeout=10)
    states = {r["name"]: r["state"] for r in pcc.status()["replicas"]}
    assert states == {"alloydb-replica-1": "streaming", "alloydb-replica-2": "streaming"}


def test_the_pooled_readonly_url_round_robins_over_both_replicas(pcc: CopiedStack) -> None:
    client = pcc.env("client")
    url = client["DATABASE_READONLY_URL"]
    assert url.endswith(f":{pcc.ports['pgbouncer']}/{client['PGDATABASE']}_readonly")
    # Transactions open at once each hold a server connection of their own (transaction
    # pooling): PgBouncer opens new ones, round-robin over the entry's host list.
    with ExitStack() as held:
        addresses = set()
        for _ in range(4):
            conn = held.enter_context(psycopg.connect(url, connect_timeout=10))
            row = conn.execute("SELECT inet_server_addr()::text, pg_is_in_recovery(), "
                               "current_database()").fetchone()
            assert row is not None
            addresses.add(row[0])
            assert row[1:] == (True, client["PGDATABASE"])
    assert len(addresses) == 2, f"all reads went to {addresses}"
