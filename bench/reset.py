"""How fast `devenv reset auth` is, against the naive way, on a copy of the capsule stack.

    python bench/reset.py [--runs 7] [--hard-runs 3] [--naive-runs 3] [--keep]

auth has 25 migrations and 10 seed files. Measured, on a copy with a unique project name and
free ports (torn down at the end unless --keep):
  cli     `devenv reset auth` as a subprocess, handed to the standby the previous reset left
          (devenv/data/standbyd.py: imports warm, a child forked per reset; it runs the
          template check, PgBouncer KILL/RESUME,
          DROP + RENAME of the spare it made, grants, Redis SCAN), spare ready: a developer's
          pace, from the second reset on
  cold    the same with DEVENV_STANDBY=0: the CLI does it all itself (interpreter start,
          imports), as the first reset after `up` does
  burst   the standby path back to back, the refill of one reset still running during the
          next (a reset that finds no spare clones, as before spares existed)
  db      devenv.data.reset.reset_database(ctx, svc) in-process (the database part alone), spare
          ready; `db-clone` the same with no spare (CREATE DATABASE ... TEMPLATE)
  hard    `devenv reset auth --hard` (drop, provision, migrate and seed from the files)
  naive   remove auth-db's container and volume, `docker compose up -d auth-db`, poll until the
          server answers, then auth's role + database (devenv's provisioning, in-process),
          `devenv migrate auth`
  replica the CLI and db figures again on a second copy whose auth-db has `replicas: 1`
          (a reset returns once the replica replayed it), interleaved run by run with the
          copy without one: what a replica adds to a reset (skip with --no-replica)
Targets from the issue: cli < 700 ms, db < 100 ms, naive/cli >= 10x.
"""

from __future__ import annotations

import argparse
import compileall
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

from bench.settle import settle  # noqa: E402
from devenv.console import Console  # noqa: E402
from devenv.data import golden, reset, spares  # noqa: E402
from devenv.engine import probes, provision  # noqa: E402
from devenv.engine.context import Context, attach  # noqa: E402
from devenv.model.resolve import load_stack  # noqa: E402
from devenv.model.stack import ServiceSpec  # noqa: E402
from tests.integration.stacks import CAPSULE, CopiedStack, copy_example  # noqa: E402


def timed(fn: Callable[[], None], runs: int,
          before: Callable[[], None] | None = None) -> list[float]:
    out = []
    for _ in range(runs):
        if before is not None:
            before()
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def line(name: str, ms: list[float]) -> str:
    return (f"{name:<40} n={len(ms):<3} min {min(ms):8.1f} ms   median "
            f"{statistics.median(ms):8.1f} ms   max {max(ms):8.1f} ms")


def must(stack: CopiedStack, *args: str, env: dict[str, str] | None = None) -> None:
    result = stack.devenv(*args, env=env)
    if result.code != 0:
        raise SystemExit(f"devenv {' '.join(args)} failed:\n{result.explain()}")


def standby_up(stack: CopiedStack) -> None:
    """Make sure the standby listens (not timed): one reset starts it if none does."""
    sock = stack.root / ".devenv" / "standby.sock"
    if not sock.exists():
        must(stack, "reset", "auth")
    deadline = time.monotonic() + 60
    while not sock.exists():
        if time.monotonic() > deadline:
            raise SystemExit("no standby after 60 s; see .devenv/spares.log")
        time.sleep(0.05)


def _replica_on_auth(manifest: dict[str, Any]) -> None:
    manifest["servers"]["auth-db"]["replicas"] = 1


def with_replica(plain: CopiedStack, plain_ctx: Context,
                 runs: int) -> dict[str, tuple[list[float], list[float]]]:
    """CLI and in-process resets of auth with and without a replica, run by run in turn."""
    other = copy_example(CAPSULE, Path(tempfile.mkdtemp(prefix="bench-reset-replica-")),
                         prefix="bench-reset-replica", edit=_replica_on_auth)
    try:
        must(other, "up")
        for _ in range(4):
            must(other, "reset", "auth")  # template, standby and warm-up: not measured
        ctx = attach(load_stack(other.manifest), Console(quiet=True))
        standby_up(other)
        standby_up(plain)
        out: dict[str, tuple[list[float], list[float]]] = {
            "devenv reset auth (CLI)": ([], []), "reset_database (in-process)": ([], [])}
        for _ in range(runs):
            for i, (stack, c) in enumerate(((plain, plain_ctx), (other, ctx))):
                svc = c.stack.services["auth"]
                _spare_ready(c, svc)
                out["devenv reset auth (CLI)"][i].extend(
                    timed(lambda s=stack: must(s, "reset", "auth"), 1))  # type: ignore[misc]
                _spare_ready(c, svc)
                # with a replica it returns once the replica replayed the reset
                out["reset_database (in-process)"][i].extend(timed(
                    lambda c=c, svc=svc: reset.reset_database(c, svc), 1))  # type: ignore[misc]
        return out
    finally:
        other.teardown()


