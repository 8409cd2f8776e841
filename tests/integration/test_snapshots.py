"""`devenv snapshot`, `db dump`, `db diff` and `up --watch` end to end (issue 28 items 2, 3, 7).

One small project (PostgreSQL 17 behind PgBouncer, Redis, one service with migrations and
seeds, and a second service that must stay untouched) lives for the whole module; the tests run
in file order on one worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from tests.integration.stacks import CopiedStack, free_ports

pytestmark = pytest.mark.xdist_group("test_snapshots")

MANIFEST = """\
project: {project}
servers:
  pg: {{kind: postgres, image: "postgres:17", port: {pg}}}
  cache: {{kind: redis, port: {cache}}}
  pool: {{kind: pgbouncer, port: {pool}, target: pg}}
services:
  app:
    postgres: pg
    pgbouncer: true
    redis: cache
    extensions: [citext]
  other:
    postgres: pg
    redis: cache
  worker:
    postgres: false
    redis: cache
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    root = tmp_path_factory.mktemp("snapshots")
    project = f"snap-{os.urandom(5).hex()}"
    pg, cache, pool = free_ports(3)
    (root / "devenv.yaml").write_text(MANIFEST.format(project=project, pg=pg, cache=cache,
                                                       pool=pool))
    for service in ("app", "other"):
        (root / "migrations" / service).mkdir(parents=True)
        (root / "seeds" / service).mkdir(parents=True)
    (root / "migrations" / "app" / "V1__items.sql").write_text(
        "CREATE TABLE items (id serial PRIMARY KEY, name citext NOT NULL);\n")
    (root / "seeds" / "app" / "01_items.sql").write_text(
        "INSERT INTO items (name) VALUES ('seeded');\n")
    (root / "migrations" / "other" / "V1__notes.sql").write_text(
        "CREATE TABLE notes (id int);\n")
    copied = CopiedStack(root, project, {"pg": pg, "cache": cache, "pool": pool})
    try:
        result = copied.devenv("up")
        assert result.code == 0, result.explain()
        yield copied
    finally:
        copied.teardown()


def run(stack: CopiedStack, *args: str, code: int = 0) -> Any:
    result = stack.devenv(*args)
    assert result.code == code, f"devenv {' '.join(args)}: {result.explain()}"
    return result


def query(stack: CopiedStack, service: str, sql: str, *, key: str = "DATABASE_URL") -> Any:
    with psycopg.connect(stack.env(service)[key], autocommit=True,
                         prepare_threshold=None) as conn:
        cursor = conn.execute(sql)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else None


def names(stack: CopiedStack) -> list[str]:
    return sorted(r[0] for r in query(stack, "app", "SELECT name FROM items"))


def cache(stack: CopiedStack, service: str) -> redis.Redis:
    return redis.Redis.from_url(stack.env(service)["REDIS_URL"], decode_responses=True)


# -- snapshots ---------------------------------------------------------------------------------


def test_snapshot_save_restore_keeps_real_data_and_keys_and_touches_no_other(
        stack: CopiedStack) -> None:
    query(stack, "app", "INSERT INTO items (name) VALUES ('real'), ('data')")
    cache(stack, "app").set("app:session", "kept")
    cache(stack, "app").set("app:ttl", "short", ex=3600)
    left_open = psycopg.connect(stack.env("app")["DATABASE_DIRECT_URL"], autocommit=True,
                                application_name="psql")
    saved = run(stack, "snapshot", "save", "app", "before-import")
    assert "app: saved snapshot before-import: database app_snap_" in saved.stdout
    assert "3 Redis key(s)" not in saved.stdout and "2 Redis key(s)" in saved.stdout
    assert "  closed 1 session(s) on app: app (psql)" in saved.stdout, saved.stdout
    assert left_open.closed or left_open.broken or _ended(left_open)

    query(stack, "app", "DELETE FROM items")
    query(stack, "app", "CREATE TABLE stray (id int)")
    cache(stack, "app").delete("app:session")
    cache(stack, "app").set("app:new", "gone after restore")
    query(stack, "other", "INSERT INTO notes VALUES (42)")
    cache(stack, "other").set("other:k", "v")

    restored = run(stack, "snapshot", "restore", "app", "before-import")
    assert "app: restored snapshot before-import (taken " in restored.stdout, restored.stdout
    assert names(stack) == ["data", "real", "seeded"]  # through PgBouncer, resumed
    assert query(stack, "app", "SELECT to_regclass('stray')", key="DATABASE_DIRECT_URL") == [
        (None,)]
    client = cache(stack, "app")
    assert client.get("app:session") == "kept" and client.get("app:new") is None
    assert 0 < client.ttl("app:ttl") <= 3600
    assert query(stack, "other", "SELECT id FROM notes") == [(42,)]
    assert cache(stack, "other").get("other:k") == "v"
    # the service's own role cannot see the snapshot's keys (outside its prefix)
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.keys("#devenv-snapshot:*")


