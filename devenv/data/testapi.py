"""Test databases for suites in any language: IntegreSQL's v1 semantics over the stack's servers.

IntegreSQL (allaboutapps/integresql) keeps, per template hash, a template database that the
client migrates once and a pool of test databases copied from it. This is the same lifecycle
on devenv's own parts, so the HTTP layer (data/testapihttp) only maps routes and status codes:

- a template a client initialises is a fresh database owned by the API service's role, with
  the service's extensions; finalising marks it a template; `devenv-<service>` and
  `devenv-<service>-<template key>` name each service's golden template (data/golden), already
  migrated and seeded, so a suite may skip initialising;
- test databases come from data/clonepool (the pytest plugin's made-ahead clones: one pool per
  template), in the in-memory tablespace where the server has one, owned by the service's
  role, tagged `testapi-<pid>` so that a janitor can tell whose they are;
- a test database handed out is "in use" (IntegreSQL's dirty) until the client unlocks it
  (it is handed out again as it is) or asks to recreate it (it is dropped; the pool made its
  successor ahead). Reclaim, as IntegreSQL's auto-clean: past `reclaim_after` databases in use
  for a template, the oldest one nobody is connected to (and older than MIN_LIFETIME_S) is
  dropped, so a suite that crashed without returning its databases does not keep them;
- on start, the databases left by an API process that is gone are dropped (IntegreSQL drops
  every test database it finds on start); `devenv db prune` drops them too.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from devenv.data import clones, golden, lifetimes
from devenv.data.clonepool import ClonePool
from devenv.engine.context import Context
from devenv.engine.provision import create_extensions, database_access
from devenv.errors import DevenvError
from devenv.model import facts
from devenv.model.stack import ServiceSpec
from devenv.store import testapi as statefile

API_MARK = "devenv:apitemplate:"  # comment of a template a client initialised
OWNER_PREFIX = "testapi-"
GOLDEN_PREFIX = "devenv-"
FINALIZE_WAIT_S = 60.0  # IntegreSQL's TemplateFinalizeTimeout default
MIN_LIFETIME_S = 0.25  # IntegreSQL's TestDatabaseMinimalLifetime default
RECHECK_S = 1.0  # a golden template's files are hashed at most this often (a few ms each)


class NotFound(DevenvError):
    """404: no such template, or no such test database."""


class Locked(DevenvError):
    """423: the template is already initialised (another caller migrates it)."""


class Gone(DevenvError):
    """410: the template was discarded while the caller waited for it."""


class BadState(DevenvError):
    """500: the template did not become ready in time."""


@dataclass
class TestDb:
    id: int
    name: str
    in_use: bool
    since: float


@dataclass
class Template:
    hash: str
    service: ServiceSpec
    golden: bool
    database: str = ""  # resolved on first use for a golden one (it may need building)
    state: str = "init"  # init -> finalized | discarded
    pool: ClonePool | None = None
    tests: dict[int, TestDb] = field(default_factory=dict)
    unlocked: deque[int] = field(default_factory=deque)
    next_id: int = 0
    checked: float = 0.0  # when a golden one's files were last hashed (monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)  # its pool and tests


def golden_hashes(ctx: Context, svc: ServiceSpec) -> tuple[str, str]:
    """The two documented hashes of a service's golden template: stable and keyed."""
    stable = f"{GOLDEN_PREFIX}{svc.name}"
    return stable, f"{stable}-{golden.template_hash(ctx, svc)}"


def dead_owner(tag: str) -> bool:
    """A clone or API template (`service:testapi-<pid>[...]`) of an API process that is gone."""
    return _api_pid_alive(tag) is False


def live_owner(tag: str) -> bool:
    """A clone or API template of an API process that runs now."""
    return _api_pid_alive(tag) is True


def _api_pid_alive(tag: str) -> bool | None:
    """None: not the API's."""
    parts = tag.split(":")
    if len(parts) < 2 or not parts[1].startswith(OWNER_PREFIX):
        return None
    try:
        return statefile.alive(int(parts[1][len(OWNER_PREFIX):]))
    except ValueError:
        return None


def prune_templates(ctx: Context, *, keep: Callable[[str], bool] | None = None) -> list[str]:
    """Drop the templates clients initialised (all, or those `keep` does not want)."""
    dropped = []
    for server in ctx.stack.servers.values():
        if not server.is_database:
            continue
        try:
            conn = ctx.admin_session(server)
        except DevenvError:  # a server that is down holds nothing to drop now
            continue
        with conn:
            for name, comment in golden.marked(conn, API_MARK):
                if keep is not None and keep(comment[len(API_MARK):]):
                    continue
                _drop_template(conn, name)
                dropped.append(name)
    return dropped


