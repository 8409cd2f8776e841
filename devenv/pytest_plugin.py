"""pytest plugin: real, isolated databases per test, cloned from each service's golden template.

Registered through the `pytest11` entry point, so it loads in every pytest run of a project that
installs devenv: this module imports nothing heavy at the top, and a run that never asks for a
devenv fixture pays nothing. Fixtures:

- `devenv_stack` (session): the project's stack and each service's connection facts. The
  servers a service needs come up (or are found up) when a test first asks for that service,
  so a cold run of one service's tests starts only its servers. Under pytest-xdist every
  worker asks, and the project lock in .devenv/ makes the first do the work while the others
  find it warm.
- `devenv_database` (function): a factory, `devenv_database("auth")` -> a fresh database cloned
  from auth's template, with `.url`, `.env`, `.conn`; dropped after the test.
- `devenv_db` (function): the same for the default service (`devenv_service` ini, or the only
  service with a database).
- `devenv_redis` (function): a Redis client of the service's ACL user and a per-test key
  prefix, cleaned after the test.
A janitor drops clones left by killed runs (their pytest process is gone) on the next run.

Cold start: `devenv_db` and `devenv_redis` know their service before anything heavy loads, so
on a stack with no container they start its containers first (engine.start.launch: no
database driver needed) and load psycopg, redis-py and the engine while Docker and initdb
work. The `devenv_database("name")` factory learns its service only inside the test: it does
the same when a single service has a database, and otherwise starts from the loaded engine.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from devenv.errors import DevenvError  # a leaf: no third-party import

if TYPE_CHECKING:
    from devenv.data.testing import Database, DevenvStack, RedisNamespace
    from devenv.engine.start import Launch
    from devenv.model.stack import ServiceSpec, Stack

_USED = pytest.StashKey[bool]()  # this process set up devenv_stack: `down` has work to do
_STACK: pytest.StashKey[Stack] = pytest.StashKey()  # the manifest, resolved (stack.cache)
_LAUNCH: pytest.StashKey[Launch | None] = pytest.StashKey()  # the early start, once tried


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


def _stack(config: pytest.Config) -> Stack:
    """The resolved manifest: cached JSON when unchanged, so no pydantic, jinja2 or yaml."""
    if _STACK not in config.stash:
        from devenv.store import stackcache  # noqa: PLC0415 - only a run that uses devenv

        try:
            config.stash[_STACK] = stackcache.load(_manifest(config))
        except DevenvError as exc:
            pytest.fail(f"devenv could not load the stack: {exc}", pytrace=False)
    return config.stash[_STACK]


def _start_early(config: pytest.Config, service: str) -> None:
    """On a stack with no container: the service's containers, started before the imports.

    Only before devenv_stack exists: it takes the start over on its first `up`, and a start
    nobody takes over would hold the project lock that `up` then waits for."""
    if _LAUNCH in config.stash or config.stash.get(_USED, False):
        return
    from devenv.engine import start  # noqa: PLC0415 - no database driver: that is the point

    try:
        config.stash[_LAUNCH] = start.launch(_stack(config), [service])
    except DevenvError:  # the Docker engine is not there, say: `up` reports it in full
        config.stash[_LAUNCH] = None


def _run_owner(config: pytest.Config) -> str:
    """The pid of the process that owns this run (the xdist controller under xdist)."""
    worker = getattr(config, "workerinput", None)
    pid = os.getppid() if worker is not None else os.getpid()
    return f"pytest-{pid}"


def _worker(config: pytest.Config) -> str:
    worker = getattr(config, "workerinput", None)
    return str(worker["workerid"]) if worker else "main"


@pytest.fixture(scope="session")
def devenv_stack(request: pytest.FixtureRequest) -> Iterator[DevenvStack]:
    # psycopg, redis-py and devenv's engine (~0.5 s): loaded only once a test asks for a fixture.
    from devenv.data import testing  # noqa: PLC0415

    config = request.config
    try:
        prefetch = int(str(config.getini("devenv_prefetch")))
    except ValueError:
        pytest.fail("devenv_prefetch (pytest ini) must be a whole number, e.g. 4",
                    pytrace=False)
    config.stash[_USED] = True
    handle = testing.DevenvStack(_stack(config), _run_owner(config), _worker(config), prefetch,
                                 launched=config.stash.get(_LAUNCH, None))
    yield handle
    for problem in handle.close():
        warnings.warn(f"devenv: {problem} (the next run's janitor drops leftovers)",
                      stacklevel=1)


@pytest.fixture
def devenv_database(request: pytest.FixtureRequest) -> Iterator[Callable[[str], Database]]:
    # The factory learns its service inside the test; with one service that has a database,
    # that is the one, and its containers can start before the imports as for devenv_db.
    with_database = [s.name for s in _stack(request.config).services.values() if s.database]
    if len(with_database) == 1:
        _start_early(request.config, with_database[0])
    devenv_stack: DevenvStack = request.getfixturevalue("devenv_stack")
    made: list[Database] = []

    def make(service: str) -> Database:
        try:
            db = devenv_stack.database(service)
        except DevenvError as exc:  # the stack could not come up, or a clone not be made
            pytest.fail(f"devenv: {exc}", pytrace=False)
        made.append(db)
        return db

    yield make
    for db in made:
        db.close()
        devenv_stack.drop(db.service, db.name)


def _default_service(config: pytest.Config, services: dict[str, ServiceSpec], *,
                     need: str) -> str:
    chosen = str(config.getini("devenv_service"))
    if chosen:
        return chosen
    candidates = [s.name for s in services.values()
                  if (s.database if need == "database" else s.redis)]
    if len(candidates) != 1:
        pytest.fail(f"devenv_{'db' if need == 'database' else 'redis'}: several services have "
                    f"a {need} ({', '.join(candidates)}); set `devenv_service` in the pytest "
                    "ini, or use the devenv_database('name') factory", pytrace=False)
    return candidates[0]


@pytest.fixture
def devenv_db(request: pytest.FixtureRequest) -> Database:
    # devenv_database (and devenv_stack) requested only once the early start is under way
    service = _default_service(request.config, _stack(request.config).services,
                               need="database")
    _start_early(request.config, service)
    make: Callable[[str], Database] = request.getfixturevalue("devenv_database")
    return make(service)


@pytest.fixture
def devenv_redis(request: pytest.FixtureRequest) -> Iterator[RedisNamespace]:
    service = _default_service(request.config, _stack(request.config).services, need="redis")
    _start_early(request.config, service)
    devenv_stack: DevenvStack = request.getfixturevalue("devenv_stack")
    try:
        devenv_stack.env(service)  # brings up its servers
    except DevenvError as exc:
        pytest.fail(f"devenv: {exc}", pytrace=False)
    with devenv_stack.redis_namespace(service) as namespace:
        yield namespace


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """`devenv_down`: stop the stack after a run that used it (never after one that did not).

    Under xdist the workers use the fixtures and the controller decides, once, for all of them:
    each worker reports whether it used the stack (pytest_testnodedown below).
    """
    config = session.config
    if getattr(config, "workerinput", None) is not None:
        config.workeroutput["devenv_used"] = config.stash.get(_USED, False)  # type: ignore[attr-defined]
        return
    down = config.getoption("--devenv-down")
    keep = config.getoption("--devenv-keep")
    wanted = bool(down) or (config.getini("devenv_down") and not keep)
    if not wanted or not config.stash.get(_USED, False):
        return
    manifest = _manifest(config)
    if not manifest.exists():
        return
    from devenv.data import testing  # noqa: PLC0415 - only a run that used the stack stops it

    testing.stop(manifest)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """An xdist worker finished: remember whether it used the stack."""
    output = getattr(node, "workeroutput", None) or {}
    config = getattr(node, "config", None)
    if output.get("devenv_used") and config is not None:
        config.stash[_USED] = True
