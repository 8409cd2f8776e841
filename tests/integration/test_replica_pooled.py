"""A pooled service with a replica end to end: reads through PgBouncer, kept replica ports,
and `up --resync-passwords` that leaves the replica streaming.

A copy of the capsule example (PgBouncer in front of auth's server) with `replicas: 1` on
auth-db, brought up for auth only. The resync test moves .devenv/ away and so runs last.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from tests.integration.replica_reads import eventually
from tests.integration.stacks import CAPSULE, CopiedStack, copied

pytestmark = pytest.mark.xdist_group("test_replica_pooled")


def _replica_on_auth(manifest: dict[str, Any]) -> None:
    manifest["servers"]["auth-db"]["replicas"] = 1


@pytest.fixture(scope="module")
def capsule(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    with copied(CAPSULE, tmp_path_factory.mktemp("capsule"), prefix="t-ha-pool",
                edit=_replica_on_auth) as stack:
        stack.ok("up", "auth")
        yield stack



# not connected again yet, or not replayed the table: both mean "not yet"
REPLAY: dict[str, Any] = {"timeout": 15.0, "tolerate": (psycopg.Error,)}


def admin_url(stack: CopiedStack, database: str = "postgres") -> str:
    password = stack.secrets()["auth-db/postgres"]
    return f"postgresql://postgres:{password}@127.0.0.1:{stack.ports['auth-db']}/{database}"


def test_the_pooled_readonly_url_reads_what_the_primary_committed(capsule: CopiedStack) -> None:
    auth = capsule.env("auth")
    url = auth["DATABASE_READONLY_URL"]
    assert url.endswith(f"@127.0.0.1:{capsule.ports['pgbouncer']}/auth_readonly"), \
        "a pooled service reads through PgBouncer's read-only entry"
    assert f":{auth['PGPORT_READONLY']}/auth" in auth["DATABASE_READONLY_DIRECT_URL"]
    with psycopg.connect(auth["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("CREATE TABLE read_probe (token text)")
        conn.execute("INSERT INTO read_probe VALUES ('abc')")
    eventually(url, "SELECT max(token) FROM read_probe", "abc", **REPLAY)
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_is_in_recovery(), current_user, current_database()")
        assert row.fetchone() == (True, auth["PGUSER"], "auth")


def test_the_pooled_readonly_url_refuses_writes(capsule: CopiedStack) -> None:
    url = capsule.env("auth")["DATABASE_READONLY_URL"]
    with psycopg.connect(url, autocommit=True) as conn, \
            pytest.raises(psycopg.errors.ReadOnlySqlTransaction,
                          match="cannot execute INSERT in a read-only transaction"):
        conn.execute("INSERT INTO read_probe VALUES ('nope')")


def test_reset_ends_pooled_readonly_sessions_and_the_next_one_reads_the_reset_data(
        capsule: CopiedStack) -> None:
    url = capsule.env("auth")["DATABASE_READONLY_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT 1")
        capsule.ok("reset", "auth")
        with pytest.raises(psycopg.OperationalError):  # KILLed, like the read-write entry's
            conn.execute("SELECT 1")
    with psycopg.connect(url, autocommit=True) as conn:  # no retry, no sleep
        row = conn.execute("SELECT to_regclass('read_probe') IS NULL, pg_is_in_recovery()")
        assert row.fetchone() == (True, True)


def test_a_kept_replica_port_held_by_another_process_stops_up(tmp_path: Path) -> None:
    with copied(CAPSULE, tmp_path / "capsule", prefix="t-ha-port",
                edit=_replica_on_auth) as stack, \
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        state = stack.root / ".devenv"
        state.mkdir(mode=0o700)
        (state / "state.json").write_text(json.dumps({"ports": {"auth-db-replica-1": port}}))
        os.chmod(state / "state.json", 0o600)
        result = stack.devenv("up", "auth")
        assert result.code == 1, result.explain()
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith(f"error: port {port} for replica 'auth-db-replica-1' is "
                                        "already in use by another process"), result.stderr
        assert '"auth-db-replica-1" from the ports of .devenv/state.json' in result.stderr
        assert stack.containers() == {}, "nothing may start when a port is taken"


def test_resync_passwords_keeps_the_replica_streaming(capsule: CopiedStack) -> None:
    old = capsule.secrets()["auth-db/devenv_replicator"]
    shutil.move(capsule.root / ".devenv", capsule.root / "devenv-lost")
    capsule.ok("up", "--resync-passwords", "auth")
    new = capsule.secrets()["auth-db/devenv_replicator"]
    assert new != old
    shown = capsule.compose("exec", "-T", "auth-db-replica-1", "psql", "-U", "postgres", "-Atc",
                            "SHOW primary_conninfo")
    assert shown.code == 0, shown.explain()
    assert new in shown.stdout and old not in shown.stdout
    # Make the replica log in again now, with whatever its primary_conninfo holds.
    with psycopg.connect(admin_url(capsule), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_replication")
    auth = capsule.env("auth")
    with psycopg.connect(auth["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS read_probe (token text)")
        conn.execute("INSERT INTO read_probe VALUES ('after resync')")
    eventually(auth["DATABASE_READONLY_URL"],
               "SELECT count(*) FROM read_probe WHERE token = 'after resync'", 1, **REPLAY)
    eventually(admin_url(capsule), "SELECT string_agg(state, ',') FROM pg_stat_replication",
               "streaming", **REPLAY)
    assert [(r["name"], r["state"]) for r in capsule.status()["replicas"]] == [
        ("auth-db-replica-1", "streaming")]


def test_reset_before_up_after_replicas_were_added_says_to_run_up_and_resets_nothing(
        tmp_path: Path) -> None:
    """`replicas: 1` added to a running stack, then `reset` before any `up` (PgBouncer still
    runs the config without the read-only entry, there is no replica): the reset refuses,
    having touched nothing, and after `up` it works."""
    with copied(CAPSULE, tmp_path, prefix="t-ha-late") as stack:
        stack.ok("up", "auth")
        url = stack.env("auth")["DATABASE_URL"]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (n int)")
        manifest = yaml.safe_load(stack.manifest.read_text())
        _replica_on_auth(manifest)
        stack.manifest.write_text(yaml.safe_dump(manifest, sort_keys=False))
        result = stack.devenv("reset", "auth")
        assert result.code != 0, result.explain()
        assert "the manifest changed since the last `devenv up`" in result.stderr, \
            result.explain()
        with psycopg.connect(url, autocommit=True) as conn:  # not paused, not reset
            assert conn.execute("SELECT to_regclass('kept') IS NOT NULL").fetchone() == (True,)
        stack.ok("up", "auth")
        stack.ok("reset", "auth")
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT to_regclass('kept') IS NULL").fetchone() == (True,)
