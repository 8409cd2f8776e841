"""A replica in the everyday commands (issue 24): `ps`, `status` and `logs` show it like a server.

A copy of pcc trimmed to one pooled service (alloydb, pgbouncer, one replica), brought up once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.replica_reads import one
from tests.integration.stacks import PCC, CopiedStack, copied

pytestmark = pytest.mark.xdist_group("test_replica_ops")
REPLICA = "alloydb-replica-1"


def _one_service_one_replica(manifest: dict[str, Any]) -> None:
    manifest["servers"]["alloydb"]["replicas"] = 1
    manifest["services"] = {"client": manifest["services"]["client"]}


@pytest.fixture(scope="module")
def pcc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    with copied(PCC, tmp_path_factory.mktemp("ops"), prefix="t-rops",
                edit=_one_service_one_replica) as stack:
        stack.ok("up")
        yield stack


def _rows(text: str) -> dict[str, list[str]]:
    """A table's rows by their SERVER column (the second in `ps`, the first in `status`)."""
    return {line.split()[0]: line.split() for line in text.splitlines()[1:]}


def test_ps_lists_the_replica_as_its_own_row(pcc: CopiedStack) -> None:
    replica_port = pcc.env("client")["PGPORT_READONLY"]
    lines = pcc.ok("ps").stdout.splitlines()
    assert lines[0].split() == ["CONTAINER", "SERVER", "STATE", "HEALTH", "READY", "PORT",
                                "REPLICA", "OF"]
    rows = {line.split()[1]: line.split() for line in lines[1:]}
    assert list(rows) == ["alloydb", REPLICA, "pgbouncer"]
    container, _, state, health, verified, at, port, of = rows[REPLICA]
    assert container == f"{pcc.project}-{REPLICA}-1"
    assert (state, verified, port, of) == ("running", "verified", replica_port, "alloydb")
    assert health in ("starting", "healthy")
    assert re.fullmatch(r"\d\d:\d\d:\d\d", at)
    assert rows["alloydb"][-1] == rows["pgbouncer"][-1] == "-"  # not replicas


def test_status_lists_the_replica_among_the_servers_and_in_json(pcc: CopiedStack) -> None:
    replica_port = int(pcc.env("client")["PGPORT_READONLY"])
    text = pcc.ok("status").stdout
    servers = text.split("\n", 1)[1].split("\nREPLICA ", 1)[0]
    assert servers.splitlines()[0].split() == ["SERVER", "KIND", "STATE", "HEALTH", "READY",
                                               "PORT", "REPLICA", "OF"]
    row = _rows(servers)[REPLICA]
    assert (row[:3], row[4], row[6:]) == ([REPLICA, "postgres", "running"], "verified",
                                           [str(replica_port), "alloydb"])
    # the replication table stays: its STATE is the stream's, not the container's
    assert "\nREPLICA            OF       STATE      LAG BYTES  LAG SECONDS\n" \
           "alloydb-replica-1  alloydb  streaming  0          0\n" in text
    data = pcc.status()
    entries = {s["name"]: s for s in data["servers"]}
    assert list(entries) == ["alloydb", REPLICA, "pgbouncer"]
    replica = entries[REPLICA]
    assert isinstance(replica.pop("verified_at"), float)
    assert replica.pop("health") in ("starting", "healthy")
    assert replica == {"name": REPLICA, "kind": "postgres", "state": "running",
                       "port": replica_port, "replica_of": "alloydb"}
    assert entries["alloydb"]["replica_of"] is None


def test_logs_of_a_replica_show_that_replica_masked(pcc: CopiedStack) -> None:
    result = pcc.ok("logs", REPLICA, "--tail", "500")
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith(f"{REPLICA}-1  | ") for line in lines), lines[:5]
    assert "devenv: /var/lib/postgresql/18/docker cloned from alloydb (slot devenv_replica_1)" \
        in result.stdout
    for password in pcc.secrets().values():
        assert password not in result.stdout + result.stderr


def test_logs_without_a_name_include_the_replica(pcc: CopiedStack) -> None:
    result = pcc.ok("logs", "--tail", "500")
    shown = {line.split("  | ", 1)[0].strip() for line in result.stdout.splitlines()
             if "  | " in line}
    assert {"alloydb-1", f"{REPLICA}-1", "pgbouncer-1"} <= shown, sorted(shown)
    for password in pcc.secrets().values():
        assert password not in result.stdout + result.stderr


def test_logs_of_an_unknown_name_lists_servers_and_replicas(pcc: CopiedStack) -> None:
    result = pcc.devenv("logs", "alloydb-replica-2")
    assert result.code == 1, result.explain()
    assert result.stderr.splitlines()[0] == (
        "error: no server or replica named 'alloydb-replica-2' (servers: alloydb, pgbouncer; "
        "replicas: alloydb-replica-1)")


def test_a_replica_port_set_in_the_manifest_is_where_the_replica_listens(tmp_path: Path) -> None:
    def edit(manifest: dict[str, Any]) -> None:
        _one_service_one_replica(manifest)
        manifest["servers"]["alloydb"]["replicas"] = [{"port": 7219}]

    with copied(PCC, tmp_path, prefix="t-rport", edit=edit) as stack:
        port = stack.ports[REPLICA]  # copied gives every `port:` key a free port of its own
        stack.ok("up")
        # in the committed file, like a server's port: not a variable of .devenv/compose.env
        assert f"- 127.0.0.1:{port}:5432\n" in (stack.root / "compose/compose.yaml").read_text()
        client = stack.env("client")
        assert client["PGPORT_READONLY"] == str(port)
        assert one(client["DATABASE_READONLY_DIRECT_URL"], "SELECT pg_is_in_recovery()") is True
        rows = {line.split()[1]: line.split() for line in stack.ok("ps").stdout.splitlines()[1:]}
        assert rows[REPLICA][-2:] == [str(port), "alloydb"]
