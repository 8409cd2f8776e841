"""Per-test cost of a fresh database: the pytest plugin's clone against replaying the files.

    python bench/fixture.py [--clones 100] [--rounds 3] [--replays 5] [--work-ms 0]
                            [--storage both|volume|tmpfs] [--keep]

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
suite figure is the wall time of --clones tests. Issue 19's goal: the volume suite <= 1.2x the
tmpfs one, per-test setup p90 < 30 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
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
from tests.integration.stacks import CAPSULE, copy_example  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clones", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--replays", type=int, default=5)
    parser.add_argument("--work-ms", type=int, default=0)
    parser.add_argument("--storage", choices=("both", "volume", "tmpfs"), default="both")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    storages = ("volume", "tmpfs") if args.storage == "both" else (args.storage,)
    stacks = [copy_example(CAPSULE, Path(tempfile.mkdtemp(prefix="bench-fixture-")),
                           prefix=f"bench-fixture-{storage}", edit=auth_only(storage))
              for storage in storages]
    try:
        bench = {}
        for storage, stack in zip(storages, stacks, strict=True):
            print(f"project {stack.project} in {stack.root}, auth-db storage: {storage}",
                  flush=True)
            result = stack.devenv("up")
            if result.code != 0:
                raise SystemExit(result.explain())
            bench[storage] = Bench(attach(load_stack(stack.manifest), Console(quiet=True)),
                                   args.clones, args.work_ms)
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
        print()
        print(f"{args.clones} tests (connect + one SELECT + {args.work_ms} ms of work), "
              f"{args.rounds} interleaved rounds; suite = wall time of the tests, median (range)")
        for (name, storage), walls in suites.items():
            ms = setups[(name, storage)]
            print(f"{name:<24} {storage:<7} suite {statistics.median(walls):6.2f} s "
                  f"({min(walls):.2f}-{max(walls):.2f})   setup p90 "
                  f"{statistics.quantiles(ms, n=10)[-1]:6.1f} ms   median "
                  f"{statistics.median(ms):6.1f} ms   max {max(ms):6.1f} ms")
        if "pytest-postgresql 10" not in {n for n, _ in suites}:
            print("pytest-postgresql: not installed (pip install pytest-postgresql), skipped")
        if len(storages) == 2:
            key = "plugin (prefetch 4)"
            ratios = [v / t for v, t in zip(suites[(key, "volume")], suites[(key, "tmpfs")],
                                            strict=True)]
            p90 = statistics.quantiles(setups[(key, "volume")], n=10)[-1]
            print(f"volume / tmpfs suite, per round: {', '.join(f'{r:.2f}x' for r in ratios)} "
                  f"(goal <= 1.2x every round: {'met' if max(ratios) <= 1.2 else 'NOT met'}); "
                  f"volume setup p90 {p90:.1f} ms (goal < 30 ms: "
                  f"{'met' if p90 < 30 else 'NOT met'})")
        first = bench[storages[0]]
        replay = first.replay(args.replays)
        print(line(f"replay migrations + seeds ({storages[0]})", replay))
        left = sum(len(clones.list_clones(b.ctx)) for b in bench.values())
        print(f"clones left after the run: {left}")
    finally:
        if not args.keep:
            for stack in stacks:
                stack.teardown()


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
