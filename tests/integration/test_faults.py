"""Faults around `devenv up` on a real engine: concurrent runs, SIGKILL (also mid-migration),
a killed server container, corrupted or lost .devenv/, a server that cannot start.

Small stacks only (one PostgreSQL + one Redis). Tests of one stack run in file order.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.integration.fault_stack import (
    MIGRATIONS,
    admin_url,
    advisory_locks,
    ledger_counts,
    popen_devenv,
    query,
    small_stack,
)
from tests.integration.stacks import CopiedStack, Result, parse_dotenv

pytestmark = pytest.mark.xdist_group("test_faults")
VERSIONS = {"1": 1, "2": 1, "3": 1}


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.explain()
    assert "a bug" not in result.stderr, result.explain()


def app_url(stack: CopiedStack) -> str:
    return parse_dotenv((stack.root / ".devenv" / "env" / "app.env").read_text())["DATABASE_URL"]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    with small_stack(tmp_path_factory.mktemp("faults") / "shared", prefix="t-faults") as stack:
        yield stack


@pytest.fixture
def running(shared: CopiedStack) -> CopiedStack:
    if not (shared.root / ".devenv" / "secrets.json").exists():
        shared.ok("up")
    return shared


# -- concurrency and kills -------------------------------------------------------------------
def test_two_ups_at_once_both_succeed_and_migrate_once(shared: CopiedStack) -> None:
    first, second = popen_devenv(shared, "up"), popen_devenv(shared, "up")
    outs = [p.communicate(timeout=600) for p in (first, second)]
    for proc, (out, err) in zip((first, second), outs, strict=True):
        assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}"
        assert "Traceback" not in out + err
    assert ledger_counts(shared) == VERSIONS
    assert query(app_url(shared), "SELECT count(*) FROM items") == [(2,)], "seeded once"
    assert advisory_locks(shared) == 0


def test_killed_server_container_comes_back_with_its_data(running: CopiedStack) -> None:
    query(app_url(running), "INSERT INTO items (name) VALUES ('survives a kill')")
    container = running.containers()["pg"]
    subprocess.run(["docker", "kill", container], check=True, capture_output=True)
    status = running.status()
    pg = next(s for s in status["servers"] if s["name"] == "pg")
    assert pg["state"] != "running", status
    text = running.ok("status").stdout
    assert any(line.startswith("pg ") and "running" not in line for line in text.splitlines()), \
        text
    result = running.ok("up")
    no_traceback(result)
    assert "is up" in result.stdout
    assert query(app_url(running), "SELECT name FROM items WHERE name = 'survives a kill'") == [
        ("survives a kill",)]
    assert ledger_counts(running) == VERSIONS


def test_corrupted_secrets_file_is_a_clear_error(running: CopiedStack) -> None:
    path = running.root / ".devenv" / "secrets.json"
    saved = path.read_bytes()
    try:
        path.write_text("{not json")
        result = running.devenv("up")
        no_traceback(result)
        assert result.code == 1, result.explain()
        assert result.stderr.startswith("error: "), result.stderr
        assert ".devenv/secrets.json" in result.stderr
        assert "devenv up --resync-passwords" in result.stderr
    finally:
        path.write_bytes(saved)
    running.ok("up")


def test_lost_devenv_folder_with_volumes_is_refused_then_resynced(running: CopiedStack) -> None:
    query(app_url(running), "INSERT INTO items (name) VALUES ('survives resync')")
    old_password = running.secrets()["pg/app"]
    shutil.move(running.root / ".devenv", running.root / "devenv-lost")
    result = running.devenv("up")
    no_traceback(result)
    assert result.code == 1, result.explain()
    assert ".devenv/secrets.json is missing" in result.stderr
    assert "data volumes" in result.stderr
    assert "devenv up --resync-passwords" in result.stderr
    assert not (running.root / ".devenv" / "secrets.json").exists(), \
        "no new passwords may be written over existing volumes"

    result = running.devenv("up", "--resync-passwords")
    no_traceback(result)
    assert result.code == 0, result.explain()
    new_password = running.secrets()["pg/app"]
    assert new_password != old_password
    url = app_url(running)
    assert new_password in url
    assert query(url, "SELECT name FROM items WHERE name = 'survives resync'") == [
        ("survives resync",)]
    assert ledger_counts(running) == VERSIONS
    with pytest.raises(psycopg.OperationalError):
        query(url.replace(new_password, old_password), "SELECT 1")


# -- SIGKILL ------------------------------------------------------------------------------------
SLEEPY = {**MIGRATIONS, "V4__slow.sql": "SELECT pg_sleep(5);\nCREATE TABLE slow (id int);\n"}


@pytest.fixture(scope="module")
def killable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    with small_stack(tmp_path_factory.mktemp("faults") / "killable", prefix="t-faults-kill") \
            as stack:
        yield stack


def _orphans(stack: CopiedStack) -> list[str]:
    """`docker compose` processes of the project still running (a killed up leaves them)."""
    out = subprocess.run(["pgrep", "-f", f"--project-name {stack.project} "],
                         capture_output=True, text=True, check=False).stdout
    return out.split()


def _wait_orphans(stack: CopiedStack, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while _orphans(stack) and time.monotonic() < deadline:
        time.sleep(0.3)


def test_up_killed_mid_way_then_up_completes(killable: CopiedStack) -> None:
    if killable.containers():  # another test ran first: kill a cold up, not a warm one
        killable.ok("down", "--volumes", "--yes")
    proc = popen_devenv(killable, "up")
    # mid-way: its containers exist, the server is still in initdb (a cold up takes ~2 s, so
    # a fixed sleep could miss it)
    deadline = time.monotonic() + 120
    while not killable.containers():
        assert proc.poll() is None, f"up ended before its containers showed: {proc.communicate()}"
        assert time.monotonic() < deadline, "up made no container in 120 s"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    # The killed up's `docker compose up` child lives on; see the test below for an up that
    # starts while it still runs.
    _wait_orphans(killable)
    result = killable.devenv("up")
    no_traceback(result)
    assert result.code == 0, result.explain()
    assert ledger_counts(killable) == VERSIONS
    assert query(app_url(killable), "SELECT count(*) FROM items") == [(2,)]


def _wait_for_sleep(stack: CopiedStack, proc: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"up ended before the migration slept: {proc.communicate()}"
        try:
            rows = query(admin_url(stack), "SELECT count(*) FROM pg_stat_activity WHERE query "
                         "LIKE '%pg_sleep(5)%' AND pid <> pg_backend_pid()")
            if rows[0][0]:
                return
        except (psycopg.OperationalError, KeyError, FileNotFoundError):
            pass
        time.sleep(0.2)
    raise AssertionError("the slow migration never started")


def test_up_killed_mid_migration_then_up_applies_each_version_once(
        killable: CopiedStack) -> None:
    killable.ok("up")
    for name, text in SLEEPY.items():
        (killable.root / "migrations" / "app" / name).write_text(text)
    proc = popen_devenv(killable, "up")
    _wait_for_sleep(killable, proc, timeout=180)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    result = killable.devenv("up")
    no_traceback(result)
    assert result.code == 0, result.explain()
    assert ledger_counts(killable) == {**VERSIONS, "4": 1}
    rows = query(admin_url(killable, "app"), "SELECT version, success FROM "
                 "devenv.devenv_schema_history WHERE version = '4'")
    assert rows == [("4", True)], "one row for V4, a successful one"
    assert advisory_locks(killable) == 0, "the killed run's advisory lock is gone"


def test_port_of_our_own_container_started_after_the_listing_is_not_foreign(
        killable: CopiedStack) -> None:
    from devenv.engine import ports
    from devenv.engine.docker import ContainerState, Docker
    from devenv.store.stackcache import load

    killable.ok("up")
    stack = load(killable.manifest)
    # What up._start saw when the orphaned compose had created `cache` but not started it yet.
    stale = {"cache": ContainerState("id", "x", "cache", killable.project, "created", "", "", ())}
    # Fixed in d89e6ef: check_free lists our containers again before blaming another process.
    ports.check_free(stack, [stack.servers["cache"]], {}, stale, [],
                     relist=Docker(stack).by_server)


# -- a server that cannot start -------------------------------------------------------------------
def test_bad_setting_shows_the_server_and_its_log(tmp_path: Path) -> None:
    with small_stack(tmp_path / "bad", prefix="t-faults-bad",
                     pg={"settings": {"shared_buffers": "banana"}}) as stack:
        started = time.monotonic()
        result = stack.devenv("up", "--timeout", "30")
        elapsed = time.monotonic() - started
        no_traceback(result)
        assert result.code == 1, result.explain()
        assert result.stderr.startswith("error: server 'pg' is not ready"), result.stderr
        assert "shared_buffers" in result.stderr, result.stderr
        assert "banana" in result.stderr, "the log tail shows PostgreSQL's own error line"
        assert "hint: " in result.stderr
        assert elapsed < 120, f"--timeout 30 took {elapsed:.0f}s"
        assert all(p not in result.stdout + result.stderr for p in stack.secrets().values())