class TestApi:
    """The manager behind the HTTP layer; every method may be called from many threads."""

    def __init__(self, ctx: Context, service: ServiceSpec, *, prefetch: int = 4,
                 reclaim_after: int = 64, on_change: Callable[[], None] | None = None) -> None:
        if service.database is None or service.role is None:
            raise DevenvError(f"service '{service.name}' has no database for test templates")
        self.ctx, self.service, self.prefetch = ctx, service, prefetch
        self.reclaim_after = reclaim_after
        self.owner = f"{OWNER_PREFIX}{os.getpid()}"
        self._on_change = on_change
        self._lock = threading.Condition()
        self._templates: dict[str, Template] = {}
        self._admins: dict[str, tuple[golden.Conn, threading.Lock]] = {}
        self._lifetimes: dict[str, str] = {}
        self._golden()

    # -- start, stop, state

    def check(self) -> None:
        """Fail now, not on a suite's first request, when the service's server is down."""
        assert self.service.server is not None
        with self.ctx.admin_session(self.service.server):
            pass

    def reclaim_dead(self) -> list[str]:
        """Drop what API processes that are gone left behind (IntegreSQL does it on start)."""
        dropped = clones.prune(self.ctx, keep=lambda tag: not dead_owner(tag))
        return dropped + prune_templates(self.ctx, keep=lambda tag: not dead_owner(tag))

    def _golden(self) -> None:
        for svc in self.ctx.stack.services.values():
            if svc.database is None or svc.role is None:
                continue
            template = Template("", svc, golden=True, state="finalized")
            for name in golden_hashes(self.ctx, svc):
                self._templates[name] = template

    def golden_names(self) -> list[str]:
        with self._lock:
            return sorted(n for n, t in self._templates.items() if t.golden)

    def snapshot(self) -> list[dict[str, Any]]:
        """Per template (each golden one once): what `devenv status` shows."""
        names: dict[int, list[str]] = {}
        with self._lock:
            items = list(self._templates.items())
        for name, t in items:
            names.setdefault(id(t), []).append(name)
        rows = []
        for name, t in items:
            if names[id(t)][0] != name:
                continue
            in_use = sum(1 for d in t.tests.values() if d.in_use)
            rows.append({"hash": name, "also": names[id(t)][1:], "service": t.service.name,
                         "golden": t.golden,
                         "state": t.state, "database": t.database,
                         "ready": len(t.unlocked) + (t.pool.ahead(t.service.name)
                                                     if t.pool else 0),
                         "in_use": in_use})
        return rows

    def close(self) -> list[str]:
        with self._lock:
            templates = {id(t): t for t in self._templates.values()}.values()
        errors: list[str] = []
        for t in templates:
            with t.lock:
                errors += self._drop_tests(t)
        for conn, _ in self._admins.values():
            conn.close()
        return errors

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    # -- admin sessions

    def _admin(self, svc: ServiceSpec) -> tuple[golden.Conn, threading.Lock]:
        """The API's admin session to the service's server (one per server, used under its
        lock), checked against a restart: after one, the clones' tablespace is repaired."""
        assert svc.server is not None
        with self._lock:
            held = self._admins.get(svc.server)
            if held is None:
                # no lifetime noted yet: the first use repairs the clones' tablespace if the
                # server restarted since `up` made it (as the pytest plugin's first test does)
                conn, _ = lifetimes.connect(self.ctx, self.ctx.stack.servers[svc.server])
                held = self._admins[svc.server] = (conn, threading.Lock())
        return held

    def _lifetime(self, svc: ServiceSpec) -> str:
        assert svc.server is not None
        conn, lock = self._admin(svc)
        server = self.ctx.stack.servers[svc.server]
        with lock:
            try:
                now = lifetimes.lifetime(conn)
            except psycopg.OperationalError:
                conn.close()
                conn, now = lifetimes.connect(self.ctx, server)
                self._admins[svc.server] = (conn, lock)
            if self._lifetimes.get(svc.server) != now:
                lifetimes.repair(conn, server)
                self._lifetimes[svc.server] = now
        return now

    def _sql(self, svc: ServiceSpec, query: str, args: tuple[object, ...] = ()) -> list[Any]:
        self._lifetime(svc)
        conn, lock = self._admin(svc)
        with lock:
            return conn.execute(query, args).fetchall()

    # -- what a client sees of a database

    def config(self, svc: ServiceSpec, database: str) -> dict[str, Any]:
        """IntegreSQL's DatabaseConfig: the service's role on the server itself (never
        PgBouncer: it knows no template or test database)."""
        db = facts.db_facts(self.ctx.stack, svc, self.ctx.secrets, self.ctx.ports,
                            database=database)
        assert db is not None
        return {"host": db.host, "port": db.port, "username": db.user,
                "password": db.password, "database": database}

    def _template(self, name: str) -> Template:
        with self._lock:
            found = self._templates.get(name)
        if found is None:
            raise NotFound("template not found")
        return found

    # -- the lifecycle

    def initialize(self, name: str) -> dict[str, Any]:
        svc = self.service
        with self._lock:
            if name in self._templates:
                raise Locked("template is already initialized")
            template = self._templates[name] = Template(name, svc, golden=False)
            template.lock.acquire()  # a finalize racing the CREATE waits for it, as IntegreSQL
        try:
            template.database = self._create_template(name)
        except BaseException:
            with self._lock:
                self._templates.pop(name, None)
                self._lock.notify_all()
            raise
        finally:
            template.lock.release()
        self._changed()
        return {"templateHash": name, "config": self.config(svc, template.database)}

    def _create_template(self, name: str) -> str:
        svc = self.service
        assert svc.database is not None and svc.role is not None and svc.server is not None
        database = f"{svc.database[:30]}_api_{hashlib.sha256(name.encode()).hexdigest()[:12]}"
        self._lifetime(svc)
        conn, lock = self._admin(svc)
        with lock:
            _drop_template(conn, database)  # a re-initialisation starts afresh, as IntegreSQL
            ident = sql.Identifier(database)
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                ident, sql.Identifier(svc.role)))
            conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                ident, sql.Literal(f"{API_MARK}{svc.name}:{self.owner}:{name}")))
            database_access(conn, database, golden.readers(self.ctx, svc), [])
        if svc.extensions:
            with self.ctx.admin_session(svc.server, database) as db:
                create_extensions(db, svc, database)
        return database

    def finalize(self, name: str) -> None:
        template = self._template(name)
        if template.state == "finalized":
            return
        if template.state == "discarded":
            raise Gone("template was just discarded")
        svc = template.service
        conn, lock = self._admin(svc)
        with template.lock, lock:
            conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true "
                                 "ALLOW_CONNECTIONS false").format(
                sql.Identifier(template.database)))
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (template.database,))
        with self._lock:
            template.state = "finalized"
            self._lock.notify_all()
        self._changed()

    def discard(self, name: str) -> None:
        template = self._template(name)
        with template.lock:
            errors = self._drop_tests(template)
        if not template.golden:
            with self._lock:
                self._templates.pop(name, None)
                template.state = "discarded"
                self._lock.notify_all()
            conn, lock = self._admin(template.service)
            with lock:
                _drop_template(conn, template.database)
        self._changed()
        if errors:
            raise DevenvError("; ".join(errors))

    def reset_all(self) -> None:
        with self._lock:
            names = [n for n, t in self._templates.items() if not t.golden]
            goldens = {id(t): t for t in self._templates.values() if t.golden}.values()
        for name in names:
            try:
                self.discard(name)
            except NotFound:
                continue  # discarded by another caller meanwhile
        for template in goldens:
            with template.lock:
                self._drop_tests(template)
        self._changed()

    def _wait_finalized(self, template: Template) -> None:
        deadline = time.monotonic() + FINALIZE_WAIT_S
        with self._lock:
            while template.state == "init":
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BadState(f"template {template.hash} was not finalized within "
                                   f"{FINALIZE_WAIT_S:g} s")
                self._lock.wait(left)
        if template.state == "discarded":
            raise Gone("template was just discarded")

    def get(self, name: str) -> dict[str, Any]:
        """A test database: an unlocked one as it is, else a clone the pool made ahead."""
        template = self._template(name)
        self._wait_finalized(template)
        svc = template.service
        lifetime = self._lifetime(svc)
        with template.lock:
            if template.golden:
                self._follow(template)
            self._reclaim(template)
            if template.unlocked:
                test = template.tests[template.unlocked.popleft()]
            else:
                try:
                    clone = self._pool(template).take(svc, template.database, lifetime)
                except psycopg.errors.InvalidCatalogName:
                    if not template.golden:
                        raise
                    # rebuilt meanwhile (`devenv up` after a migration changed): the old one
                    # is gone, its clones made ahead with it
                    if template.pool is not None:
                        template.pool.close()  # its clones failed: nothing made to drop
                    template.pool = None
                    self._resolve(template)
                    clone = self._pool(template).take(svc, template.database, lifetime)
                test = TestDb(template.next_id, clone, in_use=False, since=0.0)
                template.tests[test.id] = test
                template.next_id += 1
            test.in_use, test.since = True, time.monotonic()
        self._changed()
        return {"database": {"templateHash": name, "config": self.config(svc, test.name)},
                "id": test.id}

    def _follow(self, template: Template) -> None:
        """A golden template follows its files: when they changed (checked at most every
        RECHECK_S), the next test database comes from the new state, built if need be, and
        the keyed hash names the new one; what was made ahead of the old state is dropped."""
        now = time.monotonic()
        if template.database and now - template.checked < RECHECK_S:
            return
        template.checked = now
        svc = template.service
        digest = golden.template_hash(self.ctx, svc)
        if template.database == golden.template_name(svc, digest):
            return
        if template.database:
            for test_id in list(template.unlocked):
                self._forget(template, template.tests[test_id])
            if template.pool is not None:
                template.pool.close()
                template.pool = None
        stable = f"{GOLDEN_PREFIX}{svc.name}"
        with self._lock:
            for key in [k for k, t in self._templates.items() if t is template and k != stable]:
                del self._templates[key]
            self._templates[f"{stable}-{digest}"] = template
        self._resolve(template)

    def _resolve(self, template: Template) -> None:
        """A golden template's current database, built when the files changed."""
        conn, lock = self._admin(template.service)
        with lock:
            template.database = golden.ensure_template(self.ctx, template.service, say=False,
                                                       conn=conn)

    def _pool(self, template: Template) -> ClonePool:
        if template.pool is None:
            template.pool = ClonePool(self.ctx, tag="api", owner=self.owner,
                                      depth=self.prefetch)
        return template.pool

    def _reclaim(self, template: Template) -> None:
        """Past `reclaim_after` in use: drop the oldest that nobody is connected to."""
        in_use = sorted((d for d in template.tests.values() if d.in_use), key=lambda d: d.since)
        if len(in_use) < self.reclaim_after:
            return
        old = [d for d in in_use if time.monotonic() - d.since >= MIN_LIFETIME_S]
        if not old:
            return
        busy = {str(r[0]) for r in self._sql(
            template.service, "SELECT DISTINCT datname FROM pg_stat_activity "
            "WHERE datname = ANY(%s)", ([d.name for d in old],))}
        for test in old:
            if test.name not in busy:
                self._forget(template, test)
                return

    def _forget(self, template: Template, test: TestDb) -> None:
        template.tests.pop(test.id, None)
        if test.id in template.unlocked:
            template.unlocked.remove(test.id)
        self._pool(template).drop(template.service, test.name)

    def _test(self, name: str, test_id: int) -> tuple[Template, TestDb | None]:
        template = self._template(name)
        self._wait_finalized(template)
        return template, template.tests.get(test_id)

    def unlock(self, name: str, test_id: int) -> None:
        """Back to the template's ready ones, unchanged (IntegreSQL: return/unlock)."""
        template, test = self._test(name, test_id)
        with template.lock:
            if test is None or template.tests.get(test_id) is not test:
                raise NotFound("test database not found")
            if test.in_use:
                test.in_use = False
                template.unlocked.append(test.id)
        self._changed()

    def recreate(self, name: str, test_id: int) -> None:
        """Dropped: the next caller gets a fresh clone, made ahead by the pool."""
        template, test = self._test(name, test_id)
        with template.lock:
            if test is None or template.tests.get(test_id) is not test:
                raise NotFound("test database not found")
            self._forget(template, test)
        self._changed()

    def _drop_tests(self, template: Template) -> list[str]:
        """Drop its test databases and those made ahead (the caller holds template.lock)."""
        if template.pool is None and not template.tests:
            return []
        pool = self._pool(template)
        for test in list(template.tests.values()):
            pool.drop(template.service, test.name)
        template.tests.clear()
        template.unlocked.clear()
        template.pool = None
        return pool.close()


def _drop_template(conn: golden.Conn, name: str) -> None:
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        (name,)).fetchone()
    if row is None:
        return
    if not (isinstance(row[0], str) and row[0].startswith(API_MARK)):
        raise DevenvError(f"'{name}' is not a template of devenv's test API: refusing to drop it")
    conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(
        sql.Identifier(name)))
    golden.drop_database(conn, name)
