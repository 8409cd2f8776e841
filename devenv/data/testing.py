"""What the pytest plugin hands to tests: the running stack, per-test clones, Redis namespaces.

The plugin (devenv.pytest_plugin) is loaded by every pytest run of a project that installs
devenv, so it imports this module (psycopg, redis-py, the engine) only when a test asks for a
devenv fixture.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis

from devenv.console import Console
from devenv.data import clones, golden, keys, lifetimes, standby
from devenv.data.clonepool import ClonePool
from devenv.data.replaywait import ReplayWait
from devenv.engine.context import Context
from devenv.engine.down import down
from devenv.engine.replication import REPLAY_TIMEOUT
from devenv.engine.start import Launch
from devenv.engine.up import up
from devenv.errors import DevenvError
from devenv.model import facts
from devenv.model.stack import ServiceSpec, Stack
from devenv.store import stackcache


def stop(manifest: Path) -> None:
    """`devenv down` (volumes kept), the reset standby with it."""
    standby.stop(manifest)
    down(stackcache.load(manifest), Console(quiet=True), volumes=False)
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
    """The stack: `.env("auth")` gives a service's variables, `.context` the rest.

    Lazy, for the cold start: the first test that asks for a service brings up the servers
    that service needs (`up` of that service, warm when the last `up` covered it), not the
    whole stack; a test run of one service of a stack of several never starts the others.
    Asking for `.context` brings up everything.
    """

    stack: Stack
    owner: str
    worker: str
    prefetch: int = 4
    templates: dict[str, str] = field(default_factory=dict)
    _ctx: Context | None = None
    _ready: set[str] | None = field(default_factory=set)  # services up; None: all of them
    _built: dict[str, str] = field(default_factory=dict)  # templates built during a cold up
    _admins: dict[str, psycopg.Connection[Any]] = field(default_factory=dict)
    _lifetimes: dict[str, str] = field(default_factory=dict)  # server -> its lifetime seen last
    _pool: ClonePool | None = None
    _replay: ReplayWait | None = None
    launched: Launch | None = None  # the plugin's early start, for the first `up` to finish

    @classmethod
    def running(cls, ctx: Context, owner: str, worker: str, prefetch: int = 4) -> DevenvStack:
        """On a stack already up (all of it), e.g. for a benchmark."""
        return cls(ctx.stack, owner, worker, prefetch, _ctx=ctx, _ready=None)

    @property
    def services(self) -> dict[str, ServiceSpec]:
        return self.stack.services

    @property
    def context(self) -> Context:
        return self._bring_up(None)

    def _bring_up(self, service: str | None, *, template: bool = False) -> Context:
        """Up with the servers `service` needs (None: all), and drop clones of killed runs.

        `template`: build the service's template during a cold `up`, as soon as its server
        has the roles, while the rest (databases, grants, replicas, PgBouncer, the checks)
        comes up.
        """
        if self._ctx is not None and (self._ready is None or service in self._ready):
            return self._ctx
        # with the services asked for before, so that the next run's `up` of any is warm
        names = [] if service is None or self._ready is None else sorted({*self._ready, service})
        svc = self.services[service] if service is not None else None
        ahead = None
        if template and svc is not None and svc.database is not None:
            def ahead(ctx: Context) -> None:
                self._built[svc.name] = golden.ensure_template(ctx, svc, say=False)
        # migrate=False: tests get clones of the template, which is built from the files
        # themselves; migrating the service's own database too would replay every migration
        # twice in a cold start (the next `devenv up` migrates it).
        launched, self.launched = self.launched, None
        ctx = up(self.stack, Console(quiet=True), names=names, migrate=False, provisioned=ahead,
                 launched=launched)
        clones.prune(ctx, keep=lambda tag: not abandoned(tag))  # a server down has none
        self._ctx, self._ready = ctx, (set(names) if names else None)
        return ctx

    def env(self, service: str) -> dict[str, str]:
        ctx = self._bring_up(self._service(service).name)
        return facts.env_vars(ctx.stack, self._service(service), ctx.secrets, ctx.ports)

    def _service(self, name: str) -> ServiceSpec:
        if name not in self.services:
            raise DevenvError(f"no service named '{name}' (services: "
                              f"{', '.join(self.services)})")
        return self.services[name]

    def admin(self, svc: ServiceSpec) -> psycopg.Connection[Any]:
        """The admin session to the service's server, checked against a restart: one query."""
        assert svc.server is not None
        ctx = self._bring_up(svc.name)
        server = ctx.stack.servers[svc.server]
        conn = self._admins.get(server.name)
        try:
            if conn is None or conn.closed:
                raise psycopg.OperationalError("no session yet")
            lifetime = lifetimes.lifetime(conn)
        except psycopg.OperationalError:  # first use, or the server restarted under it
            if conn is not None:
                conn.close()
            conn, lifetime = lifetimes.connect(ctx, server)
            self._admins[server.name] = conn
        if self._lifetimes.get(server.name) != lifetime:
            # `up` made the tablespace at start; a restart since then emptied it
            lifetimes.repair(conn, server)
            self._lifetimes[server.name] = lifetime
        return conn

    def clone(self, service: str) -> str:
        """A fresh clone of the service's template (made ahead on the pool when prefetching)."""
        svc = self._service(service)
        ctx = self._bring_up(service, template=True)
        admin = self.admin(svc)  # before any clone: a restart since the last test is repaired
        if service not in self.templates:
            built = self._built.pop(service, None)
            self.templates[service] = built or golden.ensure_template(ctx, svc, say=False,
                                                                       conn=admin)
            # made ahead + the test's own + one being dropped, in every xdist worker
            workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
            clones.check_room(ctx, svc, self.templates[service],
                              workers * (max(self.prefetch, 0) + 2), conn=admin)
        if self.prefetch <= 0:
            return clones.clone(ctx, svc, tag=self.worker, owner=self.owner,
                                conn=admin, template=self.templates[service])
        assert svc.server is not None
        return self._clones().take(svc, self.templates[service], self._lifetimes[svc.server])

    def database(self, service: str) -> Database:
        """A fresh clone of the service's template, with the variables of its .env file.

        On a server with replicas the clone is handed over once they have replayed its
        creation, so its DATABASE_READONLY_URL works from the test's first line (a clone made
        ahead has usually been replayed long before: one query per replica)."""
        name = self.clone(service)
        ctx = self._bring_up(service)
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
            assert self._ctx is not None  # a service was brought up to be cloned
            self._replay = ReplayWait(self._ctx)
        return self._replay

    def redis_namespace(self, service: str) -> AbstractContextManager[RedisNamespace]:
        return redis_namespace(self, service)

    def drop(self, service: str, database: str) -> None:
        svc = self._service(service)
        if self._pool is not None:
            self._pool.drop(svc, database)
        else:
            # NoSuchClone: a restart emptied it and the repair dropped it
            with suppress(clones.NoSuchClone):
                clones.drop_clone(self._bring_up(service), svc, database, conn=self.admin(svc))

    def _clones(self) -> ClonePool:
        if self._pool is None:
            assert self._ctx is not None  # a service was brought up to be cloned
            self._pool = ClonePool(self._ctx, tag=self.worker, owner=self.owner,
                                   depth=self.prefetch)
        return self._pool

    def close(self) -> list[str]:
        """Finish pending drops, drop unused clones, close sessions; the problems seen."""
        if self.launched is not None:  # no test got as far as its service
            self.launched.abandon()
            self.launched = None
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
