"""Per-test cost of a fresh database: the pytest plugin's clone against replaying the files.

    python bench/fixture.py [--runs 1] [--clones 100] [--rounds 3] [--replays 5]
                            [--work-ms 0] [--storage both|volume|tmpfs] [--keep]

On a copy of the capsule stack trimmed to auth (auth-db + Redis; 25 migrations, 10 seed
files), with a unique project name and free ports (torn down at the end unless --keep), 100
"tests" each connect to their database as auth's role and read a seeded table (plus
--work-ms of sleep, for a test that does more). `--storage tmpfs` puts auth-db's data in
memory (`storage: tmpfs`, as for CI). Per test, the time the fixture adds:
  plugin     DevenvStack.clone("auth") + .drop() as devenv_db calls them: clones made ahead on
             a pool (devenv_prefetch = 4), drops done behind the next test
  on demand  the same with devenv_prefetch = 0: CREATE DATABASE ... TEMPLATE, comment, grants,
             DROP ... WITH (FORCE), all while the test waits (the raw cost of a clone)
  replay     what a suite without templates does per test: CREATE DATABASE (empty),
             extensions, every migration and seed file, DROP
  pytest-postgresql  its DatabaseJanitor (version 10: CREATE DATABASE ... TEMPLATE per test,
             then DROP) against the same server and template, as a reference, when installed
             (`pip install pytest-postgresql` for the bench only: its pytest plugin imports
             psycopg in every pytest run, which devenv's plugin tests forbid)
By default two stacks run side by side, `storage: volume` (the developer's default: data on a
volume, clones in the in-memory tablespace) and `storage: tmpfs`, in interleaved rounds; the
suite figure is the wall time of --clones tests, printed side by side.
Cold start: a third copy (auth only, storage: volume) after `devenv down --volumes`, the user's
`pytest` with one test asking for `devenv_db`; the figure is that test's setup (the plugin's
whole share: imports, `up` of auth's servers, template build, first clone), beside the
process's wall time. `--runs 5` repeats all of it (stacks kept warm between runs, the cold one
taken down again) and says whether each goal held in every run.
Issue 19's goals: the volume suite <= 1.2x the tmpfs one (median of the rounds' ratios),
per-test setup p90 < 30 ms on the volume stack, cold start <= 2.5 s.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from bench.settle import settle  # noqa: E402
from devenv.console import Console  # noqa: E402
from devenv.data import clones, golden  # noqa: E402
from devenv.data.testing import DevenvStack  # noqa: E402
from devenv.engine.context import Context, attach  # noqa: E402
from devenv.engine.migrate import migrate_service  # noqa: E402
from devenv.model import facts  # noqa: E402
from devenv.model.resolve import load_stack  # noqa: E402
from tests.integration.stacks import CAPSULE, CopiedStack, Result, copy_example  # noqa: E402


def auth_only(storage: str) -> Callable[[dict[str, Any]], None]:
    def edit(manifest: dict[str, Any]) -> None:
        manifest["servers"] = {k: v for k, v in manifest["servers"].items()
                               if k in ("auth-db", "redis")}
        manifest["servers"]["auth-db"]["storage"] = storage
        auth = dict(manifest["services"]["auth"])
        auth.pop("pgbouncer", None)
        manifest["services"] = {"auth": auth}
    return edit


def line(name: str, ms: list[float]) -> str:
    """The mean is what a suite pays per test; the median hides a made-ahead pool's sawtooth."""
    return (f"{name:<34} n={len(ms):<4} mean {statistics.fmean(ms):7.1f} ms   median "
            f"{statistics.median(ms):7.1f} ms   p90 {statistics.quantiles(ms, n=10)[-1]:7.1f} ms"
            f"   max {max(ms):7.1f} ms")


COLD_TEST = """
def test_first(devenv_db):
    assert devenv_db.conn.execute("SELECT count(*) FROM users").fetchone()[0] > 0
"""
GOALS = "volume/tmpfs suite <= 1.2x, volume setup p90 < 30 ms, cold start <= 2.5 s"


def cold_start(stack: CopiedStack) -> tuple[float, float]:
    """(first test's setup, whole pytest run) in seconds, from no container and no volume.

    The user's own `pytest` in the project folder with one test asking for `devenv_db`: its
    setup (pytest --durations) is the plugin's whole share, from loading psycopg and the engine
    through `up` of auth's servers (initdb, provisioning, migrations) and the template build
    to the first clone; the wall time adds Python's and pytest's own start.
    """
    must(stack.devenv("down", "--volumes", "--yes"), "down --volumes")
    (stack.root / "tests").mkdir(exist_ok=True)
    (stack.root / "tests" / "test_cold.py").write_text(COLD_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVENV_", "PYTEST_"))}
    started = time.perf_counter()
    # -p no:pytest_postgresql: installed for the reference, its plugin would load psycopg at
    # pytest's start, outside the setup measured here
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "-p", "no:pytest_postgresql", "--durations=0",
                           "--durations-min=0", "tests/test_cold.py"], cwd=stack.root, env=env,
                          capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - started
    setup = re.search(r"([0-9.]+)s setup\s+tests/test_cold.py::test_first", done.stdout)
    if done.returncode != 0 or setup is None:
        raise SystemExit(f"cold start failed:\n{done.stdout}\n{done.stderr}")
    must(stack.devenv("down", "--volumes", "--yes"), "down --volumes")  # idle while measuring
    return float(setup.group(1)), wall


