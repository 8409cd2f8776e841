"""Throwaway PostgreSQL / TimescaleDB containers for integration tests of the database layers.

These start one plain container with `docker run` (not through devenv), so that the migration
and provisioning code can be tested on a real server independently of `devenv up`.
"""

from __future__ import annotations

import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


@contextmanager
def running_postgres(image: str = "postgres:17") -> Iterator[str]:
    """Yield the admin conninfo of a fresh server; the container and its volume go afterwards."""
    name = f"devenv-test-{uuid.uuid4().hex[:10]}"
    password = secrets.token_hex(12)
    subprocess.run(
        ["docker", "run", "-d", "--rm", "--name", name, "-e", f"POSTGRES_PASSWORD={password}",
         "-p", "127.0.0.1::5432", "--label", "dev.devenv.test=1", image],
        check=True, capture_output=True,
    )
    try:
        port = ""
        for _ in range(100):
            out = subprocess.run(["docker", "port", name, "5432/tcp"], capture_output=True,
                                 text=True, check=False).stdout.strip()
            if out:
                port = out.splitlines()[0].rsplit(":", 1)[1]
                break
            time.sleep(0.1)
        url = f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                break
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    logs = subprocess.run(["docker", "logs", "--tail", "30", name],
                                          capture_output=True, text=True, check=False)
                    raise RuntimeError(
                        f"{image} never answered:\n{logs.stdout}{logs.stderr}") from exc
                time.sleep(0.2)
        yield url
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, check=False)
