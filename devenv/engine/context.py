"""The runtime context of a stack: its passwords, ports, Docker and console, and the one way
to open an admin session. Every executor above the model works from one of these.

`prepare` makes one for `up` (writing generated files first); `attach` makes one for a stack
`up` already started, reading .devenv/ and writing nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from devenv.console import Console
from devenv.engine.docker import Docker
from devenv.engine.images import refine
from devenv.engine.ports import assign_auto
from devenv.errors import STACK_DOWN_HINT, DevenvError, last_line
from devenv.model import facts
from devenv.model.credentials import Secrets, needed
from devenv.model.kinds.pgbouncer import CONSOLE_USER
from devenv.model.replicas import Replica, replica_port
from devenv.model.stack import ADMIN_USER, ServerSpec, ServiceSpec, Stack
from devenv.store import passwords, state

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")
CONNECT_TIMEOUT = 5  # seconds for an admin session; a stopped server answers at once
# pg_temp last: named explicitly, the session's temporary schema is never searched first
# (https://www.postgresql.org/docs/current/sql-createfunction.html#SQL-CREATEFUNCTION-SECURITY)
ADMIN_OPTIONS = "-c search_path=pg_catalog,pg_temp"


@dataclass(frozen=True)
class Context:
    stack: Stack
    secrets: Secrets
    ports: dict[str, int]
    docker: Docker
    console: Console

    def admin_url(self, server: ServerSpec, database: str = ADMIN_USER, *,
                  replica: Replica | None = None) -> str:
        """The superuser's URL to `server`, or to one of its replicas (same password: a
        replica is a copy of its primary's cluster). KeyError: the replica has no port yet."""
        port = self.replica_port(replica) if replica else facts.port_of(server, self.ports)
        return facts.pg_url(ADMIN_USER, self.secrets.get(server.name, ADMIN_USER),
                            facts.host_of(server), port, database)

    def replica_port(self, replica: Replica) -> int:
        """The replica's host port: the manifest's, or the one `up` chose (`auto`)."""
        port = replica_port(replica, self.ports)
        if port is None:
            raise KeyError(replica.name)  # never started: callers report it as down
        return port

    def redis_admin_url(self, server: ServerSpec) -> str:
        return (f"redis://default:{self.secrets.get(server.name, 'default')}@"
                f"{facts.host_of(server)}:{facts.port_of(server, self.ports)}/0")

    def console_url(self, server: ServerSpec) -> str:
        """PgBouncer's admin console (SHOW POOLS, PAUSE, RESUME, KILL)."""
        return facts.pg_url(CONSOLE_USER, self.secrets.get(server.name, CONSOLE_USER),
                            facts.host_of(server), facts.port_of(server, self.ports), "pgbouncer")

    def admin_connect(self, server: ServerSpec | str, database: str = ADMIN_USER, *,
                      replica: Replica | None = None,
                      deadline: float | None = None) -> psycopg.Connection[Any]:
        """The one place a superuser session is opened (tests/engine/test_admin_sessions.py
        keeps it so), raising psycopg's own error: for callers that retry until a server
        answers. Everyone else wants `admin_session`.

        The session's search_path is the catalog only, a startup option that overrides the
        database's and the role's own defaults: a service owns its database and can set its
        search_path to put a view named `pg_extension` ahead of the catalog, whose function
        would then run as the superuser (issue 27). `deadline` (time.monotonic()) bounds the
        connect and every statement by what is left of it, so a lock held by someone else
        cannot hang `up --timeout`.
        """
        import psycopg  # noqa: PLC0415 - ~0.2 s; `devenv status` of a stopped stack never pays

        spec = self.stack.servers[server] if isinstance(server, str) else server
        options, timeout = ADMIN_OPTIONS, CONNECT_TIMEOUT
        if deadline is not None:
            left_ms = max(int((deadline - time.monotonic()) * 1000), 1)
            options += f" -c statement_timeout={left_ms}"
            timeout = min(timeout, max(left_ms // 1000, 1))
        return psycopg.connect(self.admin_url(spec, database, replica=replica), autocommit=True,
                               connect_timeout=timeout, options=options)

    def admin_session(self, server: ServerSpec | str, database: str = ADMIN_USER, *,
                      replica: Replica | None = None,
                      deadline: float | None = None) -> psycopg.Connection[Any]:
        """An autocommit session as the superuser (see `admin_connect`), with one error
        wording for every caller that does not retry."""
        import psycopg  # noqa: PLC0415 - loaded by admin_connect anyway

        spec = self.stack.servers[server] if isinstance(server, str) else server
        try:
            return self.admin_connect(spec, database, replica=replica, deadline=deadline)
        except psycopg.OperationalError as exc:
            raise unreachable(replica.name if replica else spec.name, exc,
                              kind="replica" if replica else "server") from None

    def console_session(self, bouncer: ServerSpec) -> psycopg.Connection[Any]:
        """PgBouncer's admin console: not the superuser and not PostgreSQL, so apart from
        admin sessions (PgBouncer refuses their startup options)."""
        import psycopg  # noqa: PLC0415 - as in admin_connect

        try:
            return psycopg.connect(self.console_url(bouncer), autocommit=True,
                                   connect_timeout=CONNECT_TIMEOUT)
        except psycopg.OperationalError as exc:
            raise unreachable(bouncer.name, exc) from None


def unreachable(name: str, exc: BaseException, *, kind: str = "server") -> DevenvError:
    """The one wording of "a server (or replica) of a stack that should be up does not
    answer"."""
    return DevenvError(f"cannot reach {kind} '{name}' ({last_line(exc)})", hint=STACK_DOWN_HINT)


def no_database(svc: ServiceSpec) -> DevenvError:
    return DevenvError(f"service '{svc.name}' has no database",
                       hint=f"add `postgres: true` to services.{svc.name}")


def select(stack: Stack, names: list[str]) -> list[ServiceSpec]:
    unknown = [n for n in names if n not in stack.services]
    if unknown:
        raise DevenvError(
            f"no service named {', '.join(repr(n) for n in unknown)} in {stack.manifest_name} "
            f"(services: {', '.join(stack.services)})")
    return [stack.services[n] for n in names] if names else list(stack.services.values())


def needed_servers(stack: Stack, services: list[ServiceSpec]) -> list[ServerSpec]:
    names: set[str] = set()
    for svc in services:
        for ref in (svc.server, svc.pgbouncer, svc.redis):
            if ref:
                names.add(ref)
        for other in svc.reads:  # reading another database needs its role to exist
            target = stack.services[other].server
            if target:
                names.add(target)
    return [s for s in stack.servers.values() if s.name in names]


def prepare(stack: Stack, console: Console, *, choose_ports: bool = True,
            previous: dict[Path, str | None] | None = None) -> Context:
    """Secrets, ports and generated files: everything `up` needs before touching Docker.
    `previous`: see devenv.store.generated.write."""
    # Renders with yaml and jinja2 (~40 ms of imports): a warm `up` never gets here.
    from devenv.store import generated  # noqa: PLC0415

    docker = Docker(stack)
    stack = refine(stack, docker)  # PGDATA and the major from the images themselves
    creds = passwords.ensure(stack)
    current = state.load(stack)
    chosen = assign_auto(stack, current.ports) if choose_ports else current.ports
    for rel in generated.write(stack, chosen, creds, previous=previous):
        if not (stack.root / rel).is_relative_to(stack.root / stack.state_dir):
            console.say(f"wrote {rel}")
    if chosen != current.ports:
        current.ports = chosen
        state.save(stack, current)
    return Context(stack, creds, chosen, docker, console)


def attach(stack: Stack, console: Console, *,
           only: list[ServiceSpec] | None = None) -> Context:
    """A Context for a stack that `up` already started: reads .devenv/, writes nothing.

    `only`: the command works on these services' databases alone, so a password missing for
    anything else (a server added to the manifest since the last `up`) does not stop it: a
    `repair` then works before the `up` that its drift blocks (issue 28)."""
    creds = passwords.load(stack.root / stack.state_dir)
    if creds is None:
        raise DevenvError(f"{stack.state_dir}/ holds no passwords for {stack.project} yet",
                          hint="run `devenv up` first")
    wanted = needed(stack)
    if only is not None:
        wanted = [k for k in wanted if any(k == f"{s.server}/{s.role}" for s in only)]
    missing = [k for k in wanted if k not in creds.passwords]
    if missing:
        raise DevenvError(f"the manifest changed since the last `devenv up` (no password for "
                          f"{', '.join(missing)})", hint="run `devenv up` to apply it")
    return Context(stack, creds, state.load(stack).ports, Docker(stack), console)


def parallel(calls: list[Callable[[], T]]) -> list[T]:
    if len(calls) <= 1:
        return [c() for c in calls]
    with ThreadPoolExecutor(max_workers=min(8, len(calls))) as pool:
        futures = [pool.submit(c) for c in calls]
        return [f.result() for f in futures]
