"""Benchmark: `devenv up` against plain `docker compose up -d --wait` on the capsule stack.

Run with `python bench/up.py [--runs N]` (a Docker engine and the stack's images needed; no
registry). It copies the repo's devenv.yaml (4 PostgreSQL/TimescaleDB servers, Redis,
PgBouncer) into a temporary folder with its own project name and free ports, and measures, in
the same run and interleaved so that drift of the machine hits both sides alike:

1. cold: `devenv up --no-migrate` after `devenv down --volumes --yes`, against
   `docker compose -f compose/compose.yaml --env-file .devenv/compose.env up -d --wait` after
   `docker compose ... down -v` (compose starts the containers and waits for health; devenv
   also waits for each server to answer, provisions roles/databases/extensions and checks
   every service's credentials);
2. warm (everything already up, nothing to do): `devenv up` (and `devenv up --no-migrate`)
   against the same `docker compose ... up -d --wait`;
3. `devenv --help` wall time (median of 10).

Every number is the wall-clock time of the whole subprocess (Python start included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.stacks import (  # noqa: E402
    CAPSULE,
    CopiedStack,
    Result,
    copy_example,
)

COMPOSE_UP = ("up", "-d", "--wait")


def timed(call: Callable[[], Result], what: str) -> float:
    started = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - started
    if result.code != 0:
        raise SystemExit(f"{what} failed: {result.explain()}")
    return seconds


def must(result: Result, what: str) -> Result:
    if result.code != 0:
        raise SystemExit(f"{what} failed: {result.explain()}")
    return result


def ids_and_starts(stack: CopiedStack) -> list[str]:
    ids = sorted(stack.containers().values())
    out = subprocess.run(["docker", "inspect", "-f", "{{.Id}} {{.State.StartedAt}}", *ids],
                         capture_output=True, text=True, check=True).stdout
    return sorted(out.splitlines())


def row(name: str, samples: list[float]) -> tuple[str, float, float]:
    return name, min(samples), statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each measurement (>= 5)")
    args = parser.parse_args()
    runs = max(5, args.runs)
    devenv_bin = Path(sys.executable).parent / "devenv"
    help_cmd = [str(devenv_bin)] if devenv_bin.exists() else [sys.executable, "-m", "devenv.cli"]

    with tempfile.TemporaryDirectory(prefix="devenv-bench-up-") as tmp:
        stack = copy_example(CAPSULE, Path(tmp) / "capsule", prefix="bench-up")
        try:
            print(f"project {stack.project} in {stack.root}; {runs} runs each; load average "
                  f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
            must(stack.devenv("up", "--no-migrate"), "first devenv up")  # files and secrets

            cold_devenv: list[float] = []
            cold_compose: list[float] = []
            for i in range(runs):
                must(stack.devenv("down", "--volumes", "--yes"), "devenv down --volumes")
                cold_devenv.append(timed(lambda: stack.devenv("up", "--no-migrate"),
                                         "cold devenv up --no-migrate"))
                must(stack.compose("down", "-v"), "compose down -v")
                cold_compose.append(timed(lambda: stack.compose(*COMPOSE_UP), "cold compose up"))
                print(f"  cold run {i + 1}: devenv {cold_devenv[-1]:.2f}s, "
                      f"compose {cold_compose[-1]:.2f}s", flush=True)

            # Warm: a complete devenv up (migrations and seeds applied) first.
            must(stack.devenv("down", "--volumes", "--yes"), "devenv down --volumes")
            must(stack.devenv("up"), "full devenv up")
            before = ids_and_starts(stack)
            warm_devenv: list[float] = []
            warm_devenv_nm: list[float] = []
            warm_compose: list[float] = []
            for i in range(runs):
                warm_devenv.append(timed(lambda: stack.devenv("up"), "warm devenv up"))
                warm_devenv_nm.append(timed(lambda: stack.devenv("up", "--no-migrate"),
                                            "warm devenv up --no-migrate"))
                warm_compose.append(timed(lambda: stack.compose(*COMPOSE_UP), "warm compose up"))
                print(f"  warm run {i + 1}: devenv {warm_devenv[-1]:.2f}s, --no-migrate "
                      f"{warm_devenv_nm[-1]:.2f}s, compose {warm_compose[-1]:.2f}s", flush=True)
            restarted = ids_and_starts(stack) != before
        finally:
            stack.teardown()

    helps: list[float] = []
    for _ in range(10):
        started = time.perf_counter()
        subprocess.run([*help_cmd, "--help"], capture_output=True, check=True)
        helps.append(time.perf_counter() - started)

    print()
    print(f"{'measurement':<40}{'min':>9}{'median':>9}")
    rows = [
        row("cold devenv up --no-migrate", cold_devenv),
        row("cold docker compose up -d --wait", cold_compose),
        row("warm devenv up", warm_devenv),
        row("warm devenv up --no-migrate", warm_devenv_nm),
        row("warm docker compose up -d --wait", warm_compose),
        row(f"{Path(help_cmd[-1]).name} --help (10 runs)", helps),
    ]
    for name, low, mid in rows:
        print(f"{name:<40}{low:>8.2f}s{mid:>8.2f}s")
    print()
    med = statistics.median
    print(f"ratio devenv/compose, cold (median): {med(cold_devenv) / med(cold_compose):.2f}")
    print(f"ratio devenv/compose, warm (median): {med(warm_devenv) / med(warm_compose):.2f}")
    print(f"ratio devenv --no-migrate/compose, warm (median): "
          f"{med(warm_devenv_nm) / med(warm_compose):.2f}")
    print(f"containers restarted during the warm runs: {'yes' if restarted else 'no'}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
