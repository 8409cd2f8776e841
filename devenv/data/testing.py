"""What the pytest plugin hands to tests: the running stack, per-test clones, Redis namespaces.

The plugin (devenv.pytest_plugin) is loaded by every pytest run of a project that installs
devenv, so it imports this module (psycopg, redis-py, the engine) only when a test asks for a
devenv fixture.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis

from devenv.console import Console
from devenv.data import clones, golden, keys, standby
from devenv.data.clonepool import ClonePool
from devenv.data.replaywait import REPLAY_TIMEOUT, ReplayWait
from devenv.engine.context import Context
from devenv.engine.down import down
from devenv.engine.up import up
from devenv.errors import DevenvError
from devenv.model import facts
from devenv.model.resolve import load_stack
from devenv.model.stack import ServiceSpec


def start(manifest: Path, *, owner: str, worker: str, prefetch: int) -> DevenvStack:
    """Bring the stack up (or find it up), drop clones of killed runs, and hand it over."""
    ctx = up(load_stack(manifest), Console(quiet=True), names=[])
    clones.prune(ctx, keep=lambda tag: not abandoned(tag))
    return DevenvStack(ctx, owner, worker, prefetch)


def stop(manifest: Path) -> None:
    """`devenv down` (volumes kept), the reset standby with it."""
    standby.stop(manifest)
    down(load_stack(manifest), Console(quiet=True), volumes=False)
    standby.stop(manifest)


def abandoned(tag: str) -> bool:
    """A pytest clone whose run's process no longer exists."""
    parts = tag.split(":")
    if len(parts) < 2 or not parts[1].startswith("pytest-"):
        return False
    try:
        os.kill(int(parts[1][len("pytest-"):]), 0)
    except ProcessLookupError:
        return True
    except (ValueError, PermissionError):
        return False
    return False


@dataclass
class DevenvStack:
    """The running stack: `.env("auth")` gives a service's variables, `.context` the rest."""

    context: Context
    owner: str
    worker: str
    prefetch: int = 4
    templates: dict[str, str] = field(default_factory=dict)
    _admins: dict[str, psycopg.Connection[Any]] = field(default_factory=dict)
    _pool: ClonePool | None = None
    _replay: ReplayWait | None = None

    @property
    def services(self) -> dict[str, ServiceSpec]:
        return self.context.stack.services

    def env(self, service: str) -> dict[str, str]:
        ctx = self.context
        return facts.env_vars(ctx.stack, self._service(service), ctx.secrets, ctx.ports)

    def _service(self, name: str) -> ServiceSpec:
        if name not in self.services:
            raise DevenvError(f"no service named '{name}' (services: "
                              f"{', '.join(self.services)})")
        return self.services[name]

    def admin(self, svc: ServiceSpec) -> psycopg.Connection[Any]:
        assert svc.server is not None
        conn = self._admins.get(svc.server)
        if conn is None or conn.closed:
            conn = self.context.admin_session(svc.server)
            self._admins[svc.server] = conn
        return conn

    def clone(self, service: str) -> str:
        """A fresh clone of the service's template (made ahead on the pool when prefetching)."""
        svc = self._service(service)
        if service not in self.templates:
            self.templates[service] = golden.ensure_template(self.context, svc, say=False)
            # made ahead + the test's own + one being dropped, in every xdist worker
            workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
            clones.check_room(self.context, svc, self.templates[service],
                              workers * (max(self.prefetch, 0) + 2), conn=self.admin(svc))
        if self.prefetch <= 0:
            return clones.clone(self.context, svc, tag=self.worker, owner=self.owner,
                                conn=self.admin(svc), template=self.templates[service])
        return self._clones().take(svc, self.templates[service])

    def database(self, service: str) -> Database:
        """A fresh clone of the service's template, with the variables of its .env file.

        On a server with replicas the clone is handed over once they have replayed its
        creation, so its DATABASE_READONLY_URL works from the test's first line (a clone made
        ahead has usually been replayed long before: one query per replica)."""
        name = self.clone(service)
        ctx = self.context
        svc = self._service(service)
        env = facts.env_vars(ctx.stack, svc, ctx.secrets, ctx.ports, database=name)
        wait = None
        if svc.server is not None and ctx.stack.servers[svc.server].replicas:
            server = ctx.stack.servers[svc.server]

            def wait(timeout: float) -> None:
                self._replays().until_replayed(server, self.admin(svc), timeout)

            wait(REPLAY_TIMEOUT)
        return Database(service, name, env["DATABASE_URL"], env, _replayed=wait)

    def _replays(self) -> ReplayWait:
        if self._replay is None:
            self._replay = ReplayWait(self.context)
        return self._replay

    def redis_namespace(self, service: str) -> AbstractContextManager[RedisNamespace]:
        return redis_namespace(self, service)

    def drop(self, service: str, database: str) -> None:
        svc = self._service(service)
        if self._pool is not None:
            self._pool.drop(svc, database)
        else:
            clones.drop_clone(self.context, svc, database, conn=self.admin(svc))

    def _clones(self) -> ClonePool:
        if self._pool is None:
            self._pool = ClonePool(self.context, tag=self.worker, owner=self.owner,
                                   depth=self.prefetch)
        return self._pool

    def close(self) -> list[str]:
        """Finish pending drops, drop unused clones, close sessions; the problems seen."""
        errors = self._pool.close() if self._pool is not None else []
        self._pool = None
        if self._replay is not None:
            self._replay.close()
        for conn in self._admins.values():
            conn.close()
        return errors


@dataclass
class Database:
    service: str
    name: str
    url: str
    env: dict[str, str]
    _conn: psycopg.Connection[Any] | None = None
    _replayed: Callable[[float], None] | None = None

    @property
    def readonly_url(self) -> str:
        """The clone on the server's replicas, as the service's role (DATABASE_READONLY_URL)."""
        if "DATABASE_READONLY_URL" not in self.env:
            raise DevenvError(f"service '{self.service}' has no read replica",
                              hint="add `replicas: 1` to its server in devenv.yaml")
        return self.env["DATABASE_READONLY_URL"]

    def wait_for_replica(self, timeout: float = REPLAY_TIMEOUT) -> None:
        """Block until every replica has replayed what was committed so far (e.g. after the
        test's last commit, before reading it back through readonly_url). With
        `replica_delay` this takes at least the delay: that is the lag being tested."""
        if self._replayed is None:
            raise DevenvError(f"service '{self.service}' has no read replica",
                              hint="add `replicas: 1` to its server in devenv.yaml")
        self._replayed(timeout)

    @property
    def conn(self) -> psycopg.Connection[Any]:
        """A psycopg connection as the service's role (opened on first use, closed after)."""
        if self._conn is None:
            self._conn = psycopg.connect(self.url)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


@dataclass
class RedisNamespace:
    client: redis.Redis
    prefix: str

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"


@contextmanager
def redis_namespace(stack: DevenvStack, service: str) -> Iterator[RedisNamespace]:
    """A client of the service's ACL user and a prefix of its own; its keys go after."""
    env = stack.env(service)
    client = redis.Redis.from_url(env["REDIS_URL"])
    prefix = f"{env['REDIS_KEY_PREFIX']}test:{uuid.uuid4().hex[:12]}:"
    try:
        yield RedisNamespace(client, prefix)
        keys.unlink_prefix(client, prefix)
    finally:
        client.close()
