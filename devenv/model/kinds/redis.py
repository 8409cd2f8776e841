"""Redis: one ACL user per service, limited to its key prefix (works on Redis Cluster too)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from devenv.model.credentials import Secrets
from devenv.model.stack import ServerSpec, Stack

ACL_FILE = "/tmp/devenv-users.acl"
PERSISTENCE = {
    "aof": ["--appendonly", "yes"],
    "rdb": ["--appendonly", "no", "--save", "60 1"],
    "none": ["--appendonly", "no", "--save", "''"],
}


def acl_lines(server: ServerSpec, stack: Stack, secrets: Secrets) -> list[str]:
    """ACL rules with SHA-256 password hashes: the plain passwords never enter the container."""

    def digest(user: str) -> str:
        return hashlib.sha256(secrets.get(server.name, user).encode()).hexdigest()

    lines = [f"user default on #{digest('default')} ~* &* +@all"]
    for svc in stack.services.values():
        if svc.redis == server.name:
            prefix = svc.key_prefix
            lines.append(
                f"user {svc.name} on #{digest(svc.name)} resetchannels ~{prefix}* &{prefix}* "
                "+@all -@admin -@dangerous"
            )
    return lines


class Redis:
    def compose_service(self, server: ServerSpec, stack: Stack) -> dict[str, Any]:
        # The ACL file is written from the env_file at each start, so users follow the manifest
        # and no secret is ever in a committed file. Plain image tools only: sh and base64.
        args = " ".join(["--aclfile", ACL_FILE, *PERSISTENCE[server.persistence]])
        script = (f'echo "$$DEVENV_REDIS_ACL" | base64 -d > {ACL_FILE} '
                  f"&& exec redis-server {args}")
        return {
            "image": server.image,
            "command": ["sh", "-c", script],
            "volumes": [f"{server.name}-data:/data"],
            "healthcheck": {
                # REDISCLI_AUTH comes from the env_file; a NOAUTH reply does not contain PONG.
                "test": ["CMD-SHELL", f"redis-cli -p {server.container_port} ping | grep -q PONG"],
            },
        }

    def config_files(self, server: ServerSpec, stack: Stack) -> dict[str, str]:
        return {}

    def secret_env(self, server: ServerSpec, stack: Stack, secrets: Secrets) -> dict[str, str]:
        acl = "\n".join(acl_lines(server, stack, secrets)) + "\n"
        return {
            "REDISCLI_AUTH": secrets.get(server.name, "default"),
            "DEVENV_REDIS_ACL": base64.b64encode(acl.encode()).decode(),
        }
