"""Cost of "nothing pending" in a warm `devenv up`: 4 services x 50 migrations (issue 5).

Run with `python bench/pending.py [--runs N]`. Builds a project in a temporary folder: one
PostgreSQL server, four services each with 50 Flyway migrations and a seed file, brings it up,
then times, alternating in the same run, warm `devenv up` (checks every service's 50
migrations and its seeds against its ledger) and warm `devenv up --no-migrate` (the same `up`
without that check). Prints min/median of each and the difference; target < 150 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.stacks import CopiedStack, free_ports

SERVICES = ("orders", "users", "payments", "catalog")
MIGRATIONS = 50


def build(root: Path) -> CopiedStack:
    pg, redis = free_ports(2)
    project = f"benchpending-{int(time.time())}"
    lines = [f"project: {project}", "servers:", f"  postgres: {{kind: postgres, port: {pg}}}",
             f"  redis: {{kind: redis, port: {redis}}}", "services:"]
    for svc in SERVICES:
        lines.append(f"  {svc}: {{postgres: true, redis: true}}")
        folder = root / "migrations" / svc
        folder.mkdir(parents=True)
        for i in range(1, MIGRATIONS + 1):
            (folder / f"V{i}__step_{i}.sql").write_text(
                f"CREATE TABLE t_{i} (id bigint PRIMARY KEY, note text);\n"
                f"INSERT INTO t_{i} VALUES ({i}, 'row {i}');\n")
        seeds = root / "seeds" / svc
        seeds.mkdir(parents=True)
        (seeds / "01_rows.sql").write_text("INSERT INTO t_1 VALUES (100, 'seed');\n")
    (root / "devenv.yaml").write_text("\n".join(lines) + "\n")
    return CopiedStack(root, project, {"postgres": pg, "redis": redis})


def timed(stack: CopiedStack, *args: str) -> float:
    started = time.perf_counter()
    result = stack.devenv(*args)
    elapsed = time.perf_counter() - started
    if result.code != 0:
        raise SystemExit(f"devenv {' '.join(args)} failed:\n{result.explain()}")
    if "up to date" not in result.stdout:
        raise SystemExit(f"expected a warm up, got:\n{result.stdout}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        stack = build(Path(tmp))
        try:
            first = stack.devenv("up")
            if first.code != 0:
                raise SystemExit(first.explain())
            stack.devenv("up")  # settle: the first warm run records nothing new
            with_check: list[float] = []
            without: list[float] = []
            for _ in range(runs):
                with_check.append(timed(stack, "up"))
                without.append(timed(stack, "up", "--no-migrate"))
        finally:
            stack.teardown()
    ms = [(name, min(s) * 1000, statistics.median(s) * 1000)
          for name, s in (("warm up (4 x 50 migrations checked)", with_check),
                          ("warm up --no-migrate", without))]
    print(f"{'':40}{'min ms':>10}{'median ms':>12}")
    for name, low, mid in ms:
        print(f"{name:40}{low:10.0f}{mid:12.0f}")
    cost = ms[0][2] - ms[1][2]
    print(f"cost of checking that nothing is pending: {cost:.0f} ms (median difference; "
          f"target < 150 ms) -> {'OK' if cost < 150 else 'OVER TARGET'}")


if __name__ == "__main__":
    main()
