"""Issue 27's low items, performed on the real engine: each test is the attack, and fails on the
devenv before the fix (items 12, 13, 16, 17, 18, 19; item 14 is refused when the manifest loads:
tests/model/test_image_references.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.stacks import CopiedStack

# This engine's Debian mirror is a frozen snapshot (a user's machine needs no option).
APT = {"DEVENV_APT_UPDATE_OPTIONS": "-o Acquire::Check-Valid-Until=false",
       "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}


def new_stack(root: Path, prefix: str, body: str) -> CopiedStack:
    project = f"{prefix}-{uuid.uuid4().hex[:10]}"
    (root / "devenv.yaml").write_text(f"project: {project}\n{body}")
    return CopiedStack(root, project)


def as_service(stack: CopiedStack, service: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(stack.env(service)["DATABASE_DIRECT_URL"], autocommit=True,
                           connect_timeout=10)


def superuser(stack: CopiedStack, service: str) -> bool:
    with as_service(stack, service) as conn:
        row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                           ).fetchone()
    assert row is not None
    return bool(row[0])


def wait_for(what: str, check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds:.0f} s for {what}")
        time.sleep(0.5)


# -- item 18: pg_partman's and pg_cron's background workers ----------------------------------
# A function that makes its caller's role superuser when the caller is one, behind an operator
# the service puts ahead of pg_catalog's with its database's search_path. A background worker
# logged in as the superuser in the service's database resolves `=` to it.
def _plant(role: str, left: str, right: str) -> str:
    return f"""
    CREATE FUNCTION public.pwn_eq({left}, {right}) RETURNS boolean LANGUAGE plpgsql AS $f$
    BEGIN
      IF pg_catalog.current_setting('is_superuser') OPERATOR(pg_catalog.=) 'on' THEN
        EXECUTE 'ALTER ROLE {role} SUPERUSER';
      END IF;
      RETURN $1::text OPERATOR(pg_catalog.=) $2::text;
    END $f$;
    CREATE OPERATOR public.= (LEFTARG = {left}, RIGHTARG = {right}, FUNCTION = public.pwn_eq);
    DO $d$ BEGIN
      EXECUTE pg_catalog.format('ALTER DATABASE %I SET search_path = public, pg_catalog',
                                pg_catalog.current_database());
    END $d$;
    """


def test_partman_and_cron_workers_run_nothing_of_the_service_as_superuser(
        tmp_path: Path) -> None:
    """PostgreSQL 17. pg_partman's worker logged in as `postgres` in `parts`' database (its
    first statement compares names: `extname = 'pg_partman'`); pg_cron's launcher is the
    superuser in `crons`' database (`status in ('starting','running')` at its start). Both
    must run as the service or under the catalog's own operators, and both must still work
    for the service: partitions made by the worker, a cron job run as the service."""
    stack = new_stack(tmp_path, "t-bgw", (
        "servers:\n"
        "  pg: {kind: postgres, image: 'postgres:17', port: auto,\n"
        "       settings: {pg_partman_bgw.interval: 1}}\n"
        "services:\n"
        "  parts: {postgres: pg, extensions: [pg_partman]}\n"
        "  crons: {postgres: pg, extensions: [pg_cron]}\n"))
    try:
        stack.ok("up", env=APT)
        with as_service(stack, "parts") as conn:
            conn.execute("CREATE TABLE events (at timestamptz NOT NULL) PARTITION BY RANGE (at)")
            conn.execute("SELECT partman.create_parent('public.events', 'at', '1 day')")
            conn.execute(_plant("parts", "name", "name"))  # type: ignore[arg-type]
        with as_service(stack, "crons") as conn:
            conn.execute(_plant("crons", "text", "text"))  # type: ignore[arg-type]
        # A volume from before devenv granted USAGE on cron (or a REVOKE): `up` grants it again.
        password = stack.secrets()["pg/postgres"]
        port = stack.env("parts")["PGPORT"]
        with psycopg.connect(f"postgresql://postgres:{password}@127.0.0.1:{port}/crons",
                             autocommit=True) as admin:
            admin.execute("SET search_path = pg_catalog")
            admin.execute("REVOKE USAGE ON SCHEMA cron FROM crons")
        stack.ok("down")
        stack.ok("up", env=APT)  # both workers start anew, in the planted databases
        with as_service(stack, "parts") as conn:
            before = conn.execute("SELECT count(*) FROM pg_inherits "
                                  "WHERE inhparent = 'events'::regclass").fetchone()
            conn.execute("UPDATE partman.part_config SET premake = 12, "
                         "infinite_time_partitions = true WHERE parent_table = 'public.events'")

            def maintained() -> bool:
                row = conn.execute("SELECT count(*) FROM pg_inherits "
                                   "WHERE inhparent = 'events'::regclass").fetchone()
                return row is not None and before is not None and row[0] > before[0]

            wait_for("pg_partman's worker to make the new partitions", maintained)
        with as_service(stack, "crons") as conn:
            conn.execute("CREATE TABLE runs (who text DEFAULT current_user)")
            conn.execute("SELECT cron.schedule('who', '1 seconds', "
                         "'INSERT INTO runs DEFAULT VALUES')")
            wait_for("the cron job", lambda: bool(conn.execute(
                "SELECT count(*) FROM runs").fetchone() != (0,)))
            assert conn.execute("SELECT DISTINCT who FROM runs").fetchall() == [("crons",)]
            conn.execute("SELECT cron.unschedule('who')")
        logs = stack.ok("logs", "pg", "--tail", "400").stdout
        assert "called by role parts on database parts" in logs, logs[-3000:]
        assert "called by role postgres" not in logs
        assert (superuser(stack, "parts"), superuser(stack, "crons")) == (False, False), \
            "a background worker ran the service's operator as the superuser"
    finally:
        stack.teardown()


# -- item 12: what one Redis service learnt of the others, or kept out of reset's reach ----------
def test_a_redis_service_cannot_watch_list_or_hide_from_the_others(tmp_path: Path) -> None:
    import redis as redis_lib

    stack = new_stack(tmp_path, "t-rwatch", (
        "servers:\n"
        "  cache: {kind: redis, port: auto}\n"
        "  kv: {kind: valkey, port: auto}\n"
        "services:\n"
        "  a: {redis: cache}\n  b: {redis: cache}\n  c: {redis: kv}\n  d: {redis: kv}\n"))
    refused = redis_lib.exceptions.NoPermissionError
    try:
        stack.ok("up")
        for watcher, victim in (("a", "b"), ("c", "d")):
            client = redis_lib.Redis.from_url(stack.env(watcher)["REDIS_URL"])
            other = redis_lib.Redis.from_url(stack.env(victim)["REDIS_URL"])
            # a live feed of the other's key names (RESP2: invalidations to a redirect client)
            with pytest.raises(refused):
                client.execute_command("CLIENT", "TRACKING", "on", "BCAST", "PREFIX",
                                       f"{victim}:")
            # keys in another logical database, which `reset` never looks at
            with pytest.raises(refused):
                client.execute_command("SELECT", "1")
            client.set(f"{watcher}:kept", "1")
            with pytest.raises(refused):
                client.execute_command("MOVE", f"{watcher}:kept", "1")
            assert client.execute_command("SELECT", "0") in (True, b"OK", "OK")
            # the server's channel names and its whole memory picture
            other.pubsub().subscribe(f"{victim}:events")
            for command in (("PUBSUB", "CHANNELS"), ("PUBSUB", "NUMSUB", f"{victim}:events"),
                            ("MEMORY", "STATS"), ("MEMORY", "DOCTOR")):
                with pytest.raises(refused):
                    client.execute_command(*command)
            assert int(client.execute_command("MEMORY", "USAGE", f"{watcher}:kept")) > 0
            client.close()
            other.close()
    finally:
        stack.teardown()


# -- item 13: Redis 8's search module -------------------------------------------------------------
def test_search_module_commands_are_the_admins_unless_the_server_opts_in(
        tmp_path: Path) -> None:
    """Whatever the image: with the module loaded (the official redis:8 on amd64/arm64), a
    service may not index another's prefix, alias or touch dictionaries; without it (a build
    without modules), the server still starts, its ACL naming no module category."""
    import redis as redis_lib

    stack = new_stack(tmp_path, "t-search", (
        "servers:\n"
        "  cache: {kind: redis, port: auto}\n"
        "  own: {kind: redis, port: auto, search: true}\n"
        "services:\n  a: {redis: cache}\n  b: {redis: cache}\n  c: {redis: own}\n"))
    try:
        stack.ok("up")
        url = stack.env("a")["REDIS_URL"]
        admin = redis_lib.Redis(host="127.0.0.1", port=int(url.rsplit(":", 1)[1].split("/")[0]),
                                username="default", password=stack.secrets()["cache/default"],
                                decode_responses=True)
        modules = {str(m["name"]) for m in admin.module_list()}
        rules = " ".join(str(line) for line in admin.acl_list())
        client = redis_lib.Redis.from_url(url)
        attacks = [("FT.CREATE", "stolen", "ON", "HASH", "PREFIX", "1", "b:", "SCHEMA", "secret",
                    "TEXT"), ("FT.ALIASUPDATE", "b-index", "stolen"), ("FT.ALIASDEL", "b-index"),
                   ("FT.DICTADD", "shared", "word"), ("FT.DICTDEL", "shared", "word")]
        if "search" in modules:
            for attack in attacks:
                with pytest.raises(redis_lib.exceptions.NoPermissionError):
                    client.execute_command(*attack)
            own = redis_lib.Redis.from_url(stack.env("c")["REDIS_URL"])
            assert own.execute_command("FT.CREATE", "c-idx", "ON", "HASH", "PREFIX", "1", "c:",
                                       "SCHEMA", "f", "TEXT") in (b"OK", "OK", True)
            own.execute_command("FT.DROPINDEX", "c-idx")
        else:
            assert "search" not in rules, rules
            with pytest.raises(redis_lib.exceptions.ResponseError, match="unknown command"):
                client.execute_command(*attacks[0])
        for conn in (admin, client):
            conn.close()
    finally:
        stack.teardown()


# -- item 19: storage: tmpfs is capped, and a full one says so -------------------------------------
def test_a_tmpfs_server_is_capped_and_a_full_one_names_the_key(tmp_path: Path) -> None:
    """A migration filling the server's memory stops at `tmpfs_size` (Docker's default was half
    the host's memory), and the failure says where the room comes from."""
    from devenv.migrations.execute import DISK_FULL_HINT

    stack = new_stack(tmp_path, "t-tmpfs", (
        "servers:\n"
        "  mem: {kind: postgres, port: auto, storage: tmpfs, tmpfs_size: 160m}\n"
        "services:\n  app: {postgres: mem}\n"))
    folder = tmp_path / "migrations" / "app"
    folder.mkdir(parents=True)
    (folder / "V1__small.sql").write_text("CREATE TABLE small (id int);\n")
    try:
        stack.ok("up")
        container = stack.containers()["mem"]
        df = subprocess.run(["docker", "exec", container, "df", "-k", "/var/lib/postgresql"],
                            capture_output=True, text=True, check=True).stdout
        size_kib = int(df.splitlines()[1].split()[1])
        assert 150 * 1024 <= size_kib <= 170 * 1024, df
        # ~300 MB of rows, unlogged: the table's own file grows until the tmpfs is full
        (folder / "V2__fill.sql").write_text(
            "CREATE UNLOGGED TABLE fill AS SELECT g AS a, g AS b, g AS c, g AS d "
            "FROM generate_series(1, 5000000) g;\n")
        result = stack.devenv("migrate", "app")
        assert result.code == 1, result.explain()
        text = " ".join((result.stdout + result.stderr).split())
        assert "V2__fill.sql" in text and "No space left on device" in text, text
        assert DISK_FULL_HINT in text, text
        # rolled back: the room is back and the server serves
        with as_service(stack, "app") as conn:
            assert conn.execute("SELECT to_regclass('fill') IS NULL").fetchone() == (True,)
            conn.execute("INSERT INTO small VALUES (1)")
    finally:
        stack.teardown()
