"""PgBouncer in front of the databases of the services that ask for it, SCRAM end to end.

The image (edoburu/docker-pgbouncer) runs as `postgres` (uid 70), which cannot read a Compose
file secret (bind-mounted with the host file's owner and mode 0600). So the container starts as
root, copies the userlist to a file of postgres's, and PgBouncer drops to postgres itself
(`user = postgres` in pgbouncer.ini: https://www.pgbouncer.org/config.html#user).

A pooled service on a server with replicas gets a second entry, `<database>_readonly`, for the
same role and database on the replicas (DATABASE_READONLY_URL). Several replicas are one entry
with a host list: PgBouncer (1.17+; the image ships 1.25) round-robins new server connections
over them, which is what `load_balance_hosts = round-robin`, its default, means. All replicas
listen on the primary's container port, so one `port` serves the list. Auth is the read-write
entry's: the role and its SCRAM secret reach the replicas by physical replication.
"""

from __future__ import annotations

import hashlib
from typing import Any

from devenv.model.replicas import readonly_entry, replicas_of
from devenv.model.secrets import Secrets
from devenv.model.stack import ServerSpec, ServiceSpec, Stack, secret_target
from devenv.model.templates import render_template

USERLIST = "/tmp/devenv-userlist.txt"
USERLIST_SECRET = "userlist"
RUN_AS = "postgres"
CONSOLE_USER = "pgbouncer"  # the admin console user (SHOW POOLS, PAUSE, RELOAD)


def pooled(server: ServerSpec, stack: Stack) -> list[ServiceSpec]:
    return [s for s in stack.services.values() if s.pgbouncer == server.name]


def entries(server: ServerSpec, stack: Stack) -> list[tuple[str, str, int, str]]:
    """(entry, host or host list, port, dbname) of each [databases] line: a pooled service's
    database, then its `<database>_readonly` entry on the replicas when its server has any."""
    out = []
    for svc in pooled(server, stack):
        if not (svc.database and svc.server):
            continue
        primary = stack.servers[svc.server]
        out.append((svc.database, primary.name, primary.container_port, svc.database))
        replicas = replicas_of(primary)
        if replicas:
            out.append((readonly_entry(svc.database), ",".join(r.name for r in replicas),
                        primary.container_port, svc.database))
    return out


def config_text(server: ServerSpec, stack: Stack) -> str:
    assert server.pool is not None
    databases = entries(server, stack)
    return render_template(
        "pgbouncer.ini.j2",
        server=server,
        pool=server.pool,
        databases=databases,
        readonly=any(name != dbname for name, _, _, dbname in databases),
        console=CONSOLE_USER,
        userlist=USERLIST,
        manifest=stack.manifest_name,
    )


class PgBouncer:
    family = "pgbouncer"
    image = "edoburu/pgbouncer:latest"
    port = 6432

    def users(self, server: ServerSpec, stack: Stack) -> list[str]:
        return [CONSOLE_USER]  # its admin console (PAUSE/RESUME for resets)

    def compose_service(self, server: ServerSpec, stack: Stack) -> dict[str, Any]:
        port = str(server.container_port)
        source = secret_target(server.name, USERLIST_SECRET)
        script = (f"cp {source} {USERLIST} && chown {RUN_AS} {USERLIST} && chmod 0400 {USERLIST} "
                  "&& exec /usr/bin/pgbouncer /etc/pgbouncer/pgbouncer.ini")
        # A bind-mounted file does not change the container's config: this label does, so
        # compose restarts PgBouncer when its databases change.
        digest = hashlib.sha256(config_text(server, stack).encode()).hexdigest()[:16]
        service: dict[str, Any] = {
            "image": server.image,
            "user": "0",
            "command": ["sh", "-c", script],
            "volumes": [f"./{server.name}/pgbouncer.ini:/etc/pgbouncer/pgbouncer.ini:ro"],
            "labels": {"dev.devenv.config-hash": digest},
            # pg_isready ships in the real edoburu/pgbouncer image; an auth reply counts as up.
            "healthcheck": {"test": ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", port]},
        }
        # No depends_on: PgBouncer connects to servers lazily, and compose would start every
        # pooled server with it (`devenv up auth` must start only auth's server).
        return service

    def config_files(self, server: ServerSpec, stack: Stack) -> dict[str, str]:
        return {f"{server.name}/pgbouncer.ini": config_text(server, stack)}

    def secret_files(self, server: ServerSpec, stack: Stack, secrets: Secrets) -> dict[str, str]:
        lines = [f'"{CONSOLE_USER}" "{secrets.get(server.name, CONSOLE_USER)}"']
        for svc in pooled(server, stack):
            if svc.server and svc.role:
                lines.append(f'"{svc.role}" "{secrets.get(svc.server, svc.role)}"')
        return {USERLIST_SECRET: "\n".join(dict.fromkeys(lines)) + "\n"}