def _ended(conn: psycopg.Connection[Any]) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


def test_a_redis_only_service_has_snapshots_of_its_keys(stack: CopiedStack) -> None:
    client = cache(stack, "worker")
    client.set("worker:job", "1")
    binary = redis.Redis.from_url(stack.env("worker")["REDIS_URL"])  # a name not UTF-8
    binary.set(b"worker:\xff\x00", b"\x01")
    saved = run(stack, "snapshot", "save", "worker", "jobs")
    assert saved.stdout == "worker: saved snapshot jobs: 2 Redis key(s)\n"
    client.set("worker:job", "2")
    client.set("worker:other", "x")
    binary.delete(b"worker:\xff\x00")
    run(stack, "snapshot", "restore", "worker", "jobs")
    assert client.get("worker:job") == "1" and client.get("worker:other") is None
    assert binary.get(b"worker:\xff\x00") == b"\x01"
    run(stack, "snapshot", "rm", "worker", "jobs")


def test_snapshot_list_status_and_never_a_clone(stack: CopiedStack) -> None:
    listed = json.loads(run(stack, "snapshot", "list", "--json").stdout)
    assert [(s["service"], s["name"], s["redis_keys"]) for s in listed] == [
        ("app", "before-import", 2)]
    assert listed[0]["database"].startswith("app_snap_") and listed[0]["size_bytes"] > 0
    table = run(stack, "snapshot", "list").stdout
    assert table.splitlines()[0].split() == ["SERVICE", "NAME", "TAKEN", "DATABASE", "SIZE",
                                             "REDIS", "KEYS"]
    status = json.loads(run(stack, "status", "--json").stdout)
    assert [s["name"] for s in status["snapshots"]] == ["before-import"]
    assert json.loads(run(stack, "db", "list", "--json").stdout) == []
    assert "dropped 0 clone(s)" in run(stack, "db", "prune").stdout
    run(stack, "reset", "app")  # a reset is the seeded state, not the snapshot
    assert names(stack) == ["seeded"]
    assert len(json.loads(run(stack, "snapshot", "list", "--json").stdout)) == 1


def test_snapshot_save_refuses_a_taken_name_and_bad_names(stack: CopiedStack) -> None:
    result = run(stack, "snapshot", "save", "app", "before-import", code=1)
    assert result.stderr == (
        "error: app already has a snapshot named 'before-import'\n"
        "hint: `devenv snapshot save app before-import --force` replaces it; "
        "`devenv snapshot rm app before-import` removes it\n")
    result = run(stack, "snapshot", "save", "app", "Bad Name", code=1)
    assert "error: 'Bad Name' is not a snapshot name" in result.stderr
    result = run(stack, "snapshot", "restore", "app", "nope", code=1)
    assert result.stderr == (
        "error: app has no snapshot named 'nope' (its snapshots: before-import)\n"
        "hint: `devenv snapshot save app nope` takes one; `devenv snapshot list` shows them "
        "all\n")


def test_snapshot_restore_refuses_after_migrations_changed_unless_force(
        stack: CopiedStack) -> None:
    new = stack.root / "migrations" / "app" / "V2__more.sql"
    new.write_text("ALTER TABLE items ADD COLUMN note text;\n")
    run(stack, "migrate", "app")
    result = run(stack, "snapshot", "restore", "app", "before-import", code=1)
    assert result.stderr == (
        "error: the migrations of app changed since snapshot 'before-import' was taken ("
        + json.loads(run(stack, "snapshot", "list", "--json").stdout)[0]["taken"]
        + "): V2__more.sql: added. Its data has the schema of the files then, not now\n"
        "hint: `devenv snapshot restore app before-import --force` restores it anyway (then "
        "`devenv migrate app` applies the new files; edited ones show as drift)\n")
    assert names(stack) == ["seeded"]  # nothing was touched
    run(stack, "snapshot", "restore", "app", "before-import", "--force")
    assert names(stack) == ["data", "real", "seeded"]
    run(stack, "migrate", "app")
    assert query(stack, "app", "SELECT count(note) FROM items") == [(0,)]


def test_snapshots_survive_down_and_up_and_rm_removes_them(stack: CopiedStack) -> None:
    run(stack, "down")
    stopped = run(stack, "snapshot", "list")  # never "no snapshots" of a stopped stack
    assert "warning: cannot reach server 'pg' (" in stopped.stderr
    assert "the snapshots there are not listed" in stopped.stderr
    assert "no snapshots" not in stopped.stderr
    refused = run(stack, "snapshot", "restore", "app", "before-import", code=1)
    assert refused.stderr.startswith("error: cannot reach server 'pg' (")
    run(stack, "up")
    assert [s["name"] for s in json.loads(run(stack, "snapshot", "list", "--json").stdout)
            ] == ["before-import"]
    run(stack, "snapshot", "rm", "app", "before-import")
    assert json.loads(run(stack, "snapshot", "list", "--json").stdout) == []
    assert "no snapshots in project" in run(stack, "snapshot", "list").stderr
    ctx_keys = redis.Redis(port=stack.ports["cache"], password=stack.secrets()["cache/default"])
    assert ctx_keys.keys("#devenv-snapshot:*") == []


