"""Clones in memory, the developer's data on disk (issue 19), on the real engine.

A `storage: volume` server mounts a tmpfs for the tablespace `devenv_clones`: `db clone` and the
pytest plugin's clones go there, the service database, its template and reset spares stay on the
volume; a container restart empties it and the next `up` (or pytest run) repairs it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.fault_stack import admin_url, query, small_stack, write_project
from tests.integration.stacks import CopiedStack

pytestmark = pytest.mark.xdist_group("test_clonespace")

USER_TEST = '''
import psycopg


def test_gets_a_seeded_clone_in_memory(devenv_db):
    with psycopg.connect(devenv_db.url) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (2,)
        where = conn.execute("SELECT t.spcname FROM pg_database d JOIN pg_tablespace t "
                             "ON t.oid = d.dattablespace WHERE d.datname = current_database()")
        assert where.fetchone() == ("devenv_clones",)
'''


def tablespaces(stack: CopiedStack) -> dict[str, str]:
    """database -> its tablespace, for every database on the server."""
    rows = query(admin_url(stack), "SELECT d.datname, t.spcname FROM pg_database d "
                 "JOIN pg_tablespace t ON t.oid = d.dattablespace")
    return {str(r[0]): str(r[1]) for r in rows}


def clone(stack: CopiedStack) -> dict[str, Any]:
    data = json.loads(stack.ok("db", "clone", "app", "--json", "--show-secrets").stdout)
    assert isinstance(data, dict)
    return data


def run_pytest(stack: CopiedStack, *args: str) -> subprocess.CompletedProcess[str]:
    """The user's own `pytest` in the project folder (the plugin is installed with devenv)."""
    (stack.root / "tests").mkdir(exist_ok=True)
    (stack.root / "tests" / "test_user.py").write_text(USER_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVENV_", "PYTEST_"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", *args, "tests"], cwd=stack.root, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    with small_stack(tmp_path_factory.mktemp("cs") / "p", prefix="t-clonespace") as stack:
        up = stack.ok("up")
        assert "pg: tablespace devenv_clones in memory for clones (cap 512m)" in up.stdout
        yield stack


def test_a_clone_lands_in_memory_while_the_service_db_and_template_stay_on_the_volume(
        stack: CopiedStack) -> None:
    made = clone(stack)
    assert query(made["url"], "SELECT count(*) FROM items") == [(2,)]
    where = tablespaces(stack)
    assert where[made["database"]] == "devenv_clones", where
    assert where["app"] == "pg_default"
    templates = [db for db in where if db.startswith("app_tpl_")]
    assert templates and all(where[t] == "pg_default" for t in templates), where
    mounts = subprocess.run(["docker", "inspect", "--format", "{{json .HostConfig.Tmpfs}}",
                             stack.containers()["pg"]], capture_output=True, text=True,
                            check=True).stdout
    assert json.loads(mounts) == {
        "/var/lib/devenv-clones": "uid=999,gid=999,mode=0700,size=512m"}
    stack.ok("reset", "app")  # a reset's spare is a copy of the template: on the volume too
    assert all(space == "pg_default" for db, space in tablespaces(stack).items()
               if db != made["database"])


