"""pytest plugin: real, isolated databases per test, cloned from each service's golden template.

Registered through the `pytest11` entry point, so it loads in every pytest run of a project that
installs devenv: this module imports nothing heavy at the top, and a run that never asks for a
devenv fixture pays nothing. Fixtures:

- `devenv_stack` (session): brings the project's stack up once (or attaches to a running one)
  and gives each service's connection facts. Under pytest-xdist every worker asks, and the
  project lock in .devenv/ makes the first do the work while the others find it warm.
- `devenv_database` (function): a factory, `devenv_database("auth")` -> a fresh database cloned
  from auth's template, with `.url`, `.env`, `.conn`; dropped after the test.
- `devenv_db` (function): the same for the default service (`devenv_service` ini, or the only
  service with a database).
- `devenv_redis` (function): a Redis client of the service's ACL user and a per-test key
  prefix, cleaned after the test.
A janitor drops clones left by killed runs (their pytest process is gone) on the next run.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import psycopg
    import redis

    from devenv.clonepool import ClonePool
    from devenv.stack import ServiceSpec
    from devenv.up import Context


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("devenv", "devenv: databases for tests")
    group.addoption("--devenv-file", default=None,
                    help="devenv.yaml of the stack (default: ini devenv_file or ./devenv.yaml)")
    group.addoption("--devenv-keep", action="store_true", default=None,
                    help="leave the stack running after the run (the default)")
    group.addoption("--devenv-down", action="store_true", default=None,
                    help="stop the stack after the run (data volumes are kept)")
    parser.addini("devenv_file", "devenv.yaml of the stack", default="devenv.yaml")
    parser.addini("devenv_down", "stop the stack after the run", type="bool", default=False)
    parser.addini("devenv_service", "service of the devenv_db and devenv_redis fixtures",
                  default="")
    parser.addini("devenv_prefetch", "clones made ahead per service (0: clone on demand)",
                  default="4")


def _manifest(config: pytest.Config) -> Path:
    given = config.getoption("--devenv-file") or config.getini("devenv_file")
    path = Path(str(given))
    return path if path.is_absolute() else Path(config.rootpath) / path


def _run_owner(config: pytest.Config) -> str:
    """The pid of the process that owns this run (the xdist controller under xdist)."""
    worker = getattr(config, "workerinput", None)
    pid = os.getppid() if worker is not None else os.getpid()
    return f"pytest-{pid}"


def _worker(config: pytest.Config) -> str:
    worker = getattr(config, "workerinput", None)
    return str(worker["workerid"]) if worker else "main"


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

    @property
    def services(self) -> dict[str, ServiceSpec]:
        return self.context.stack.services

    def env(self, service: str) -> dict[str, str]:
        from devenv import facts

        ctx = self.context
        return facts.env_vars(ctx.stack, self._service(service), ctx.secrets, ctx.ports)

    def _service(self, name: str) -> ServiceSpec:
        from devenv.errors import DevenvError

        if name not in self.services:
            raise DevenvError(f"no service named '{name}' (services: "
                              f"{', '.join(self.services)})")
        return self.services[name]

    def admin(self, svc: ServiceSpec) -> psycopg.Connection[Any]:
        import psycopg

        assert svc.server is not None
        conn = self._admins.get(svc.server)
        if conn is None or conn.closed:
            server = self.context.stack.servers[svc.server]
            conn = psycopg.connect(self.context.admin_url(server), autocommit=True)
            self._admins[svc.server] = conn
        return conn

    def clone(self, service: str) -> str:
        """A fresh clone of the service's template (made ahead on the pool when prefetching)."""
        from devenv import golden

        svc = self._service(service)
        if service not in self.templates:
            self.templates[service] = golden.ensure_template(self.context, svc, say=False)
        if self.prefetch <= 0:
            return golden.clone(self.context, svc, tag=self.worker, owner=self.owner,
                                conn=self.admin(svc), template=self.templates[service])
        return self._clones().take(svc, self.templates[service])

    def drop(self, service: str, database: str) -> None:
        from devenv import golden

        svc = self._service(service)
        if self._pool is not None:
            self._pool.drop(svc, database)
        else:
            golden.drop_clone(self.context, svc, database, conn=self.admin(svc))

    def _clones(self) -> ClonePool:
        from devenv.clonepool import ClonePool

        if self._pool is None:
            self._pool = ClonePool(self.context, tag=self.worker, owner=self.owner,
                                   depth=self.prefetch)
        return self._pool

    def close(self) -> list[str]:
        """Finish pending drops, drop unused clones, close sessions; the problems seen."""
        errors = self._pool.close() if self._pool is not None else []
        self._pool = None
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

    @property
    def conn(self) -> psycopg.Connection[Any]:
        """A psycopg connection as the service's role (opened on first use, closed after)."""
        import psycopg

        if self._conn is None:
            self._conn = psycopg.connect(self.url)
        return self._conn


