"""The pytest plugin's cold start (issue 19): only the servers the tests ask for come up.

A project of two services on two PostgreSQL servers; the user's tests ask for one of them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from devenv.console import Console
from devenv.engine import start
from devenv.engine.up import up
from devenv.errors import DevenvError
from devenv.model.stack import Stack
from devenv.store.stackcache import load
from devenv.store.state import ProjectLock
from tests.integration.fault_stack import admin_url, query, small_stack
from tests.integration.stacks import PCC, CopiedStack, copied, free_ports

pytestmark = pytest.mark.xdist_group("test_cold_start")

USER_TEST = '''
import psycopg


def test_app(devenv_database):
    db = devenv_database("app")
    with psycopg.connect(db.url) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (2,)
'''


def running(stack: CopiedStack) -> set[str]:
    out = subprocess.run(["docker", "ps", "--filter", f"label=dev.devenv.project={stack.project}",
                          "--format", '{{.Label "dev.devenv.server"}}'],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def run_pytest(stack: CopiedStack) -> subprocess.CompletedProcess[str]:
    (stack.root / "tests").mkdir(exist_ok=True)
    (stack.root / "tests" / "test_user.py").write_text(USER_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVENV_", "PYTEST_"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "tests"], cwd=stack.root, env=env,
                          capture_output=True, text=True, timeout=300)


def covers(stack: CopiedStack) -> list[str]:
    data = json.loads((stack.root / ".devenv" / "state.json").read_text())
    return list(data.get("covers", []))


def add_other_service(stack: CopiedStack) -> None:
    """Service `other` on a PostgreSQL server of its own, `other-db`."""
    manifest = stack.read_manifest()
    (port,) = free_ports(1)
    manifest["servers"]["other-db"] = {"kind": "postgres", "port": port}
    manifest["services"]["other"] = {"postgres": "other-db"}
    stack.write_manifest(manifest)
    stack.ports["other-db"] = port


def lock_is_free(stack: Stack) -> bool:
    lock = ProjectLock.try_take(stack)
    if lock is None:
        return False
    lock.release()
    return True


def test_a_cold_run_starts_only_the_servers_of_the_services_its_tests_ask_for(
        tmp_path: Path) -> None:
    with small_stack(tmp_path / "p", prefix="t-hc-cold") as stack:
        add_other_service(stack)

        result = run_pytest(stack)
        assert result.returncode == 0, result.stdout + result.stderr
        assert running(stack) == {"pg", "cache"}  # app's servers, not other-db
        assert covers(stack) == ["app"]
        assert (stack.root / ".devenv/env/app.env").exists()
        assert not (stack.root / ".devenv/env/other.env").exists()

        stack.ok("up")  # the whole stack, as a developer would
        assert running(stack) == {"pg", "cache", "other-db"}
        ids = stack.containers()
        result = run_pytest(stack)
        assert result.returncode == 0, result.stdout + result.stderr
        # warm: `up` of app after an `up` of everything rewrote nothing and restarted nothing
        assert covers(stack) == ["app", "other"]
        assert stack.containers() == ids


def test_a_second_checkout_of_the_repo_reuses_the_template_instead_of_building_it(
        tmp_path: Path) -> None:
    """Same migrations, another folder (a second clone or worktree sharing the project's
    servers and .devenv/): the template is found by content, not rebuilt."""
    with small_stack(tmp_path / "one" / "repo", prefix="t-hc-share") as stack:
        result = run_pytest(stack)
        assert result.returncode == 0, result.stdout + result.stderr
        before = templates(stack)
        assert len(before) == 1, before
        other = CopiedStack(tmp_path / "two" / "repo", stack.project, dict(stack.ports))
        shutil.copytree(stack.root, other.root, ignore=shutil.ignore_patterns("tests"))
        result = run_pytest(other)
        assert result.returncode == 0, result.stdout + result.stderr
        assert templates(stack) == before  # same name, same oid: not built again


def templates(stack: CopiedStack) -> dict[str, int]:
    rows = query(admin_url(stack), "SELECT datname, oid FROM pg_database "
                 "WHERE datname LIKE 'app_tpl_%'")
    return {str(name): int(oid) for name, oid in rows}


REPLICA_TEST = '''
import time

import psycopg


def test_reads_its_clone_on_the_replica(devenv_database):
    db = devenv_database("client")
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE seen (n int)")
        conn.execute("INSERT INTO seen VALUES (42)")
    deadline = time.monotonic() + 60
    while True:  # the replica replays asynchronously
        try:
            with psycopg.connect(db.env["DATABASE_READONLY_URL"], autocommit=True) as conn:
                assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
                assert conn.execute("SELECT n FROM seen").fetchone() == (42,)
                return
        except psycopg.errors.UndefinedTable:
            assert time.monotonic() < deadline
            time.sleep(0.1)
'''


def test_a_cold_run_on_a_server_with_a_replica_reads_its_in_memory_clone_there(
        tmp_path: Path) -> None:
    """pcc with `replicas: 1`, from nothing: the plugin builds client's template while the
    replica clones the primary, and the test's clone (in the in-memory tablespace) replays
    on the replica, whose tmpfs is mounted at the same path."""
    edit = lambda m: m["servers"]["alloydb"].update(replicas=1)  # noqa: E731
    with copied(PCC, tmp_path, prefix="t-hc-coldrep", edit=edit) as stack:
        (stack.root / "tests").mkdir(exist_ok=True)
        (stack.root / "tests" / "test_user.py").write_text(REPLICA_TEST)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVENV_", "PYTEST_"))}
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 "-p", "no:xdist", "tests"], cwd=stack.root, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert running(stack) == {"alloydb", "alloydb-replica-1", "pgbouncer"}


# -- the early start: containers first, the database driver while they start ------------------
RECORDER = '''
import importlib.machinery
import os
import sys
import threading

import devenv.engine.start

started = threading.Event()
_start = devenv.engine.start.start_containers


def start(*args, **kwargs):
    started.set()
    with open("starts.log", "a") as log:
        log.write("start\\n")
    return _start(*args, **kwargs)


class HoldPsycopg:
    """psycopg runs only once the containers are starting (or 30 s later, said in the log).
    The wait is in the loader: a finder runs under the interpreter's global import lock."""

    def find_spec(self, name, path=None, target=None):
        if name != "psycopg":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        spec.loader = Held(spec.loader)
        return spec


