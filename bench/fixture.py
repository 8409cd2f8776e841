"""Per-test cost of a fresh database: the pytest plugin's clone against replaying the files.

    python bench/fixture.py [--clones 100] [--replays 5] [--work-ms 0] [--storage volume|tmpfs]
                            [--keep]

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
Target from the issue: median < 60 ms per test.
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
from devenv.engine.context import attach  # noqa: E402
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
    parser.add_argument("--replays", type=int, default=5)
    parser.add_argument("--work-ms", type=int, default=0)
    parser.add_argument("--storage", choices=("volume", "tmpfs"), default="volume")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    stack = copy_example(CAPSULE, Path(tempfile.mkdtemp(prefix="bench-fixture-")),
                         prefix="bench-fixture", edit=auth_only(args.storage))
    try:
        print(f"project {stack.project} in {stack.root}, auth-db storage: {args.storage}",
              flush=True)
        result = stack.devenv("up")
        if result.code != 0:
            raise SystemExit(result.explain())
        ctx = attach(load_stack(stack.manifest), Console(quiet=True))
        svc = ctx.stack.services["auth"]

        setup = DevenvStack(ctx, f"pytest-{os.getpid()}", "bench", prefetch=0)
        setup.drop("auth", setup.clone("auth"))  # the template is built once per run
        settle(ctx)  # then warm up with a few clones
        for _ in range(10):
            setup.drop("auth", setup.clone("auth"))
        setup.close()

        def suite(prefetch: int) -> tuple[list[float], list[float], list[float]]:
            """Per test: the fixture's whole cost, its setup part, its teardown part."""
            handle = DevenvStack(ctx, f"pytest-{os.getpid()}", "bench", prefetch=prefetch)
            total, made_ms, dropped_ms = [], [], []
            for _ in range(args.clones):
                started = time.perf_counter()
                name = handle.clone("auth")
                made = time.perf_counter()
                url = facts.env_vars(ctx.stack, svc, ctx.secrets, ctx.ports,
                                     database=name)["DATABASE_URL"]
                with psycopg.connect(url) as conn:  # the test itself: not counted
                    conn.execute("SELECT count(*) FROM users").fetchone()
                time.sleep(args.work_ms / 1000)
                tested = time.perf_counter()
                handle.drop("auth", name)
                done = time.perf_counter()
                made_ms.append((made - started) * 1000)
                dropped_ms.append((done - tested) * 1000)
                total.append(made_ms[-1] + dropped_ms[-1])
            problems = handle.close()
            assert not problems, problems
            return total, made_ms, dropped_ms

        clone_ms, create_ms, drop_ms = suite(4)
        raw_ms, raw_create_ms, raw_drop_ms = suite(0)

        assert svc.server is not None and svc.role is not None
        admin_url = ctx.admin_url(ctx.stack.servers[svc.server])
        replay_ms = []
        with psycopg.connect(admin_url, autocommit=True) as admin:
            for i in range(args.replays):
                name = f"auth_replay_{i}"
                ident = sql.Identifier(name)
                started = time.perf_counter()
                admin.execute(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                    ident, sql.Identifier(svc.role)))
                golden._extensions(ctx, svc, name)
                migrate_service(ctx, svc, database=name, quiet=True)
                admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(ident))
                replay_ms.append((time.perf_counter() - started) * 1000)

        print()
        print(f"tests: connect + one SELECT + {args.work_ms} ms of work")
        print(line("plugin (prefetch 4), per test", clone_ms))
        print(line("  setup (take a made clone)", create_ms))
        print(line("  teardown (queue the drop)", drop_ms))
        print(line("on demand (prefetch 0), per test", raw_ms))
        print(line("  setup (clone)", raw_create_ms))
        print(line("  teardown (drop)", raw_drop_ms))
        print(line("replay migrations + seeds + drop", replay_ms))
        med, mean = statistics.median(clone_ms), statistics.fmean(clone_ms)
        replay = statistics.fmean(replay_ms)
        print()
        print(f"replay / plugin    {replay / mean:6.1f}x (means)")
        print(f"replay / on demand {replay / statistics.fmean(raw_ms):6.1f}x (means)")
        print(f"plugin median {med:.1f} ms per test (target < 60 ms): "
              f"{'met' if med < 60 else 'NOT met'}; mean {mean:.1f} ms "
              f"({'met' if mean < 60 else 'NOT met'})")
        left = clones.list_clones(ctx)
        print(f"clones left after the run: {len(left)}")
    finally:
        if not args.keep:
            stack.teardown()


if __name__ == "__main__":
    main()
