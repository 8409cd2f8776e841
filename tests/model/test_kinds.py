"""The kinds' registry (devenv.model.kinds) agrees with the manifest, and owns what differs."""

from __future__ import annotations

import typing
from pathlib import Path

from devenv.model import manifest as m
from devenv.model.credentials import needed
from devenv.model.kinds import FAMILIES, KINDS, kinds_of
from devenv.model.resolve import resolve


def test_every_manifest_kind_is_registered_and_every_registered_kind_can_be_written() -> None:
    union = typing.get_args(typing.get_args(m.Server)[0])
    in_schema = {typing.get_args(model.model_fields["kind"].annotation)[0] for model in union}
    assert in_schema == set(KINDS)
    assert all(kind.family in FAMILIES for kind in KINDS.values())
    assert kinds_of("postgres") == ("postgres", "timescaledb")
    assert kinds_of("redis") == ("redis", "valkey")


def stack_of(text: str) -> typing.Any:
    manifest, located = m.parse(text)
    return resolve(manifest, located, root=Path("/p"))


def test_each_kind_gives_its_default_image_port_family_and_users() -> None:
    stack = stack_of("""
project: p
roles: {migration: mig}
servers:
  pg: {kind: postgres, replicas: 1}
  ts: {kind: timescaledb}
  r: {kind: redis}
  v: {kind: valkey}
  pool: {kind: pgbouncer}
services:
  a: {postgres: pg, redis: r}
""")
    got = {n: (s.image, s.container_port, s.family) for n, s in stack.servers.items()}
    assert got == {
        "pg": ("postgres:18", 5432, "postgres"),
        "ts": ("timescale/timescaledb:latest-pg18", 5432, "postgres"),
        "r": ("redis:8", 6379, "redis"),
        "v": ("valkey/valkey:8", 6379, "redis"),
        "pool": ("edoburu/pgbouncer:latest", 6432, "pgbouncer"),
    }
    assert needed(stack) == [
        "pg/postgres", "pg/mig", "pg/devenv_replicator", "ts/postgres", "ts/mig",
        "r/default", "v/default", "pool/pgbouncer", "pg/a", "r/a"]
    assert stack.servers["ts"].preload == ("timescaledb",)
    assert stack.servers["pg"].preload == ()