class Held:
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        if not started.wait(30):
            with open("starts.log", "a") as log:
                log.write("psycopg was needed before the containers started\\n")
        self.loader.exec_module(module)


devenv.engine.start.start_containers = start
if os.environ.get("HOLD_PSYCOPG"):
    sys.meta_path.insert(0, HoldPsycopg())
'''
DB_TEST = '''
def test_app(devenv_db):
    assert devenv_db.conn.execute("SELECT count(*) FROM items").fetchone() == (2,)
'''
FACTORY_TEST = '''
def test_app(devenv_database):
    db = devenv_database("app")
    assert db.conn.execute("SELECT count(*) FROM items").fetchone() == (2,)
'''


@pytest.mark.parametrize("user_test", [DB_TEST, FACTORY_TEST], ids=["devenv_db", "factory"])
def test_a_cold_run_starts_the_containers_before_it_loads_the_database_driver(
        tmp_path: Path, user_test: str) -> None:
    """devenv_db knows its service before anything heavy loads (and so does the factory when
    one service has a database): `docker compose up` runs while psycopg, redis-py and the
    engine load, not after them."""
    with small_stack(tmp_path / "p", prefix="t-hc-early") as stack:
        (stack.root / "tests").mkdir(exist_ok=True)
        (stack.root / "tests" / "test_user.py").write_text(user_test)
        (stack.root / "recorder.py").write_text(RECORDER)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVENV_", "PYTEST_"))}
        env["PYTHONPATH"] = str(stack.root)
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 "-p", "no:xdist", "-p", "recorder", "tests"], cwd=stack.root,
                                env={**env, "HOLD_PSYCOPG": "1"}, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert (stack.root / "starts.log").read_text().splitlines() == ["start"]
        assert running(stack) == {"pg", "cache"}
        # the lock the early start took was handed on and let go: the CLI is not kept waiting
        stack.ok("up")
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 "-p", "no:xdist", "-p", "recorder", "tests"], cwd=stack.root,
                                env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert len((stack.root / "starts.log").read_text().splitlines()) == 1  # warm: no start


def test_up_takes_over_an_early_start_and_its_project_lock(tmp_path: Path) -> None:
    with small_stack(tmp_path / "p", prefix="t-hc-handover") as stack:
        resolved = load(stack.manifest)
        launched = start.launch(resolved, ["app"])
        assert launched is not None
        assert not lock_is_free(resolved)  # held from the start on
        up(resolved, Console(quiet=True), names=["app"], migrate=False, launched=launched)
        assert lock_is_free(resolved), "up let go of the lock it took over"
        assert running(stack) == {"pg", "cache"}
        assert start.launch(resolved, ["app"]) is None  # containers exist: up decides
        assert stack.env("app")["DATABASE_URL"]


def test_an_early_start_that_fails_is_reported_by_up_by_name_and_frees_the_lock(
        tmp_path: Path) -> None:
    with small_stack(tmp_path / "p", prefix="t-hc-earlyfail") as stack:
        resolved = load(stack.manifest)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", stack.ports["pg"]))
            taken.listen()
            launched = start.launch(resolved, ["app"])
            assert launched is not None
            with pytest.raises(DevenvError, match=str(stack.ports["pg"])):
                up(resolved, Console(quiet=True), names=["app"], migrate=False,
                   launched=launched)
        assert lock_is_free(resolved)
        assert running(stack) == set()
        stack.ok("up")  # the port is free again: nothing was left half-done


def test_an_early_start_of_other_services_is_given_up_and_up_starts_its_own(
        tmp_path: Path) -> None:
    with small_stack(tmp_path / "p", prefix="t-hc-other") as stack:
        add_other_service(stack)
        resolved = load(stack.manifest)
        launched = start.launch(resolved, ["app"])
        assert launched is not None
        up(resolved, Console(quiet=True), names=["other"], migrate=False, launched=launched)
        assert running(stack) == {"pg", "cache", "other-db"}  # app's start went on, then other's
