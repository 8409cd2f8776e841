"""`devenv logs | psql | redis-cli`: the commands people reach for when poking a stack."""

from __future__ import annotations

import os
import shutil
import subprocess

from devenv.console import Console
from devenv.engine.context import Context, attach, no_database, select
from devenv.errors import DevenvError
from devenv.masking import mask
from devenv.model import facts
from devenv.model.replicas import all_replicas
from devenv.model.stack import Stack

ERASE_LINE = "\x1b[2K"


def logs(stack: Stack, console: Console, *, server: str | None, follow: bool,
         tail: int) -> None:
    """One server's or replica's logs (each is a compose service), or all of them."""
    ctx = attach(stack, console)
    replicas = [r.name for r in all_replicas(list(stack.servers.values()))]
    if server is not None and server not in stack.servers and server not in replicas:
        listed = f"servers: {', '.join(stack.servers)}" + (
            f"; replicas: {', '.join(replicas)}" if replicas else "")
        what = "server or replica" if replicas else "server"
        raise DevenvError(f"no {what} named '{server}' ({listed})")
    args = ["logs", "--no-color", "--tail", str(tail), *(["-f"] if follow else []),
            *([server] if server else [])]

    def show(line: str) -> None:
        # Compose (2.26) starts every line with an erase-line escape even when piped and with
        # `--ansi never`; devenv's piped output carries no escape codes.
        console.result(mask(line.removeprefix(ERASE_LINE), ctx.secrets.all()))

    code = ctx.docker.stream(ctx.docker.compose_command(*args), show)
    if code not in (0, 130):
        raise DevenvError(f"docker compose logs exited with {code}")


def _container(ctx: Context, server: str) -> str:
    found = ctx.docker.by_server().get(server)
    if found is None or found.state != "running":
        raise DevenvError(f"server '{server}' is not running", hint="run `devenv up`")
    return found.name


def psql(stack: Stack, console: Console, *, name: str | None, args: list[str],
         role: str = "service") -> int:
    """psql as the service, or as roles.admin / roles.migration on a service's database. The
    password travels in PGPASSWORD, never on the command line or in the output."""
    ctx = attach(stack, console)
    if role == "service":
        assert name is not None
        svc = select(stack, [name])[0]
        found = facts.db_facts(stack, svc, ctx.secrets, ctx.ports)
        if found is None or svc.server is None:
            raise no_database(svc)
        db = found
    else:
        svc = facts.database_service(stack, name)
        db = facts.role_facts(stack, svc, ctx.secrets, ctx.ports, role)
        assert svc.server is not None
        console.note(f"psql as {db.user} ({role} role) on {db.name}, server {svc.server}")
    env = {"PGHOST": db.host, "PGPORT": str(db.port), "PGDATABASE": db.name,
           "PGUSER": db.user, "PGPASSWORD": db.password}
    if shutil.which("psql"):
        return subprocess.call(["psql", *args], env={**os.environ, **env})
    # No client on this machine: the server's own, inside its container, over its loopback.
    server = stack.servers[svc.server]
    inside = {**env, "PGHOST": "127.0.0.1", "PGPORT": str(server.container_port)}
    os.environ.update(inside)
    return ctx.docker.interactive(_container(ctx, server.name), ["psql", *args], list(inside))


def redis_cli(stack: Stack, console: Console, *, name: str, args: list[str]) -> int:
    ctx = attach(stack, console)
    svc = select(stack, [name])[0]
    redis = facts.redis_facts(stack, svc, ctx.secrets, ctx.ports)
    if redis is None or svc.redis is None:
        raise DevenvError(f"service '{name}' has no Redis", hint=f"add `redis: true` to "
                          f"services.{name}")
    os.environ["REDISCLI_AUTH"] = redis.password  # redis-cli reads it: no -a on the command line
    user = ["--user", redis.user]
    if shutil.which("redis-cli"):
        return subprocess.call(["redis-cli", "-h", redis.host, "-p", str(redis.port), *user,
                                *args])
    server = stack.servers[svc.redis]
    return ctx.docker.interactive(_container(ctx, server.name),
                                  ["redis-cli", "-p", str(server.container_port), *user, *args],
                                  ["REDISCLI_AUTH"])