def test_after_a_container_restart_the_lost_clones_go_and_tests_get_working_ones(
        stack: CopiedStack) -> None:
    lost = clone(stack)["database"]
    subprocess.run(["docker", "restart", stack.containers()["pg"]], check=True,
                   capture_output=True)
    # the restart leaves the container healthy: pytest's plugin takes `up`'s warm path
    result = run_pytest(stack, "-o", "devenv_prefetch=2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert lost not in tablespaces(stack)
    up = stack.ok("up")  # nothing left to repair
    assert "dropped" not in up.stdout and "tablespace" not in up.stdout, up.stdout
    kept = clone(stack)
    subprocess.run(["docker", "restart", stack.containers()["pg"]], check=True,
                   capture_output=True)
    up = stack.ok("up")
    assert f"pg: dropped 1 clone(s) a restart emptied ({kept['database']})" in up.stdout
    assert query(clone(stack)["url"], "SELECT count(*) FROM items") == [(2,)]


MID_RUN_TEST = '''
import os
import subprocess

import psycopg

MADE = []


def seeded_in_memory(db):
    with psycopg.connect(db.url) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (2,)
        conn.execute("INSERT INTO items (name) VALUES ('mine')")
        where = conn.execute("SELECT t.spcname FROM pg_database d JOIN pg_tablespace t "
                             "ON t.oid = d.dattablespace WHERE d.datname = current_database()")
        assert where.fetchone() == ("devenv_clones",)
    MADE.append(db.name)


def test_1(devenv_db):
    seeded_in_memory(devenv_db)


def test_2_then_the_container_restarts(devenv_db):
    seeded_in_memory(devenv_db)  # taking this one put the next test's clone in the making
    subprocess.run(["docker", "restart", os.environ["PG_CONTAINER"]], check=True,
                   capture_output=True)


def test_3_after_the_restart(devenv_db):
    seeded_in_memory(devenv_db)


def test_4(devenv_db):
    seeded_in_memory(devenv_db)
    assert len(set(MADE)) == 4
'''


@pytest.mark.parametrize("prefetch", ["2", "0"])
def test_a_restart_in_the_middle_of_a_run_never_hands_a_test_a_clone_made_before_it(
        tmp_path: Path, prefetch: str) -> None:
    with small_stack(tmp_path / "p", prefix="t-hc-restart") as stack:
        stack.ok("up")
        run_across_a_restart(stack, prefetch)


def run_across_a_restart(stack: CopiedStack, prefetch: str) -> None:
    (stack.root / "tests").mkdir(exist_ok=True)
    (stack.root / "tests" / "test_user.py").write_text(MID_RUN_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVENV_", "PYTEST_"))}
    env["PG_CONTAINER"] = stack.containers()["pg"]
    before = subprocess.run(["docker", "inspect", "--format", "{{.State.StartedAt}}",
                             env["PG_CONTAINER"]], capture_output=True, text=True,
                            check=True).stdout
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "-p", "no:xdist", "-W", "error::UserWarning", "-o",
                             f"devenv_prefetch={prefetch}", "tests"], cwd=stack.root, env=env,
                            capture_output=True, text=True, timeout=300)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "4 passed" in out and "warning" not in out.lower(), out
    after = subprocess.run(["docker", "inspect", "--format", "{{.State.StartedAt}}",
                            env["PG_CONTAINER"]], capture_output=True, text=True,
                           check=True).stdout
    assert after != before  # the container did restart in the middle of the run
    # nothing left behind: the clone made ahead before the restart is gone too
    assert not [db for db in tablespaces(stack) if re.search(r"_c[0-9a-f]{8}$", db)]
    up = stack.ok("up")
    assert "dropped" not in up.stdout, up.stdout


def test_full_clone_memory_is_an_error_naming_the_cap(tmp_path: Path) -> None:
    with small_stack(tmp_path / "p", prefix="t-clonecap", pg={"clone_memory": "20m"}) as stack:
        stack.ok("up")
        failed = None
        for _ in range(4):  # an empty PostgreSQL 17 database is ~7.5 MiB: the third fails
            result = stack.devenv("db", "clone", "app")
            if result.code != 0:
                failed = result
                break
        assert failed is not None, "20m held four clones"
        assert "servers.pg.clone_memory caps it at 20m" in failed.stderr, failed.explain()
        assert "raise servers.pg.clone_memory in devenv.yaml" in failed.stderr
        stack.ok("db", "prune")
        # the plugin checks before the first test: 4 made ahead + 2 do not fit in 20m
        result = run_pytest(stack, "-o", "devenv_prefetch=4")
        assert result.returncode != 0
        out = result.stdout + result.stderr
        assert "more than servers.pg.clone_memory (20m)" in out, out
        assert run_pytest(stack, "-o", "devenv_prefetch=0").returncode == 0


MIGRATION = """
CREATE TABLE metrics (at timestamptz NOT NULL, value double precision);
SELECT create_hypertable('metrics', 'at', chunk_time_interval => interval '1 day');
"""
SEED = ("INSERT INTO metrics SELECT t, 1 FROM generate_series('2025-01-01'::timestamptz, "
        "'2025-01-05', interval '1 hour') t;\n")


def test_timescaledb_hypertable_chunks_clone_into_memory(tmp_path: Path) -> None:
    stack = write_project(tmp_path / "p", prefix="t-clonets", pg={"kind": "timescaledb"},
                          migrations={"V1__metrics.sql": MIGRATION},
                          seeds={"01_metrics.sql": SEED})
    manifest = yaml.safe_load(stack.manifest.read_text())
    manifest["services"]["app"]["extensions"] = ["timescaledb"]
    stack.manifest.write_text(yaml.safe_dump(manifest, sort_keys=False))
    try:
        up = stack.ok("up")
        assert "pg: tablespace devenv_clones in memory for clones" in up.stdout, up.stdout
        made = clone(stack)
        assert tablespaces(stack)[made["database"]] == "devenv_clones"
        chunks = query(made["url"], "SELECT pg_relation_filepath(c)::text "
                       "FROM show_chunks('metrics') c")
        assert len(chunks) == 5, chunks
        # a relation of the database's default tablespace lives under pg_tblspc/<its oid>/
        assert all(str(p).startswith("pg_tblspc/") for (p,) in chunks), chunks
        assert query(made["url"], "SELECT count(*) FROM metrics") == [(97,)]
        assert query(made["url"], "INSERT INTO metrics VALUES ('2025-02-01', 2) "
                     "RETURNING value") == [(2.0,)]  # a new chunk, in memory too
    finally:
        stack.teardown()
