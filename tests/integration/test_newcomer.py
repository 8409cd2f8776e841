"""A newcomer's first session in an empty folder: init, up, connect with .env, reset, down."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from tests.integration.stacks import CopiedStack, free_ports, parse_dotenv

pytestmark = pytest.mark.xdist_group("test_newcomer")


@pytest.fixture
def newcomer(tmp_path: Path) -> Iterator[CopiedStack]:
    root = tmp_path / "my-service"
    root.mkdir()
    stack = CopiedStack(root, f"t-newcomer-{uuid.uuid4().hex[:10]}")
    try:
        yield stack
    finally:
        stack.teardown()


def test_first_session(newcomer: CopiedStack) -> None:
    stack = newcomer
    result = stack.ok("init", "--project", stack.project)
    for line in ("created devenv.yaml", "created migrations/app/V1__create_items.sql",
                 "created seeds/app/01_items.sql", "next: devenv up"):
        assert line in result.stdout + result.stderr, result.explain()
    assert ".devenv/" in (stack.root / ".gitignore").read_text()

    pg_port, redis_port = free_ports(2)
    with (stack.root / "devenv.yaml").open("a") as manifest:
        manifest.write(f"servers:\n  postgres:\n    kind: postgres\n    port: {pg_port}\n"
                       f"  redis:\n    kind: redis\n    port: {redis_port}\n")

    up = stack.ok("up")
    out = up.stdout
    assert f"{stack.project} is up" in out, up.explain()
    assert "  app, database app" in out
    assert f"DATABASE_URL=postgresql://app:****@127.0.0.1:{pg_port}/app" in out
    assert f"REDIS_URL=redis://app:****@127.0.0.1:{redis_port}/0" in out
    assert "env file: .devenv/env/app.env" in out
    assert "Traceback" not in out + up.stderr

    env = parse_dotenv((stack.root / ".devenv" / "env" / "app.env").read_text())
    with psycopg.connect(env["DATABASE_URL"], connect_timeout=10) as conn:
        rows = conn.execute("SELECT name FROM items ORDER BY id").fetchall()
        assert rows == [("first item",), ("second item",)]
        conn.execute("INSERT INTO items (name) VALUES ('mine')")
    client = redis.Redis.from_url(env["REDIS_URL"])
    try:
        assert client.set(f"{env['REDIS_KEY_PREFIX']}k", "v")
    finally:
        client.close()

    reset = stack.ok("reset", "app")
    text = reset.stdout + reset.stderr
    assert "app" in text and "restored" in text, reset.explain()
    with psycopg.connect(env["DATABASE_URL"], connect_timeout=10) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (2,)

    assert stack.volumes(), "up made data volumes"
    down = stack.ok("down", "--volumes", "--yes")
    assert "data volumes removed: " in down.stdout + down.stderr, down.explain()
    assert stack.volumes() == []
    assert stack.containers() == {}
