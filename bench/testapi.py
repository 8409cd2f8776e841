"""A test database from `devenv serve-tests` (IntegreSQL's API) against the pytest plugin's path.

    python bench/testapi.py [--tests 100] [--rounds 3] [--keep]

On a copy of the capsule stack trimmed to auth (as bench/fixture.py), with a unique project
and free ports (torn down at the end unless --keep), each "test" gets a database, connects as
auth's role and reads a seeded table, then gives the database back:
  plugin  DevenvStack.clone("auth") + .drop(), as devenv_db does (prefetch 4)
  api     GET /api/v1/templates/devenv-auth/tests + POST .../tests/<id>/recreate over one
          keep-alive HTTP connection, as an IntegreSQL client does, against `devenv
          serve-tests --prefetch 4` (the same pool code behind an HTTP round trip)
In interleaved rounds; printed: each path's per-test setup and suite wall time, and the ratio
api / plugin of the suites' wall time (issue 31's goal: within 2x).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402

from bench.fixture import auth_only, line, must  # noqa: E402
from devenv.console import Console  # noqa: E402
from devenv.data.testing import DevenvStack  # noqa: E402
from devenv.engine.context import Context, attach  # noqa: E402
from devenv.model import facts  # noqa: E402
from devenv.model.resolve import load_stack  # noqa: E402
from tests.integration.stacks import CAPSULE, copy_example  # noqa: E402


def read_table(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("SELECT count(*) FROM users").fetchone()


def plugin_suite(ctx: Context, tests: int) -> tuple[float, list[float]]:
    svc = ctx.stack.services["auth"]
    handle = DevenvStack.running(ctx, f"pytest-{os.getpid()}", "bench", prefetch=4)
    setup, started = [], time.perf_counter()
    for _ in range(tests):
        before = time.perf_counter()
        name = handle.clone("auth")
        setup.append((time.perf_counter() - before) * 1000)
        read_table(facts.env_vars(ctx.stack, svc, ctx.secrets, ctx.ports,
                                  database=name)["DATABASE_URL"])
        handle.drop("auth", name)
    wall = time.perf_counter() - started
    assert not handle.close()
    return wall, setup


def api_suite(url: str, tests: int) -> tuple[float, list[float]]:
    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=120)

    def call(method: str, path: str) -> Any:
        conn.request(method, path)
        rsp = conn.getresponse()
        body = rsp.read()
        assert rsp.status in (200, 204), (rsp.status, body)
        return json.loads(body) if body else None

    setup, started = [], time.perf_counter()
    for _ in range(tests):
        before = time.perf_counter()
        got = call("GET", "/api/v1/templates/devenv-auth/tests")
        setup.append((time.perf_counter() - before) * 1000)
        c = got["database"]["config"]
        read_table(f"postgresql://{c['username']}:{c['password']}@{c['host']}:{c['port']}/"
                   f"{c['database']}")
        call("POST", f"/api/v1/templates/devenv-auth/tests/{got['id']}/recreate")
    wall = time.perf_counter() - started
    conn.close()
    return wall, setup


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tests", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    stack = copy_example(CAPSULE, Path(tempfile.mkdtemp(prefix="bench-testapi-")),
                         prefix="bench-testapi", edit=auth_only("volume"))
    server = None
    try:
        print(f"project {stack.project} in {stack.root}", flush=True)
        must(stack.devenv("up"), "up")
        ctx = attach(load_stack(stack.manifest), Console(quiet=True))
        server = subprocess.Popen(
            [sys.executable, "-m", "devenv.cli", "serve-tests", "--port", "0", "--prefetch", "4"],
            cwd=stack.root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert url.startswith("http://"), url
        plugin_suite(ctx, 10)  # warm both: the template, the pools' sessions
        api_suite(url, 10)
        ratios = []
        for n in range(args.rounds):
            p_wall, p_setup = plugin_suite(ctx, args.tests)
            a_wall, a_setup = api_suite(url, args.tests)
            ratios.append(a_wall / p_wall)
            print(f"\nround {n + 1}: {args.tests} tests each")
            print(line("plugin (DevenvStack.clone)", p_setup) + f"   suite {p_wall:.2f} s")
            print(line("api (GET .../tests)", a_setup) + f"   suite {a_wall:.2f} s")
            print(f"ratio api / plugin (suite wall time): {a_wall / p_wall:.2f}x")
        median = statistics.median(ratios)
        print(f"\nmedian ratio api / plugin over {args.rounds} rounds: {median:.2f}x "
              f"(goal <= 2x: {'held' if median <= 2 else 'NOT held'})")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=60)
        if not args.keep:
            stack.teardown()


if __name__ == "__main__":
    main()
