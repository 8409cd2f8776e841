"""Broken read replicas on the real engine: `doctor` names what broke, `up` repairs it.

A copy of pcc with `replicas: 1` on PostgreSQL 18 and 17. Each test breaks the replica the way
it happens on a developer's machine (the primary's volume removed and made again, its slot
dropped under it, that and the WAL recycled, a promotion), checks what
`doctor` says, runs `devenv up` and checks what a service then reads on its read-only URL, and
that the primary's data and volume came through untouched. Each test leaves the stack healthy.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.integration.replica_reads import one
from tests.integration.stacks import PCC, CopiedStack, copied

pytestmark = pytest.mark.xdist_group("test_replica_repair")

REPLICA = "alloydb-replica-1"
SLOT = "devenv_replica_1"


@pytest.fixture(scope="module", params=["postgres:18", "postgres:17"])
def pcc(request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    def edit(manifest: dict[str, Any]) -> None:
        manifest["servers"]["alloydb"].update(replicas=1, image=request.param)

    with copied(PCC, tmp_path_factory.mktemp("pcc"), prefix="t-hb-repair", edit=edit) as stack:
        stack.ok("up")
        yield stack



def admin(stack: CopiedStack, *statements: str) -> None:
    """SQL as the superuser on the primary (what a developer types in `devenv psql`)."""
    for statement in statements:
        done = subprocess.run(["docker", "exec", stack.containers()["alloydb"], "psql", "-U",
                               "postgres", "-v", "ON_ERROR_STOP=1", "-Atc", statement],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr


def replica_check(stack: CopiedStack, *, present: bool = True) -> dict[str, str]:
    """doctor's line on the replica ({} when it could not check, unless `present`)."""
    result = stack.devenv("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    check = checks.get(f"replica {REPLICA}")
    assert check is not None or not present, result.explain()
    return dict(check or {})


def primary_volume(stack: CopiedStack) -> str:
    return next(v for v in stack.volumes() if v.endswith("_alloydb-data"))


# An active slot cannot be dropped: end its walsender and drop it before the replica's
# walreceiver connects again (every 5 s). The replica keeps running: a restart would clone it
# again anyway (its in-memory clone tablespace emptied), making a new slot.
DROP_SLOT = f"""DO $$ BEGIN
  FOR i IN 1..200 LOOP
    PERFORM pg_terminate_backend(active_pid) FROM pg_replication_slots
      WHERE slot_name = '{SLOT}' AND active_pid IS NOT NULL;
    BEGIN
      PERFORM pg_drop_replication_slot('{SLOT}');
      RETURN;
    EXCEPTION WHEN object_in_use THEN PERFORM pg_sleep(0.02);
    END;
  END LOOP;
  RAISE 'slot {SLOT} stayed active';
END $$"""


def drop_slot_under_it(stack: CopiedStack, *after: str) -> None:
    """The replica's slot dropped on the primary while the replica runs."""
    admin(stack, DROP_SLOT, *after)


def streams(stack: CopiedStack) -> None:
    """The replica streams, and reads what the primary committed just now."""
    assert [(r["name"], r["state"]) for r in stack.status()["replicas"]] == [
        (REPLICA, "streaming")]
    user = stack.env("user")
    stamp = time.time_ns()
    with psycopg.connect(user["DATABASE_DIRECT_URL"], autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS stamps (n bigint)")
        conn.execute("INSERT INTO stamps VALUES (%s)", (stamp,))
    stack.ok("reset", "client")  # returns once the replica replayed the primary's WAL
    assert one(user["DATABASE_READONLY_URL"], f"SELECT count(*) FROM stamps WHERE n = {stamp}") \
        == 1


def test_a_primary_recreated_under_its_replica_is_named_and_the_replica_recloned(
        pcc: CopiedStack) -> None:
    user = pcc.env("user")
    with psycopg.connect(user["DATABASE_DIRECT_URL"], autocommit=True) as conn:
        conn.execute("CREATE TABLE old_cluster (n int)")
    pcc.ok("reset", "client")
    assert one(user["DATABASE_READONLY_URL"], "SELECT to_regclass('old_cluster') IS NULL") is False
    old_volume = primary_volume(pcc)
    # the primary's volume removed and made again by hand; the replica's container and volume
    # are left as they were
    assert pcc.compose("rm", "-sf", "alloydb").code == 0
    subprocess.run(["docker", "volume", "rm", old_volume], check=True, capture_output=True)
    assert pcc.compose("up", "-d", "--no-deps", "alloydb").code == 0
    deadline = time.monotonic() + 60
    while (check := replica_check(pcc, present=False)).get("status") != "fail" and \
            time.monotonic() < deadline:
        time.sleep(0.5)  # the fresh primary runs initdb first
    assert check.get("status") == "fail", check
    assert "its primary 'alloydb' was recreated under it" in check["detail"], check
    assert "`devenv up` re-clones it" in check["fix"]

    result = pcc.ok("up")
    assert f"re-cloned replica '{REPLICA}' (its primary was recreated)" in result.stdout
    # the replica now serves the fresh primary: the old cluster's table is gone there too
    user = pcc.env("user")
    assert one(user["DATABASE_READONLY_URL"], "SELECT to_regclass('old_cluster') IS NULL") is True
    streams(pcc)
    assert replica_check(pcc)["status"] == "ok"


def volume_created(stack: CopiedStack, suffix: str) -> tuple[str, str]:
    name = next(v for v in stack.volumes() if v.endswith(suffix))
    done = subprocess.run(["docker", "volume", "inspect", "--format", "{{.CreatedAt}}", name],
                          capture_output=True, text=True, check=True)
    return name, done.stdout.strip()


def test_a_dropped_slot_is_recreated_and_the_replica_keeps_its_data(pcc: CopiedStack) -> None:
    primary = pcc.containers()["alloydb"]
    replica_volume = volume_created(pcc, f"_{REPLICA}-data")
    drop_slot_under_it(pcc)
    check = replica_check(pcc)
    assert check["status"] == "fail", check
    assert f"its replication slot {SLOT} does not exist on 'alloydb'" in check["detail"]
    assert "re-creates the slot" in check["fix"] and "no re-clone" in check["fix"]
    assert [(r["name"], r["state"]) for r in pcc.status()["replicas"]] == [
        (REPLICA, "slot missing")]

    result = pcc.ok("up")
    assert f"created replication slot {SLOT} on alloydb" in result.stdout
    assert "re-cloned" not in result.stdout
    # no re-clone: the replica's volume is the one it had; the primary was left alone
    assert volume_created(pcc, f"_{REPLICA}-data") == replica_volume
    assert pcc.containers()["alloydb"] == primary
    streams(pcc)


def test_a_slot_dropped_until_its_wal_was_recycled_recloned_primary_data_kept(
        pcc: CopiedStack) -> None:
    user = pcc.env("user")
    with psycopg.connect(user["DATABASE_DIRECT_URL"], autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    primary, volume = pcc.containers()["alloydb"], volume_created(pcc, "_alloydb-data")
    replica_volume = volume_created(pcc, f"_{REPLICA}-data")
    # two segment switches and checkpoints: the WAL the replica stopped at is recycled
    drop_slot_under_it(pcc, *["SELECT pg_switch_wal()", "CHECKPOINT"] * 2)
    check = replica_check(pcc)
    assert check["status"] == "fail", check
    assert "the WAL it needs was removed from 'alloydb'" in check["detail"], check

    result = pcc.ok("up")
    assert f"re-cloned replica '{REPLICA}' (the WAL it needed was gone)" in result.stdout
    # the primary was never touched: same container, same volume, its data there
    assert pcc.containers()["alloydb"] == primary
    assert volume_created(pcc, "_alloydb-data") == volume
    assert volume_created(pcc, f"_{REPLICA}-data") != replica_volume  # a new clone, new volume
    assert one(user["DATABASE_DIRECT_URL"], "SELECT n FROM kept") == 42
    assert one(user["DATABASE_READONLY_URL"], "SELECT n FROM kept") == 42
    streams(pcc)


def test_a_replica_restarted_after_its_slot_was_dropped_clones_again_with_a_new_slot(
        pcc: CopiedStack) -> None:
    """A restart empties the replica's in-memory clone tablespace, so it clones its primary
    again; its slot dropped meanwhile, that copy makes the slot (pg_basebackup -C)."""
    assert pcc.compose("stop", REPLICA).code == 0
    admin(pcc, f"SELECT pg_drop_replication_slot('{SLOT}')")
    assert pcc.compose("start", REPLICA).code == 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        states = [(r["name"], r["state"]) for r in pcc.status()["replicas"]]
        if states == [(REPLICA, "streaming")]:
            break
        time.sleep(0.5)
    assert states == [(REPLICA, "streaming")], states
    logs = subprocess.run(["docker", "logs", pcc.containers()[REPLICA]], capture_output=True,
                          text=True, check=True)
    assert "cloning alloydb again" in logs.stdout + logs.stderr
    assert "re-cloned" not in pcc.ok("up").stdout  # nothing left for up to repair
    streams(pcc)


def test_a_promoted_replica_is_recloned(pcc: CopiedStack) -> None:
    replica = pcc.containers()[REPLICA]
    subprocess.run(["docker", "exec", replica, "psql", "-U", "postgres", "-Atc",
                    "SELECT pg_promote()"], check=True, capture_output=True)
    check = replica_check(pcc)
    assert check["status"] == "fail", check
    assert "it was promoted" in check["detail"]
    # status names it the way doctor does (not pg_stat_replication's bare "not streaming")
    assert [(r["name"], r["state"]) for r in pcc.status()["replicas"]] == [(REPLICA, "promoted")]

    result = pcc.ok("up")
    assert f"re-cloned replica '{REPLICA}' (it had been promoted)" in result.stdout
    assert pcc.containers()[REPLICA] != replica
    assert one(pcc.env("user")["DATABASE_READONLY_URL"], "SELECT pg_is_in_recovery()") is True
    streams(pcc)


def test_a_healthy_replica_keeps_up_warm(pcc: CopiedStack) -> None:
    pcc.ok("up")
    result = pcc.ok("up")
    assert "is up to date" in result.stdout