@pytest.fixture(scope="session")
def devenv_stack(request: pytest.FixtureRequest) -> Iterator[DevenvStack]:
    from devenv import golden
    from devenv.console import Console
    from devenv.errors import DevenvError
    from devenv.stack import load_stack
    from devenv.up import up

    config = request.config
    try:
        stack = load_stack(_manifest(config))
        ctx = up(stack, Console(quiet=True), names=[])
    except DevenvError as exc:
        pytest.fail(f"devenv could not bring the stack up: {exc}", pytrace=False)
    config.stash[_USED] = True
    owner = _run_owner(config)
    golden.prune(ctx, keep=lambda tag: not _abandoned(tag))
    try:
        prefetch = int(str(config.getini("devenv_prefetch")))
    except ValueError:
        pytest.fail("devenv_prefetch (pytest ini) must be a whole number, e.g. 4",
                    pytrace=False)
    handle = DevenvStack(ctx, owner, _worker(config), prefetch)
    yield handle
    for problem in handle.close():
        warnings.warn(f"devenv: {problem} (the next run's janitor drops leftovers)",
                      stacklevel=1)


def _abandoned(tag: str) -> bool:
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


_USED = pytest.StashKey[bool]()


@pytest.fixture
def devenv_database(devenv_stack: DevenvStack) -> Iterator[Callable[[str], Database]]:
    from devenv import facts

    made: list[Database] = []

    def make(service: str) -> Database:
        name = devenv_stack.clone(service)
        ctx = devenv_stack.context
        svc = devenv_stack.services[service]
        env = facts.env_vars(ctx.stack, svc, ctx.secrets, ctx.ports, database=name)
        db = Database(service, name, env["DATABASE_URL"], env)
        made.append(db)
        return db

    yield make
    for db in made:
        if db._conn is not None:
            db._conn.close()
        devenv_stack.drop(db.service, db.name)


def _default_service(config: pytest.Config, stack: DevenvStack, *, need: str) -> str:
    chosen = str(config.getini("devenv_service"))
    if chosen:
        return chosen
    candidates = [s.name for s in stack.services.values()
                  if (s.database if need == "database" else s.redis)]
    if len(candidates) != 1:
        pytest.fail(f"devenv_{'db' if need == 'database' else 'redis'}: several services have "
                    f"a {need} ({', '.join(candidates)}); set `devenv_service` in the pytest "
                    "ini, or use the devenv_database('name') factory", pytrace=False)
    return candidates[0]


@pytest.fixture
def devenv_db(request: pytest.FixtureRequest, devenv_stack: DevenvStack,
              devenv_database: Callable[[str], Database]) -> Database:
    return devenv_database(_default_service(request.config, devenv_stack, need="database"))


@dataclass
class RedisNamespace:
    client: redis.Redis
    prefix: str

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"


@pytest.fixture
def devenv_redis(request: pytest.FixtureRequest,
                 devenv_stack: DevenvStack) -> Iterator[RedisNamespace]:
    import redis as redis_lib

    service = _default_service(request.config, devenv_stack, need="redis")
    env = devenv_stack.env(service)
    client = redis_lib.Redis.from_url(env["REDIS_URL"])
    prefix = f"{env['REDIS_KEY_PREFIX']}test:{uuid.uuid4().hex[:12]}:"
    yield RedisNamespace(client, prefix)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.unlink(*keys)
    client.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if getattr(config, "workerinput", None) is not None:
        return  # the xdist controller decides, once, for all workers
    down = config.getoption("--devenv-down")
    keep = config.getoption("--devenv-keep")
    wanted = bool(down) or (config.getini("devenv_down") and not keep)
    if not wanted:
        return
    manifest = _manifest(config)
    if not manifest.exists():
        return
    from devenv.console import Console
    from devenv.stack import load_stack
    from devenv.up import down as stop

    stop(load_stack(manifest), Console(quiet=True), volumes=False)