# -- dump and diff -----------------------------------------------------------------------------


def test_db_dump_with_the_servers_own_pg_dump(stack: CopiedStack, tmp_path: Path) -> None:
    out = tmp_path / "app.sql"
    result = run(stack, "db", "dump", "app", "-o", str(out))
    text = out.read_text()
    assert "CREATE TABLE public.items" in text and "seeded" in text
    assert f"wrote {out} (" in result.stdout and "pg_dump 17" in result.stdout
    assert "as app" in result.stdout  # the service's own role
    schema = run(stack, "db", "dump", "app", "--schema-only").stdout
    assert "CREATE TABLE public.items" in schema and "seeded" not in schema
    data = run(stack, "db", "dump", "app", "--data-only").stdout
    assert "CREATE TABLE" not in data and "seeded" in data
    for secret in stack.secrets().values():
        assert secret not in result.stdout + result.stderr + schema + data
    both = run(stack, "db", "dump", "app", "--schema-only", "--data-only", code=2)
    assert "--schema-only and --data-only exclude each other" in both.stderr
    assert not list(tmp_path.glob("*.partial"))


def test_db_diff_finds_a_hand_made_change_and_drops_its_scratch_database(
        stack: CopiedStack) -> None:
    clean = run(stack, "db", "diff", "app")
    assert "app: the live schema of app is what its files make" in clean.stdout
    query(stack, "app", "CREATE INDEX items_by_name ON items (name)",
          key="DATABASE_DIRECT_URL")
    changed = run(stack, "db", "diff", "app", code=1)
    assert "--- app (from its files)" in changed.stdout
    assert "+CREATE INDEX items_by_name ON public.items USING btree (name);" in changed.stdout
    assert json.loads(run(stack, "db", "list", "--json").stdout) == []  # no scratch left
    query(stack, "app", "DROP INDEX items_by_name", key="DATABASE_DIRECT_URL")
    run(stack, "db", "diff", "app")


# -- up --watch ----------------------------------------------------------------------------------


def wait_for(process: subprocess.Popen[str], lines: list[str], text: str,
             timeout: float = 120) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return
    raise AssertionError(f"{text!r} not seen in:\n{''.join(lines)}")


def test_up_watch_applies_new_files_reports_drift_and_stops_on_ctrl_c(
        stack: CopiedStack) -> None:
    env = {**os.environ, "DEVENV_FILE": str(stack.manifest), "PYTHONUNBUFFERED": "1",
           "NO_COLOR": "1"}
    process = subprocess.Popen([sys.executable, "-m", "devenv.cli", "up", "--watch"],
                               cwd=stack.root, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    lines: list[str] = []
    try:
        wait_for(process, lines, "watching migrations/app, migrations/other, seeds/app")
        (stack.root / "migrations" / "app" / "V3__tags.sql").write_text(
            "CREATE TABLE tags (name text);\n")
        wait_for(process, lines, "app: up to date")
        assert query(stack, "app", "SELECT count(*) FROM tags") == [(0,)]
        (stack.root / "seeds" / "app" / "01_items.sql").write_text(
            "INSERT INTO items (name) VALUES ('edited seed');\n")
        wait_for(process, lines, "app: up to date")
        assert "edited seed" in names(stack)
        (stack.root / "migrations" / "app" / "V1__items.sql").write_text(
            "CREATE TABLE items (id bigserial PRIMARY KEY, name citext NOT NULL);\n")
        wait_for(process, lines, "still watching")
        assert any("V1__items.sql" in line and "edited" in line for line in lines), lines
        (stack.root / "migrations" / "app" / "V4__more.sql").write_text(
            "CREATE TABLE more (id int);\n")  # not applied while V1 is drift
        wait_for(process, lines, "still watching")
        assert query(stack, "app", "SELECT to_regclass('more')",
                     key="DATABASE_DIRECT_URL") == [(None,)]
        assert process.poll() is None  # drift never ends the watch
        os.killpg(process.pid, signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, "".join(lines) + rest
    assert "stopped watching; the stack is still up (`devenv down` stops it)" in rest
    assert "Traceback" not in "".join(lines) + rest
    (stack.root / "migrations" / "app" / "V4__more.sql").unlink()
    run(stack, "repair", "app")


def test_up_watch_help(stack: CopiedStack) -> None:
    text = run(stack, "up", "--help").stdout
    assert "--watch" in text
    for command in (("snapshot", "--help"), ("db", "dump", "--help"), ("db", "diff", "--help")):
        assert run(stack, *command).code == 0