def must(result: Result, what: str) -> Result:
    if result.code != 0:
        raise SystemExit(f"{what} failed: {result.explain()}")
    return result


def p90(ms: list[float]) -> float:
    return statistics.quantiles(ms, n=10)[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clones", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=1,
                        help="repeat the whole comparison (cold start included), e.g. 5")
    parser.add_argument("--replays", type=int, default=5)
    parser.add_argument("--work-ms", type=int, default=0)
    parser.add_argument("--storage", choices=("both", "volume", "tmpfs"), default="both")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    storages = ("volume", "tmpfs") if args.storage == "both" else (args.storage,)
    stacks = [copy_example(CAPSULE, Path(tempfile.mkdtemp(prefix="bench-fixture-")),
                           prefix=f"bench-fixture-{storage}", edit=auth_only(storage))
              for storage in storages]
    cold = copy_example(CAPSULE, Path(tempfile.mkdtemp(prefix="bench-fixture-")),
                        prefix="bench-fixture-cold", edit=auth_only("volume"))
    try:
        print(f"cold-start project {cold.project} in {cold.root}", flush=True)
        must(cold.devenv("up"), "up")  # .devenv/ made (passwords, ports), as in a checkout
        must(cold.devenv("down", "--volumes", "--yes"), "down --volumes")
        bench = {}
        for storage, stack in zip(storages, stacks, strict=True):
            print(f"project {stack.project} in {stack.root}, auth-db storage: {storage}",
                  flush=True)
            must(stack.devenv("up"), "up")
            bench[storage] = Bench(attach(load_stack(stack.manifest), Console(quiet=True)),
                                   args.clones, args.work_ms)
        held: list[dict[str, bool]] = []
        for run in range(args.runs):
            print(f"\n=== run {run + 1} of {args.runs}", flush=True)
            held.append(one_run(bench, storages, cold, args))
        if args.runs > 1 and held and all(held[0]):
            print(f"\nover {args.runs} runs ({GOALS}):")
            for goal in held[0]:
                every = all(h.get(goal, False) for h in held)
                print(f"  {goal:<28} {'held in every run' if every else 'NOT held in every run'}"
                      f" ({sum(h.get(goal, False) for h in held)} of {args.runs})")
        first = bench[storages[0]]
        print(line(f"replay migrations + seeds ({storages[0]})", first.replay(args.replays)))
        left = sum(len(clones.list_clones(b.ctx)) for b in bench.values())
        print(f"clones left after the run: {left}")
    finally:
        if not args.keep:
            for stack in [*stacks, cold]:
                stack.teardown()


def one_run(bench: dict[str, Bench], storages: tuple[str, ...], cold: CopiedStack,
            args: argparse.Namespace) -> dict[str, bool]:
    """One whole comparison, printed; whether each goal held in it."""
    held: dict[str, bool] = {}
    setup_s, wall_s = cold_start(cold)
    held["cold start <= 2.5 s"] = setup_s <= 2.5
    suites: dict[tuple[str, str], list[float]] = {}
    setups: dict[tuple[str, str], list[float]] = {}
    for rnd in range(args.rounds):
        order = storages if rnd % 2 == 0 else storages[::-1]
        for storage in order:
            for name, run in (("plugin (prefetch 4)", lambda b: b.suite(4)),
                              ("on demand (prefetch 0)", lambda b: b.suite(0)),
                              ("pytest-postgresql 10", lambda b: b.janitor())):
                measured = run(bench[storage])
                if measured is None:
                    continue
                wall, setup = measured
                suites.setdefault((name, storage), []).append(wall)
                setups.setdefault((name, storage), []).extend(setup)
        print(f"round {rnd + 1} done", flush=True)
    print(f"{args.clones} tests (connect + one SELECT + {args.work_ms} ms of work), "
          f"{args.rounds} interleaved rounds; suite = wall time of the tests, median (range)")
    print(f"{'fixture':<24} {'volume':<36} {'tmpfs':<36}")
    for name in dict.fromkeys(n for n, _ in suites):
        cells = []
        for storage in ("volume", "tmpfs"):
            walls, ms = suites.get((name, storage)), setups.get((name, storage))
            cells.append("-" if not walls or not ms else
                         f"suite {statistics.median(walls):5.2f} s, setup p90 {p90(ms):5.1f} ms")
        print(f"{name:<24} {cells[0]:<36} {cells[1]:<36}")
    if "pytest-postgresql 10" not in {n for n, _ in suites}:
        print("pytest-postgresql: not importable (pip install pytest-postgresql), skipped")
    key = "plugin (prefetch 4)"
    if len(storages) == 2:
        ratios = [v / t for v, t in zip(suites[(key, "volume")], suites[(key, "tmpfs")],
                                        strict=True)]
        ratio = statistics.median(ratios)
        held["volume/tmpfs suite <= 1.2x"] = ratio <= 1.2
        print(f"volume / tmpfs suite: {ratio:.2f}x (rounds: "
              f"{', '.join(f'{r:.2f}x' for r in ratios)}; goal <= 1.2x: "
              f"{'met' if ratio <= 1.2 else 'NOT met'})")
    if "volume" in storages:
        volume_p90 = p90(setups[(key, "volume")])
        held["volume setup p90 < 30 ms"] = volume_p90 < 30
        print(f"volume setup p90 {volume_p90:.1f} ms (goal < 30 ms: "
              f"{'met' if volume_p90 < 30 else 'NOT met'})")
    print(f"cold start, no container and no volume -> first test's database: {setup_s:.2f} s "
          f"(goal <= 2.5 s: {'met' if setup_s <= 2.5 else 'NOT met'}); the whole pytest "
          f"process {wall_s:.2f} s")
    return held


