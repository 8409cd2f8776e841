"""The generated stack against the images' own contracts (issue 13, 14.2, 14.11), on the engine.

Redis 8 and Valkey run as their image's user with the same ACL isolation, and no service can
change, delete or flush code another runs; PostgreSQL 17 and 18 run side by side, each with its
data on its named volume; a volume is never started on another major; TimescaleDB does not
size itself by the host; no password is in any container's config; extensions the image lacks
are built in; the committed compose file reads without `.devenv/`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import yaml

from tests.integration.stacks import REPO, CopiedStack, free_ports

pytestmark = pytest.mark.xdist_group("test_real_images")


def _stack(root: Path, prefix: str, manifest: dict[str, Any]) -> CopiedStack:
    root.mkdir(parents=True, exist_ok=True)
    project = f"{prefix}-{uuid.uuid4().hex[:10]}"
    ports = dict(zip(manifest["servers"], free_ports(len(manifest["servers"])), strict=True))
    for name, server in manifest["servers"].items():
        server["port"] = ports[name]
    stack = CopiedStack(root, project, ports)
    stack.write_manifest({"project": project, **manifest})
    return stack


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Any]:
    made: list[CopiedStack] = []

    def make(prefix: str, manifest: dict[str, Any]) -> CopiedStack:
        made.append(_stack(tmp_path / prefix, prefix, manifest))
        return made[-1]

    yield make
    for stack in made:
        stack.teardown()


def _exec(container: str, script: str) -> str:
    return subprocess.run(["docker", "exec", container, "sh", "-c", script], capture_output=True,
                          text=True, check=True).stdout


def _uid_of(container: str, command: str) -> int:
    """The real uid of the process named `command` inside the container."""
    script = (f'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = "{command}" ] && '
              'grep ^Uid: $p/status; done; true')
    line = _exec(container, script).split()
    assert line, f"no {command} process in {container}"
    return int(line[1])


def _inspect(container: str) -> str:
    return subprocess.run(["docker", "inspect", container], capture_output=True, text=True,
                          check=True).stdout


def _client(stack: CopiedStack, service: str) -> redis.Redis:
    return redis.Redis.from_url(stack.env(service)["REDIS_URL"])


def _admin(stack: CopiedStack, server: str) -> redis.Redis:
    password = stack.secrets()[f"{server}/default"]
    return redis.Redis(host="127.0.0.1", port=stack.ports[server], password=password)


# -- Redis 8 and Valkey ------------------------------------------------------------------------


LIBRARY = ("#!lua name={name}\nredis.register_function('{name}_get', "
           "function(keys, args) return redis.call('GET', keys[1]) end)")


def test_redis_8_and_valkey_run_as_uid_999_with_the_same_isolation(make_stack: Any) -> None:
    stack = make_stack("t-kv", {
        "servers": {"cache": {"kind": "redis", "image": "redis:8"}, "kv": {"kind": "valkey"}},
        "services": {name: {"postgres": False, "redis": server} for name, server in
                     [("a", "cache"), ("b", "cache"), ("c", "kv"), ("d", "kv")]},
    })
    stack.ok("up")
    ids = stack.containers()
    assert _uid_of(ids["cache"], "redis-server") == 999
    assert _uid_of(ids["kv"], "valkey-server") == 999
    assert "valkey_version" in _admin(stack, "kv").info("server")  # really Valkey

    for server, mine, other in (("cache", "a", "b"), ("kv", "c", "d")):
        admin, attacker, victim = _admin(stack, server), _client(stack, mine), \
            _client(stack, other)
        # The victim's library, loaded by the default user (the only one who may load code).
        admin.function_load(LIBRARY.format(name=other), replace=True)
        victim.set(f"{other}:k", "victim")
        assert victim.fcall(f"{other}_get", 1, f"{other}:k") == b"victim"
        evil = LIBRARY.format(name=other).replace("redis.call('GET', keys[1])", "'pwned'")
        attacks: list[tuple[str, ...]] = [
            ("FUNCTION", "LOAD", "REPLACE", evil), ("FUNCTION", "DELETE", other),
            ("FUNCTION", "FLUSH"), ("FUNCTION", "RESTORE", "x"), ("FUNCTION", "LIST"),
            ("SCRIPT", "FLUSH"), ("SCRIPT", "KILL"), ("GET", f"{other}:k")]
        for attack in attacks:
            with pytest.raises(redis.exceptions.NoPermissionError):
                attacker.execute_command(*attack)
        assert victim.fcall(f"{other}_get", 1, f"{other}:k") == b"victim"
        # What queue and rate-limit libraries do: EVAL and EVALSHA on the service's own keys.
        script = "return redis.call('INCR', KEYS[1])"
        assert attacker.eval(script, 1, f"{mine}:n") == 1
        assert attacker.evalsha(attacker.script_load(script), 1, f"{mine}:n") == 2
        assert attacker.fcall(f"{other}_get", 1, f"{mine}:n") == b"2"  # FCALL: own keys
        with pytest.raises(redis.exceptions.NoPermissionError):
            attacker.eval(script, 1, f"{other}:n")
        with pytest.raises(redis.exceptions.NoPermissionError):
            attacker.fcall(f"{other}_get", 1, f"{other}:k")


# -- PostgreSQL 17 and 18, TimescaleDB, PgBouncer, secrets ------------------------------------


def _version(stack: CopiedStack, server: str) -> int:
    password = stack.secrets()[f"{server}/postgres"]
    url = f"postgresql://postgres:{password}@127.0.0.1:{stack.ports[server]}/postgres"
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    return int(row[0]) // 10000


def _sql(stack: CopiedStack, service: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(stack.env(service)["DATABASE_DIRECT_URL"], autocommit=True) as conn:
        cur = conn.execute(query)
        return cur.fetchall() if cur.description else []


def _mount_of(container: str) -> list[str]:
    mounts = json.loads(subprocess.run(["docker", "inspect", "--format", "{{json .Mounts}}",
                                        container], capture_output=True, text=True,
                                       check=True).stdout)
    return [f"{m.get('Name', '')}:{m['Destination']}" for m in mounts if m["Type"] == "volume"]


@pytest.fixture
def custom_tag() -> Iterator[str]:
    """postgres:17 under a tag that names no major (what a team's own image looks like)."""
    tag = f"devenv-test-{uuid.uuid4().hex[:8]}/pg:stable"
    subprocess.run(["docker", "tag", "postgres:17", tag], check=True)
    yield tag
    subprocess.run(["docker", "rmi", tag], capture_output=True, check=False)


def test_17_and_18_side_by_side_with_timescaledb_pgbouncer_and_no_secret_in_inspect(
        make_stack: Any, custom_tag: str) -> None:
    stack = make_stack("t-pg", {
        "servers": {
            "old": {"kind": "postgres", "image": "postgres:17"},
            "new": {"kind": "postgres"},
            "own": {"kind": "postgres", "image": custom_tag},
            "ts": {"kind": "timescaledb"},
            "cache": {"kind": "redis"},
            "pool": {"kind": "pgbouncer"},
        },
        "services": {
            "legacy": {"postgres": "old", "redis": True},
            "current": {"postgres": "new", "pgbouncer": True, "extensions": ["pgcrypto"]},
            "team": {"postgres": "own"},
            "metrics": {"postgres": "ts", "extensions": ["timescaledb"]},
        },
    })
    stack.ok("up")
    assert (_version(stack, "old"), _version(stack, "new"), _version(stack, "own")) == (17, 18, 17)
    assert _version(stack, "ts") == 18
    assert _sql(stack, "current", "SELECT uuidv7() IS NOT NULL") == [(True,)]  # 18's own
    ids = stack.containers()
    project = stack.project
    # Each volume where its image keeps PGDATA: 18 one level up, 17 at PGDATA, and a tag that
    # names no major follows the image's own config, not a guess.
    assert _mount_of(ids["new"]) == [f"{project}_new-data:/var/lib/postgresql"]
    assert _mount_of(ids["old"]) == [f"{project}_old-data:/var/lib/postgresql/data"]
    assert _mount_of(ids["own"]) == [f"{project}_own-data:/var/lib/postgresql/data"]
    assert json.loads((stack.root / ".devenv" / "state.json").read_text())["majors"] == {
        "old": 17, "new": 18, "own": 17, "ts": 18}

    # TimescaleDB: PostgreSQL's own sizing whatever the host's memory, telemetry off.
    assert _sql(stack, "metrics", "SHOW max_connections") == [("100",)]
    ts_config = json.loads(subprocess.run(["docker", "inspect", "--format", "{{json .Config}}",
                                           ids["ts"]], capture_output=True, text=True,
                                          check=True).stdout)
    assert {"NO_TS_TUNE=true", "TIMESCALEDB_TELEMETRY=off"} <= set(ts_config["Env"])
    assert "timescaledb.telemetry_level=off" in ts_config["Cmd"]

    # 14.11: no password, nor the userlist or ACL, in any container's config.
    secrets_dir = stack.root / ".devenv" / "secrets"
    private = [p.read_text().strip() for p in secrets_dir.rglob("*") if p.is_file()]
    for server, container in ids.items():
        text = _inspect(container)
        for key, password in stack.secrets().items():
            assert password not in text, f"{key} in docker inspect {server}"
        for content in private:
            for line in content.splitlines():
                assert line not in text, f"a line of a secret file in docker inspect {server}"
        assert "REDISCLI_AUTH" not in text and "POSTGRES_PASSWORD=" not in text
    for path in secrets_dir.rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, path
    # The servers that read them still run as their images' users.
    assert _uid_of(ids["cache"], "redis-server") == 999
    assert _uid_of(ids["pool"], "pgbouncer") == 70
    assert _uid_of(ids["new"], "postgres") == 999

    # Data outlives down + up on every layout.
    _sql(stack, "current", "CREATE TABLE kept (id int)")
    _sql(stack, "team", "CREATE TABLE kept (id int)")
    stack.ok("down")
    stack.ok("up")
    assert _sql(stack, "current", "SELECT count(*) FROM kept") == [(0,)]
    assert _sql(stack, "team", "SELECT count(*) FROM kept") == [(0,)]

    # A 17 volume is never started by 18: the default moving on, or the manifest saying so.
    data = stack.read_manifest()
    del data["servers"]["old"]["image"]  # the default is postgres:18 now
    stack.write_manifest(data)
    refused = stack.devenv("up")
    assert refused.code == 1, refused.explain()
    text = refused.stderr
    assert f"{project}_old-data holds PostgreSQL 17 data" in text, text
    assert "image postgres:18 runs PostgreSQL 18" in text, text
    assert "servers.old.image: postgres:17" in text and "down --volumes" in text, text
    assert "pg_dumpall" in text, text
    assert _version(stack, "old") == 17  # untouched, still serving
    # A volume made before devenv recorded majors: read from the volume itself.
    state_path = stack.root / ".devenv" / "state.json"
    saved = json.loads(state_path.read_text())
    saved["majors"] = {}
    state_path.write_text(json.dumps(saved))
    again = stack.devenv("up")
    assert again.code == 1 and "holds PostgreSQL 17 data" in again.stderr, again.explain()
    assert json.loads(state_path.read_text())["majors"]["old"] == 17
    # Pinning the image back is the way out that keeps the data.
    data["servers"]["old"]["image"] = "postgres:17"
    stack.write_manifest(data)
    stack.ok("up")


# -- extensions the image lacks ----------------------------------------------------------------


def _built_tags(project: str) -> list[str]:
    out = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}",
                          f"devenv/{project}-*"], capture_output=True, text=True,
                         check=True).stdout
    return out.split()


