"""Read replicas end to end on the real engine: what a service sees through its read-only URL.

A copy of pcc (seven services on one server) with `replicas: 1`, on PostgreSQL 18 (the
default image) and 17: the replica streams, reads what the primary committed, refuses writes,
pauses and resumes on demand, and a `reset` of one service reaches it and leaves the others.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.replica_reads import eventually, one
from tests.integration.stacks import PCC, CopiedStack, copied

pytestmark = pytest.mark.xdist_group("test_replicas")
# a replica that clones itself again after a restart takes a while; until then reads fail
REPLAY: dict[str, Any] = {"timeout": 90.0, "tolerate": (psycopg.Error,)}


def _with_replica(image: str) -> Any:
    def edit(manifest: dict[str, Any]) -> None:
        manifest["servers"]["alloydb"].update(replicas=1, image=image)
    return edit


@pytest.fixture(scope="module", params=["postgres:18", "postgres:17"])
def pcc(request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    with copied(PCC, tmp_path_factory.mktemp("pcc"), prefix="t-replica",
                edit=_with_replica(request.param)) as stack:
        stack.ok("up")
        yield stack



def test_the_replica_streams_and_reads_what_the_primary_committed(pcc: CopiedStack) -> None:
    client = pcc.env("client")
    assert client["PGPORT_READONLY"] != client["PGPORT"]
    with psycopg.connect(client["DATABASE_DIRECT_URL"], autocommit=True) as conn:
        conn.execute("CREATE TABLE report (n int)")
        conn.execute("INSERT INTO report VALUES (7)")
    pcc.ok("reset", "auth")  # returns once the replica replayed it, so no sleep is needed
    assert one(client["DATABASE_READONLY_URL"], "SELECT n FROM report") == 7
    assert one(client["DATABASE_READONLY_URL"], "SELECT pg_is_in_recovery()") is True
    status = pcc.status()
    assert [(r["name"], r["state"]) for r in status["replicas"]] == [
        ("alloydb-replica-1", "streaming")]


def test_the_readonly_url_refuses_writes(pcc: CopiedStack) -> None:
    client = pcc.env("client")
    with psycopg.connect(client["DATABASE_READONLY_URL"], autocommit=True) as conn, \
            pytest.raises(psycopg.errors.ReadOnlySqlTransaction,
                          match="cannot execute CREATE TABLE in a read-only transaction"):
        conn.execute("CREATE TABLE nope (n int)")


def test_reads_of_another_database_work_on_the_replica_as_on_the_primary(
        pcc: CopiedStack) -> None:
    """auth `reads: [user]`: the grants replicate, so on the replica too auth's role reads
    user's tables and cannot write them, and a service that does not read user cannot connect."""
    user, auth, task = pcc.env("user"), pcc.env("auth"), pcc.env("task_builder")
    with psycopg.connect(user["DATABASE_DIRECT_URL"], autocommit=True) as conn:
        conn.execute("CREATE TABLE profiles (n int)")
        conn.execute("INSERT INTO profiles VALUES (5)")
    pcc.ok("reset", "client")  # returns once the replica replayed everything up to here
    on_replica = (f"postgresql://{auth['PGUSER']}:{auth['PGPASSWORD']}@127.0.0.1:"
                  f"{auth['PGPORT_READONLY']}/{user['PGDATABASE']}")
    assert one(on_replica, "SELECT n FROM profiles") == 5
    assert one(on_replica, "SELECT pg_is_in_recovery()") is True
    with psycopg.connect(on_replica, autocommit=True) as conn, \
            pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO profiles VALUES (6)")
    stranger = (f"postgresql://{task['PGUSER']}:{task['PGPASSWORD']}@127.0.0.1:"
                f"{task['PGPORT_READONLY']}/{user['PGDATABASE']}")
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        one(stranger, "SELECT 1")


def test_pause_hides_new_writes_until_resume(pcc: CopiedStack) -> None:
    user = pcc.env("user")
    with psycopg.connect(user["DATABASE_DIRECT_URL"], autocommit=True) as conn:
        conn.execute("CREATE TABLE seen (n int)")
    pcc.ok("reset", "client")  # a replayed point
    pcc.ok("replica", "pause", "alloydb")
    with psycopg.connect(user["DATABASE_DIRECT_URL"], autocommit=True) as conn:
        conn.execute("INSERT INTO seen VALUES (1)")
    assert one(user["DATABASE_READONLY_URL"], "SELECT count(*) FROM seen") == 0
    assert pcc.status()["replicas"][0]["state"] == "paused"
    pcc.ok("replica", "resume", "alloydb")
    pcc.ok("reset", "client")
    assert one(user["DATABASE_READONLY_URL"], "SELECT count(*) FROM seen") == 1


