"""The pytest plugin on a server with a replica, as a user's own test suite meets it.

A small project whose server has `replicas: 1` and `replica_delay: 1s`: each test's clone is
readable on the replica from its first line, a fresh commit is not (the delay), and
`devenv_db.wait_for_replica()` returns once it is; a paused replica fails the wait at once with
the command that resumes it. docs/pytest.md's replica example runs here verbatim.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.integration.fault_stack import small_stack
from tests.integration.stacks import REPO, CopiedStack

pytestmark = pytest.mark.xdist_group("test_replica_fixture")

USER_TEST = '''
import time

import psycopg


def count(url):
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM items").fetchone()[0]


def test_its_clone_is_on_the_replica_from_the_first_line(devenv_db):
    assert count(devenv_db.readonly_url) == 2
    with psycopg.connect(devenv_db.readonly_url) as ro:
        assert ro.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)


def test_wait_for_replica_waits_out_the_delay(devenv_db):
    with psycopg.connect(devenv_db.url, autocommit=True) as rw:
        rw.execute("INSERT INTO items (name) VALUES ('third')")
    started = time.monotonic()
    assert count(devenv_db.readonly_url) == 2  # replica_delay: 1s holds the commit back
    devenv_db.wait_for_replica()
    waited = time.monotonic() - started
    assert count(devenv_db.readonly_url) == 3
    print(f"WAITED {waited:.3f}")
    assert waited >= 0.5
'''


def doc_example() -> str:
    """docs/pytest.md's replica example (its ```py block), run here verbatim."""
    (block,) = re.findall(r"```py\n(# tests/test_replica_reads.py\n.*?)```",
                          (REPO / "docs" / "pytest.md").read_text(), flags=re.S)
    return str(block)


def run_pytest(stack: CopiedStack, *args: str) -> subprocess.CompletedProcess[str]:
    (stack.root / "tests").mkdir(exist_ok=True)
    (stack.root / "tests" / "test_user.py").write_text(USER_TEST)
    (stack.root / "tests" / "test_replica_reads.py").write_text(doc_example())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVENV_", "PYTEST_"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                           "-p", "no:xdist", *args, "tests"], cwd=stack.root, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    with small_stack(tmp_path_factory.mktemp("rf") / "p", prefix="t-replica-fixture",
                     pg={"replicas": 1, "replica_delay": "1s"}) as stack:
        stack.ok("up")
        yield stack


def test_clones_reach_the_replica_and_wait_for_replica_waits_for_the_last_commit(
        stack: CopiedStack) -> None:
    run = run_pytest(stack)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout  # the two above and the docs' example
    waited = float(run.stdout.split("WAITED ")[1].split()[0])
    assert waited < 10, "the wait should end soon after the delay"


def test_a_paused_replica_fails_the_test_at_once_naming_the_fix(stack: CopiedStack) -> None:
    stack.ok("replica", "pause", "pg")
    try:
        run = run_pytest(stack, "-k", "first_line")
    finally:
        stack.ok("replica", "resume", "pg")
    assert run.returncode != 0
    assert "replica 'pg-replica-1' is paused" in run.stdout, run.stdout
    assert "devenv replica resume pg" in run.stdout
