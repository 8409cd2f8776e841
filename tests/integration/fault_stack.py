"""A small project (one PostgreSQL server + one Redis, service `app`) for fault-injection tests.

Built on stacks.CopiedStack (CLI as a subprocess, teardown by label); the project is written
from scratch, with a unique project name and free ports, so that each test module owns its
containers and volumes.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from tests.integration.stacks import CopiedStack, free_ports

MIGRATIONS = {
    "V1__items.sql": "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                     "name text NOT NULL);\n",
    "V2__notes.sql": "CREATE TABLE notes (id bigint PRIMARY KEY, body text);\n",
    "V3__more.sql": "ALTER TABLE items ADD COLUMN note text;\n",
}
SEEDS = {"01_items.sql": "INSERT INTO items (name) VALUES ('first'), ('second');\n"}


def write_project(root: Path, *, prefix: str, migrations: dict[str, str] | None = None,
                  seeds: dict[str, str] | None = None,
                  pg: dict[str, Any] | None = None) -> CopiedStack:
    """devenv.yaml with servers `pg` and `cache`, service `app`, its migrations and seeds."""
    import yaml

    root.mkdir(parents=True, exist_ok=True)
    project = f"{prefix}-{uuid.uuid4().hex[:10]}"
    pg_port, redis_port = free_ports(2)
    manifest = {
        "project": project,
        "servers": {"pg": {"kind": "postgres", "port": pg_port, **(pg or {})},
                    "cache": {"kind": "redis", "port": redis_port}},
        "services": {"app": {"postgres": "pg", "redis": "cache"}},
    }
    (root / "devenv.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    for folder, files in (("migrations", MIGRATIONS if migrations is None else migrations),
                          ("seeds", SEEDS if seeds is None else seeds)):
        (root / folder / "app").mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (root / folder / "app" / name).write_text(text)
    return CopiedStack(root, project, {"pg": pg_port, "cache": redis_port})


@contextmanager
def small_stack(root: Path, *, prefix: str, **kwargs: Any) -> Iterator[CopiedStack]:
    stack = write_project(root, prefix=prefix, **kwargs)
    try:
        yield stack
    finally:
        stack.teardown()


def popen_devenv(stack: CopiedStack, *args: str) -> subprocess.Popen[str]:
    """Start `devenv <args>` in the stack's folder without waiting for it."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "DEVENV_FILE"}
    return subprocess.Popen([sys.executable, "-m", "devenv.cli", *args], cwd=stack.root,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def admin_url(stack: CopiedStack, database: str = "postgres") -> str:
    password = stack.secrets()["pg/postgres"]
    return f"postgresql://postgres:{password}@127.0.0.1:{stack.ports['pg']}/{database}"


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, connect_timeout=10, autocommit=True) as conn:
        cur = conn.execute(sql)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def ledger_counts(stack: CopiedStack) -> dict[str, int]:
    """Version -> how many successful rows it has in app's devenv.devenv_schema_history."""
    rows = query(admin_url(stack, "app"), "SELECT version, count(*) FROM "
                 "devenv.devenv_schema_history WHERE success GROUP BY version ORDER BY version")
    return {str(v): int(n) for v, n in rows}


def advisory_locks(stack: CopiedStack) -> int:
    rows = query(admin_url(stack), "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
    return int(rows[0][0])