def test_reset_of_one_service_reaches_the_replica_and_leaves_the_others(
        pcc: CopiedStack) -> None:
    task, metric = pcc.env("task_builder"), pcc.env("metric_builder")
    for env in (task, metric):
        with psycopg.connect(env["DATABASE_DIRECT_URL"], autocommit=True) as conn:
            conn.execute("CREATE TABLE scratch (n int)")
    result = pcc.ok("reset", "task_builder")
    assert "replayed by alloydb's replicas" in result.stdout + result.stderr
    gone = "SELECT to_regclass('scratch') IS NULL"
    assert one(task["DATABASE_READONLY_URL"], gone) is True
    assert one(metric["DATABASE_READONLY_URL"], gone) is False



def test_clones_in_memory_replay_on_the_replica_and_survive_its_restart(
        tmp_path: Path) -> None:
    """A clone made in the primary's in-memory tablespace replays on the replica (same tmpfs
    path there). A replica restart empties its tmpfs: the next write to a clone would stop a
    standby for good (invalid pages), so the replica clones its primary again on that start."""
    with copied(PCC, tmp_path, prefix="t-hc-rep", edit=_with_replica("postgres:18")) as pcc:
        pcc.ok("up")
        made = json.loads(pcc.ok("db", "clone", "client", "--json", "--show-secrets").stdout)
        readonly = made["env"]["DATABASE_READONLY_URL"]
        assert made["database"] in readonly
        with psycopg.connect(made["url"], autocommit=True) as conn:
            conn.execute("CREATE TABLE t (n int)")
            conn.execute("INSERT INTO t VALUES (1)")
            space = conn.execute("SELECT t.spcname FROM pg_database d JOIN pg_tablespace t "
                                 "ON t.oid = d.dattablespace WHERE d.datname = %s",
                                 (made["database"],)).fetchone()
        assert space == ("devenv_clones",)
        eventually(readonly, "SELECT sum(n) FROM t", 1, **REPLAY)

        replica = pcc.containers()["alloydb-replica-1"]
        subprocess.run(["docker", "restart", replica], check=True, capture_output=True)
        with psycopg.connect(made["url"], autocommit=True) as conn:
            conn.execute("INSERT INTO t VALUES (2)")  # what stopped the standby for good
        later = json.loads(pcc.ok("db", "clone", "client", "--json", "--show-secrets").stdout)
        eventually(readonly, "SELECT sum(n) FROM t", 3, **REPLAY)
        eventually(later["env"]["DATABASE_READONLY_URL"], "SELECT pg_is_in_recovery()", True,
                   **REPLAY)
        logs = subprocess.run(["docker", "logs", replica], capture_output=True, text=True).stdout
        assert "a restart emptied /var/lib/devenv-clones" in logs, logs[-2000:]
        assert [(r["name"], r["state"]) for r in pcc.status()["replicas"]] == [
            ("alloydb-replica-1", "streaming")]

        # the primary's restart: `up` drops its lost clones and makes the tablespace again,
        # which the replica (its own tmpfs intact) replays as drops and a new tablespace
        subprocess.run(["docker", "restart", pcc.containers()["alloydb"]], check=True,
                       capture_output=True)
        up = pcc.ok("up")
        assert "alloydb: dropped 2 clone(s) a restart emptied" in up.stdout, up.stdout
        third = json.loads(pcc.ok("db", "clone", "client", "--json", "--show-secrets").stdout)
        with psycopg.connect(third["url"], autocommit=True) as conn:
            conn.execute("CREATE TABLE t (n int)")
            conn.execute("INSERT INTO t VALUES (5)")
        eventually(third["env"]["DATABASE_READONLY_URL"], "SELECT sum(n) FROM t", 5, **REPLAY)
        assert [(r["name"], r["state"]) for r in pcc.status()["replicas"]] == [
            ("alloydb-replica-1", "streaming")]
