"""PgBouncer in front of one PostgreSQL server, SCRAM end to end."""

from __future__ import annotations

import base64
from typing import Any

from devenv.secrets import Secrets
from devenv.stack import ADMIN_USER, ServerSpec, Stack
from devenv.templates import render_template

USERLIST = "/tmp/devenv-userlist.txt"


def pooled_users(server: ServerSpec, stack: Stack) -> list[str]:
    users = [ADMIN_USER]
    users += [s.role for s in stack.services.values() if s.pgbouncer == server.name and s.role]
    return list(dict.fromkeys(users))


class PgBouncer:
    def compose_service(self, server: ServerSpec, stack: Stack) -> dict[str, Any]:
        assert server.target is not None
        port = str(server.container_port)
        script = (f'echo "$$DEVENV_USERLIST" | base64 -d > {USERLIST} '
                  "&& exec /usr/bin/pgbouncer /etc/pgbouncer/pgbouncer.ini")
        return {
            "image": server.image,
            "command": ["sh", "-c", script],
            "volumes": [f"./{server.name}/pgbouncer.ini:/etc/pgbouncer/pgbouncer.ini:ro"],
            "depends_on": {server.target: {"condition": "service_healthy"}},
            # pg_isready ships in the real edoburu/pgbouncer image; an auth request counts as up.
            "healthcheck": {"test": ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", port]},
        }

    def config_files(self, server: ServerSpec, stack: Stack) -> dict[str, str]:
        assert server.target is not None and server.pool is not None
        target = stack.servers[server.target]
        text = render_template(
            "pgbouncer.ini.j2",
            server=server,
            target=target,
            pool=server.pool,
            admin=ADMIN_USER,
            userlist=USERLIST,
            manifest=stack.manifest_name,
        )
        return {f"{server.name}/pgbouncer.ini": text}

    def secret_env(self, server: ServerSpec, stack: Stack, secrets: Secrets) -> dict[str, str]:
        assert server.target is not None
        lines = [f'"{u}" "{secrets.get(server.target, u)}"' for u in pooled_users(server, stack)]
        body = "\n".join(lines) + "\n"
        return {"DEVENV_USERLIST": base64.b64encode(body.encode()).decode()}
