"""The pytest plugin as a user meets it: their conftest.py and tests, run by pytest (pytester).

The user's files are the code blocks of docs/pytest.md, verbatim (each block names its file in
its first line), so the README shows code that runs. They go into a copy of the capsule
project trimmed to auth (auth-db + Redis: a small stack), which lives for the whole module, so
every pytester session talks to the same stack. A recorder plugin (-p devenv_recorder, written
next to the project) logs every stack start and every clone to a file.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.integration.stacks import CAPSULE, REPO, CopiedStack, copied

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.xdist_group("test_pytest_plugin")

DOCS = REPO / "docs" / "pytest.md"
USER_TESTS = 6

RECORDER = '''
import os
from pathlib import Path

import devenv.data.testing as plugin
import devenv.engine.start

LOG = Path(os.environ["DEVENV_RECORD"])


def _log(line):
    with LOG.open("a") as f:
        f.write(line + "\\n")


_start = devenv.engine.start.start_containers


def start(*args, **kwargs):
    _log(f"start {os.getpid()}")
    return _start(*args, **kwargs)


devenv.engine.start.start_containers = start
_clone = plugin.DevenvStack.clone


def clone(self, service):
    name = _clone(self, service)
    _log(f"clone {os.getpid()} {name}")
    return name


plugin.DevenvStack.clone = clone
'''


def doc_files() -> dict[str, str]:
    """file name -> text of every fenced block of docs/pytest.md (named in its first line)."""
    blocks = re.findall(r"```(?:python|ini)\n(.*?)```", DOCS.read_text(), flags=re.S)
    out = {}
    for block in blocks:
        first = block.splitlines()[0]
        assert first.startswith("# "), first
        out[first[2:].strip()] = block
    assert set(out) == {"pytest.ini", "conftest.py", "tests/test_accounts.py"}, set(out)
    return out


def _auth_only(manifest: dict[str, Any]) -> None:
    manifest["servers"] = {k: v for k, v in manifest["servers"].items()
                           if k in ("auth-db", "redis")}
    auth = dict(manifest["services"]["auth"])
    auth.pop("pgbouncer", None)
    manifest["services"] = {"auth": auth}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    """The user's project: devenv.yaml, migrations, seeds, pytest.ini, conftest.py, tests/."""
    with copied(CAPSULE, tmp_path_factory.mktemp("project"), prefix="t-plugin",
                edit=_auth_only) as stack:
        for name, text in doc_files().items():
            path = stack.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        yield stack


@pytest.fixture
def run(project: CopiedStack, pytester: pytest.Pytester,
        monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run pytest as the user would, in the project's folder, with the recorder loaded."""
    (pytester.path / "devenv_recorder.py").write_text(RECORDER)
    log = pytester.path / "record.log"
    monkeypatch.setenv("DEVENV_RECORD", str(log))
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))
    monkeypatch.delenv("DEVENV_FILE", raising=False)
    monkeypatch.chdir(project.root)

    def go(*args: str) -> tuple[pytest.RunResult, list[list[str]]]:
        log.write_text("")
        result = pytester.runpytest_subprocess("-p", "devenv", "-p", "devenv_recorder",
                                               "-p", "no:cacheprovider", *args, timeout=600)
        return result, [line.split() for line in log.read_text().splitlines()]

    return go


def admin(project: CopiedStack) -> psycopg.Connection[tuple[Any, ...]]:
    from devenv.console import Console
    from devenv.engine.context import attach
    from devenv.model.resolve import load_stack

    ctx = attach(load_stack(project.manifest), Console(quiet=True))
    return psycopg.connect(ctx.admin_url(ctx.stack.servers["auth-db"]), autocommit=True)


def clones_left(project: CopiedStack) -> list[str]:
    with admin(project) as conn:
        return [str(r[0]) for r in conn.execute(
            "SELECT datname FROM pg_database WHERE datname ~ '_c[0-9a-f]{8}$' "
            "AND shobj_description(oid, 'pg_database') LIKE 'devenv:clone:%'")]


def started_at(project: CopiedStack) -> dict[str, str]:
    ids = project.containers()
    out = subprocess.run(["docker", "inspect", "--format", "{{.Id}} {{.State.StartedAt}}",
                          *ids.values()], capture_output=True, text=True, check=True).stdout
    return dict(line.split() for line in out.splitlines())


# -- cold start under xdist: one start, a database per test, nothing left ----------------------
def test_xdist_from_cold_starts_the_stack_once_and_isolates_every_test(
        project: CopiedStack, run: Any) -> None:
    if project.containers():  # another test ran first (xdist may reorder): start from cold
        project.ok("down", "--volumes", "--yes")
    assert project.containers() == {}  # nothing runs: the plugin must bring it up
    result, record = run("-n", "2")
    result.assert_outcomes(passed=USER_TESTS)
    starts = [r for r in record if r[0] == "start"]
    assert len(starts) == 1, record
    clones = [r for r in record if r[0] == "clone"]
    assert len({r[1] for r in clones}) == 2, clones  # both workers made clones
    assert len({r[2] for r in clones}) == len(clones) == 6, clones  # 5 tests, one with 2
    assert sorted(project.containers()) == ["auth-db", "redis"]
    assert clones_left(project) == []