def test_pg_partman_and_pgaudit_are_built_in_on_17_and_18(make_stack: Any) -> None:
    stack = make_stack("t-ext", {
        "servers": {"old": {"kind": "postgres", "image": "postgres:17"},
                    "new": {"kind": "postgres"}},
        "services": {"p17": {"postgres": "old", "extensions": ["pg_partman", "pgaudit"]},
                     "p18": {"postgres": "new", "extensions": ["pg_partman", "pgaudit"]}},
    })
    # This engine's Debian mirror is a frozen snapshot whose sid Release file has expired; a
    # user's machine needs no option (the recipe stays strict by default).
    apt = {"DEVENV_APT_UPDATE_OPTIONS": "-o Acquire::Check-Valid-Until=false"}
    try:
        first = stack.ok("up", env=apt)
        assert "Building the image of old (postgres:17 + pg_partman, pgaudit)" in first.stdout
        recipe = (stack.root / "compose" / "images" / "new" / "Dockerfile").read_text()
        assert "FROM postgres:18\n" in recipe and "postgresql-${PG_MAJOR}-partman" in recipe
        compose = yaml.safe_load((stack.root / "compose" / "compose.yaml").read_text())
        assert compose["services"]["new"]["build"]["context"] == "./images/new"
        for service, server in (("p17", "old"), ("p18", "new")):
            _sql(stack, service, "CREATE SCHEMA app")
            _sql(stack, service, "CREATE TABLE app.events (id bigint, at timestamptz NOT NULL)"
                                 " PARTITION BY RANGE (at)")
            # As the service's own role, as its migrations would (partman: its own schema).
            _sql(stack, service, "SELECT partman.create_parent('app.events', 'at', '1 month')")
            parts = _sql(stack, service, "SELECT count(*) FROM pg_inherits "
                                         "WHERE inhparent = 'app.events'::regclass")
            assert parts[0][0] >= 5, parts  # months around now, and the default partition
            marker = f"audited_{uuid.uuid4().hex[:8]}"
            password = stack.secrets()[f"{server}/postgres"]
            url = f"postgresql://postgres:{password}@127.0.0.1:{stack.ports[server]}/postgres"
            with psycopg.connect(url, autocommit=True) as conn:
                row = conn.execute("SHOW shared_preload_libraries").fetchone()
                assert row is not None and "pgaudit" in row[0] and "pg_partman_bgw" in row[0]
                conn.execute("SET pgaudit.log = 'ddl'")
                conn.execute(f"CREATE TABLE {marker} (id int)")
            logs = ""
            for _ in range(50):
                logs = subprocess.run(["docker", "logs", stack.containers()[server]],
                                      capture_output=True, text=True, check=False).stderr
                if marker in logs:
                    break
                time.sleep(0.1)
            audited = [line for line in logs.splitlines() if marker in line]
            assert any("AUDIT: SESSION,1,1,DDL,CREATE TABLE," in line for line in audited), logs
        # Built once: a second cold `up` finds the recipe's tag and builds nothing.
        stack.ok("down")
        second = stack.ok("up", env=apt)
        assert "Building" not in second.stdout
    finally:
        tags = _built_tags(stack.project)
        stack.teardown()
        if tags:
            subprocess.run(["docker", "rmi", *tags], capture_output=True, check=False)


# -- the committed compose file on a fresh clone ------------------------------------------------


@pytest.mark.parametrize("source", [REPO, REPO / "examples" / "pcc"], ids=["capsule", "pcc"])
def test_compose_config_works_on_a_fresh_clone(tmp_path: Path, source: Path) -> None:
    shutil.copytree(source / "compose", tmp_path / "compose")
    assert not (tmp_path / ".devenv").exists()
    done = subprocess.run(["docker", "compose", "-f", "compose/compose.yaml", "config", "-q"],
                          cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