class Bench:
    """One stack's measurements: the plugin's fixture, pytest-postgresql's, a replay."""

    def __init__(self, ctx: Context, tests: int, work_ms: int) -> None:
        self.ctx, self.tests, self.work_ms = ctx, tests, work_ms
        self.svc = ctx.stack.services["auth"]
        setup = DevenvStack.running(ctx, f"pytest-{os.getpid()}", "bench", prefetch=0)
        setup.drop("auth", setup.clone("auth"))  # the template is built once per run
        self.template = setup.templates["auth"]
        settle(ctx)  # then warm up with a few clones
        for _ in range(10):
            setup.drop("auth", setup.clone("auth"))
        setup.close()

    def _test(self, name: str) -> None:
        url = facts.env_vars(self.ctx.stack, self.svc, self.ctx.secrets, self.ctx.ports,
                             database=name)["DATABASE_URL"]
        with psycopg.connect(url) as conn:
            conn.execute("SELECT count(*) FROM users").fetchone()
        time.sleep(self.work_ms / 1000)

    def suite(self, prefetch: int) -> tuple[float, list[float]]:
        """(wall time of the tests, each test's setup in ms) with the plugin's fixture."""
        handle = DevenvStack.running(self.ctx, f"pytest-{os.getpid()}", "bench", prefetch=prefetch)
        setup_ms = []
        started = time.perf_counter()
        for _ in range(self.tests):
            before = time.perf_counter()
            name = handle.clone("auth")
            setup_ms.append((time.perf_counter() - before) * 1000)
            self._test(name)
            handle.drop("auth", name)
        wall = time.perf_counter() - started
        problems = handle.close()
        assert not problems, problems
        return wall, setup_ms

    def janitor(self) -> tuple[float, list[float]] | None:
        """pytest-postgresql's template-per-test fixture (its DatabaseJanitor) on this server."""
        try:
            from pytest_postgresql.janitor import DatabaseJanitor  # optional: a reference only
        except ImportError:
            return None
        server = self.ctx.stack.servers["auth-db"]
        port = facts.port_of(server, self.ctx.ports)
        password = self.ctx.secrets.get(server.name, "postgres")
        with psycopg.connect(self.ctx.admin_url(server), autocommit=True) as admin:
            # its janitor connects to the template; ours refuses connections
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(
                sql.Identifier(self.template)))
            try:
                setup_ms = []
                started = time.perf_counter()
                for i in range(self.tests):
                    janitor = DatabaseJanitor(
                        user="postgres", host="127.0.0.1", port=port,
                        dbname=f"auth_ppg_{i}", template_dbname=self.template,
                        password=password)
                    before = time.perf_counter()
                    janitor.init()
                    setup_ms.append((time.perf_counter() - before) * 1000)
                    with psycopg.connect(self.ctx.admin_url(server, f"auth_ppg_{i}")) as conn:
                        conn.execute("SELECT count(*) FROM users").fetchone()
                    time.sleep(self.work_ms / 1000)
                    janitor.drop()
                return time.perf_counter() - started, setup_ms
            finally:
                admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(
                    sql.Identifier(self.template)))

    def replay(self, count: int) -> list[float]:
        svc, ctx = self.svc, self.ctx
        assert svc.server is not None and svc.role is not None
        replay_ms = []
        with psycopg.connect(ctx.admin_url(ctx.stack.servers[svc.server]),
                             autocommit=True) as admin:
            for i in range(count):
                name = f"auth_replay_{i}"
                ident = sql.Identifier(name)
                started = time.perf_counter()
                admin.execute(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                    ident, sql.Identifier(svc.role)))
                golden._extensions(ctx, svc, name)
                migrate_service(ctx, svc, database=name, quiet=True)
                admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(ident))
                replay_ms.append((time.perf_counter() - started) * 1000)
        return replay_ms


if __name__ == "__main__":
    main()