def test_warm_xdist_run_reuses_the_running_stack(project: CopiedStack, run: Any) -> None:
    project.ok("up")  # whatever ran before: the stack is up and warm
    before = started_at(project)
    result, record = run("-n", "2")
    result.assert_outcomes(passed=USER_TESTS)
    assert [r for r in record if r[0] == "start"] == []
    assert started_at(project) == before
    assert clones_left(project) == []


def test_one_process_run_passes_and_tests_do_not_see_each_other(
        project: CopiedStack, run: Any) -> None:
    result, _ = run("-v")
    result.assert_outcomes(passed=USER_TESTS)
    result.stdout.fnmatch_lines(["*test_alice_writes PASSED*", "*test_bob_writes PASSED*"])
    assert clones_left(project) == []
    # The real database never saw the tests' rows.
    with psycopg.connect(project.env("auth")["DATABASE_DIRECT_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM roles WHERE name LIKE '%_was_here'"
                            ).fetchone() == (0,)
    # Nor did Redis keep their keys.
    import redis

    client = redis.Redis.from_url(project.env("auth")["REDIS_URL"])
    assert list(client.scan_iter(match="auth:test:*")) == []
    client.close()


def test_failing_user_test_still_drops_its_database(project: CopiedStack, run: Any) -> None:
    failing = project.root / "tests" / "test_failing.py"
    failing.write_text("def test_fails(devenv_db):\n    assert devenv_db.name == 'nope'\n")
    try:
        result, _ = run(str(failing))
    finally:
        failing.unlink()
    result.assert_outcomes(failed=1)
    assert clones_left(project) == []


def test_janitor_drops_clones_of_dead_runs(project: CopiedStack, run: Any) -> None:
    from devenv.console import Console
    from devenv.data import clones
    from devenv.engine.context import attach
    from devenv.model.resolve import load_stack

    ctx = attach(load_stack(project.manifest), Console(quiet=True))
    leftover = clones.clone(ctx, ctx.stack.services["auth"], owner="pytest-999999")
    assert leftover in clones_left(project)
    result, _ = run("tests/test_accounts.py::test_seeded_roles_are_there")
    result.assert_outcomes(passed=1)
    assert leftover not in clones_left(project)
    assert clones_left(project) == []


def test_janitor_keeps_clones_of_live_owners(project: CopiedStack, run: Any) -> None:
    import os

    from devenv.console import Console
    from devenv.data import clones
    from devenv.engine.context import attach
    from devenv.model.resolve import load_stack

    ctx = attach(load_stack(project.manifest), Console(quiet=True))
    svc = ctx.stack.services["auth"]
    mine = clones.clone(ctx, svc, owner=f"pytest-{os.getpid()}")  # this process is alive
    manual = clones.clone(ctx, svc)  # `devenv db clone`: no owner, never the janitor's
    try:
        result, _ = run("tests/test_accounts.py::test_seeded_roles_are_there")
        result.assert_outcomes(passed=1)
        assert {mine, manual} <= set(clones_left(project))
    finally:
        clones.drop_clone(ctx, svc, mine)
        clones.drop_clone(ctx, svc, manual)


def test_runs_without_devenv_fixtures_never_touch_docker(
        project: CopiedStack, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = project.root / "tests" / "test_plain.py"
    plain.write_text(
        "import sys\n\n\n"
        "def test_plain():\n"
        "    assert 1 + 1 == 2\n\n\n"
        "def test_nothing_heavy_was_imported():\n"
        "    heavy = ('psycopg', 'redis', 'devenv.engine.up', 'devenv.model.stack',\n"
        "             'devenv.engine.docker', 'devenv.data.testing')\n"
        "    assert [m for m in heavy if m in sys.modules] == []\n")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/devenv-test.sock")
    monkeypatch.chdir(project.root)
    try:
        result = pytester.runpytest_subprocess("-p", "devenv", "-p", "no:cacheprovider",
                                               str(plain), timeout=120)
    finally:
        plain.unlink()
    result.assert_outcomes(passed=2)
    assert "devenv" not in (result.stderr.str())



def test_two_janitors_at_once_both_succeed(project: CopiedStack) -> None:
    import threading

    from devenv.console import Console
    from devenv.data import clones
    from devenv.data.testing import abandoned as _abandoned
    from devenv.engine.context import attach
    from devenv.model.resolve import load_stack

    project.ok("up")
    ctx = attach(load_stack(project.manifest), Console(quiet=True))
    svc = ctx.stack.services["auth"]
    for _ in range(8):
        clones.clone(ctx, svc, owner="pytest-999999")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def janitor() -> None:
        barrier.wait()
        try:
            clones.prune(ctx, keep=lambda tag: not _abandoned(tag))
        except Exception as exc:  # what the second janitor hits
            errors.append(exc)

    threads = [threading.Thread(target=janitor) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == [], errors
    finally:
        clones.prune(ctx, keep=lambda tag: not _abandoned(tag))


# -- clones made ahead -------------------------------------------------------------------------
def test_clone_pool_hands_out_fresh_distinct_clones_and_leaves_none(
        project: CopiedStack) -> None:
    import os

    from devenv.console import Console
    from devenv.data import golden, lifetimes
    from devenv.data.clonepool import ClonePool
    from devenv.engine.context import attach
    from devenv.model import facts
    from devenv.model.resolve import load_stack

    project.ok("up")
    ctx = attach(load_stack(project.manifest), Console(quiet=True))
    svc = ctx.stack.services["auth"]
    template = golden.ensure_template(ctx, svc, say=False)
    assert svc.server is not None
    admin, lifetime = lifetimes.connect(ctx, ctx.stack.servers[svc.server])
    admin.close()
    pool = ClonePool(ctx, tag="pool", owner=f"pytest-{os.getpid()}", depth=3)
    handed = []
    try:
        for _ in range(5):
            name = pool.take(svc, template, lifetime)
            handed.append(name)
            url = facts.env_vars(ctx.stack, svc, ctx.secrets, ctx.ports,
                                 database=name)["DATABASE_URL"]
            with psycopg.connect(url, autocommit=True) as conn:
                # A fresh copy: no earlier test's row, the seeds, as the service's role.
                assert conn.execute("SELECT count(*) FROM roles WHERE name = 'zz_pool'"
                                    ).fetchone() == (0,)
                assert conn.execute("SELECT count(*) FROM roles").fetchone() != (0,)
                assert conn.execute("SELECT current_user").fetchone() == (svc.role,)
                conn.execute("INSERT INTO roles (name) VALUES ('zz_pool')")
            pool.drop(svc, name)
        assert len(set(handed)) == 5
        import time

        deadline = time.monotonic() + 60  # the clones made ahead and never handed out
        while len([c for c in clones_left(project) if c not in handed and "_pool_c" in c]) < 3:
            assert time.monotonic() < deadline, clones_left(project)
            time.sleep(0.1)
    finally:
        errors = pool.close()
    assert errors == []
    assert [c for c in clones_left(project) if "_pool_c" in c] == []


def test_bad_devenv_prefetch_is_a_clear_failure(project: CopiedStack, run: Any) -> None:
    result, _ = run("-o", "devenv_prefetch=lots",
                    "tests/test_accounts.py::test_seeded_roles_are_there")
    assert "devenv_prefetch (pytest ini) must be a whole number" in result.stdout.str()
    assert result.ret != 0


def test_prefetch_zero_clones_on_demand(project: CopiedStack, run: Any) -> None:
    result, record = run("-o", "devenv_prefetch=0")
    result.assert_outcomes(passed=USER_TESTS)
    assert len([r for r in record if r[0] == "clone"]) == 6
    assert clones_left(project) == []


def test_clone_pool_makes_nothing_ahead_for_a_single_test(project: CopiedStack) -> None:
    import os

    from devenv.console import Console
    from devenv.data import golden, lifetimes
    from devenv.data.clonepool import ClonePool
    from devenv.engine.context import attach
    from devenv.model.resolve import load_stack

    project.ok("up")
    ctx = attach(load_stack(project.manifest), Console(quiet=True))
    svc = ctx.stack.services["auth"]
    assert svc.server is not None
    admin, lifetime = lifetimes.connect(ctx, ctx.stack.servers[svc.server])
    admin.close()
    pool = ClonePool(ctx, tag="single", owner=f"pytest-{os.getpid()}", depth=4)
    try:
        name = pool.take(svc, golden.ensure_template(ctx, svc, say=False), lifetime)
        # take() queues clones ahead synchronously: none queued means none will appear.
        assert not pool._ahead.get(svc.name)
        assert [c for c in clones_left(project) if "_single_c" in c] == [name]
        pool.drop(svc, name)
    finally:
        assert pool.close() == []
    assert [c for c in clones_left(project) if "_single_c" in c] == []


def running_servers(project: CopiedStack) -> set[str]:
    out = subprocess.run(["docker", "ps", "--filter", f"label=dev.devenv.project={project.project}",
                          "--format", '{{.Label "dev.devenv.server"}}'],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_devenv_down_stops_only_a_stack_the_run_used(
        project: CopiedStack, run: Any, pytester: pytest.Pytester) -> None:
    """`--devenv-down` after a run that used no devenv fixture leaves the stack alone (it was
    not this run's to stop); after a run that used one, under xdist too, it stops it."""
    project.ok("up")
    plain = project.root / "tests" / "test_plain_down.py"
    plain.write_text("def test_plain():\n    assert True\n")
    try:
        result, _ = run("--devenv-down", str(plain))
        result.assert_outcomes(passed=1)
        assert running_servers(project) == {"auth-db", "redis"}, "a run with no fixture stopped it"
        result, _ = run("--devenv-down", "-n", "2",
                        "tests/test_accounts.py::test_seeded_roles_are_there")
        result.assert_outcomes(passed=1)
        assert running_servers(project) == set()
    finally:
        plain.unlink()