def _spare_ready(ctx: Context, svc: ServiceSpec) -> None:
    with golden.admin_session(ctx, svc) as conn:
        spares.make(conn, ctx, svc, golden.ensure_template(ctx, svc, conn=conn))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--hard-runs", type=int, default=3)
    parser.add_argument("--naive-runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--no-replica", action="store_true",
                        help="skip the side-by-side with a replica")
    args = parser.parse_args()

    # pip writes bytecode when it installs devenv; an editable install writes it on first
    # import, unless PYTHONDONTWRITEBYTECODE is set (it is on this machine): do it once.
    compileall.compile_dir(str(REPO / "devenv"), quiet=1)
    stack = copy_example(CAPSULE, Path(tempfile.mkdtemp(prefix="bench-reset-")),
                         prefix="bench-reset")
    try:
        print(f"project {stack.project} in {stack.root}", flush=True)
        started = time.perf_counter()
        must(stack, "up")
        print(f"devenv up (cold): {time.perf_counter() - started:.1f} s", flush=True)
        must(stack, "reset", "auth")  # builds the template once: not what is measured
        ctx = attach(load_stack(stack.manifest), Console(quiet=True))
        svc = ctx.stack.services["auth"]
        settle(ctx)
        for _ in range(3):
            must(stack, "reset", "auth")  # warm-up, not measured

        def spare_ready() -> None:
            """Wait (not timed) until the background refill has made auth's next spare."""
            with golden.admin_session(ctx, svc) as conn:
                template = golden.ensure_template(ctx, svc, conn=conn)
                spares.make(conn, ctx, svc, template)  # a no-op once the refill made it

        cold = timed(lambda: must(stack, "reset", "auth", env={"DEVENV_STANDBY": "0"}),
                     args.runs, before=spare_ready)
        standby_up(stack)
        cli = timed(lambda: must(stack, "reset", "auth"), args.runs, before=spare_ready)
        burst = timed(lambda: must(stack, "reset", "auth"), args.runs)

        spare_ready()
        reset.reset_database(ctx, svc)  # warm imports and connections' first use
        db = timed(lambda: reset.reset_database(ctx, svc), max(args.runs, 15),
                   before=spare_ready)

        def no_spare() -> None:
            with golden.admin_session(ctx, svc) as conn:
                golden.drop_marked(conn, f"{golden.SPARE_MARK}{svc.name}:")

        db_clone = timed(lambda: reset.reset_database(ctx, svc), max(args.runs, 15),
                         before=no_spare)

        hard = timed(lambda: must(stack, "reset", "auth", "--hard"), args.hard_runs)

        def naive() -> None:
            ids = stack.containers()
            subprocess.run(["docker", "rm", "-f", "-v", ids["auth-db"]], check=True,
                           capture_output=True)
            volumes = [v for v in stack.volumes() if "auth-db" in v]
            if volumes:
                subprocess.run(["docker", "volume", "rm", "-f", *volumes], check=True,
                               capture_output=True)
            # No --wait: it would wait for a healthcheck interval (5 s); polling the server
            # directly is the fastest a script can do.
            up = stack.compose("up", "-d", "auth-db")
            if up.code != 0:
                raise SystemExit(f"compose up failed:\n{up.explain()}")
            # A fresh volume: the image's entrypoint made the admin only. Make auth's role and
            # database (what a naive script must do too; devenv's provisioning, in-process),
            # then migrations + seeds with `devenv migrate auth`. Not `devenv up auth`: its
            # credential probe through PgBouncer hits PgBouncer's cached login failure
            # (server_login_retry) from before the role existed, and fails.
            server = ctx.stack.servers["auth-db"]
            probes.retry_until(time.monotonic() + 60, lambda: ctx.admin_connect(server).close())
            provision.reconcile_server(ctx, server)
            must(stack, "migrate", "auth")

        naive_ms = timed(naive, args.naive_runs)
        must(stack, "up")  # leave it healthy (not measured)
        replica = None if args.no_replica else with_replica(stack, ctx, args.runs)

        print()
        print(line("devenv reset auth (CLI)", cli))
        print(line("  no standby (cold)", cold))
        print(line("  back to back (burst)", burst))
        print(line("reset_database (in-process)", db))
        print(line("  without a spare (clone)", db_clone))
        print(line("devenv reset auth --hard", hard))
        print(line("naive (recreate + migrate)", naive_ms))
        med = {k: statistics.median(v) for k, v in
               (("cli", cli), ("cold", cold), ("db", db), ("hard", hard), ("naive", naive_ms))}
        print()
        print(f"naive / cli   {med['naive'] / med['cli']:6.1f}x  (target >= 10x)")
        print(f"naive / cold  {med['naive'] / med['cold']:6.1f}x  (the first reset after `up`)")
        print(f"naive / db    {med['naive'] / med['db']:6.1f}x")
        print(f"hard / cli    {med['hard'] / med['cli']:6.1f}x")
        print(f"cli median {med['cli']:.0f} ms (target < 700 ms): "
              f"{'met' if med['cli'] < 700 else 'NOT met'}")
        print(f"db  median {med['db']:.1f} ms (target < 100 ms): "
              f"{'met' if med['db'] < 100 else 'NOT met'}")
        print(f"ratio naive/cli {med['naive'] / med['cli']:.1f}x (target >= 10x): "
              f"{'met' if med['naive'] / med['cli'] >= 10 else 'NOT met'}")
        if replica is not None:
            print()
            print("with a replica, interleaved with the copy without one (same run):")
            for name, (plain, replicated) in replica.items():
                print(line(f"{name}, no replica", plain))
                print(line(f"{name}, 1 replica", replicated))
                print(f"  {name}: 1 replica / none  "
                      f"{statistics.median(replicated) / statistics.median(plain):5.2f}x")
    finally:
        if not args.keep:
            stack.teardown()


if __name__ == "__main__":
    main()
