"""Which passwords a stack needs, and the frozen set of them the rest of devenv reads (pure).

Kept in `.devenv/secrets.json` by `devenv.store.passwords`; generated once and never changed:
the official images read POSTGRES_PASSWORD only on first init.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from devenv.model.replicas import REPLICATION_ROLE
from devenv.model.stack import ADMIN_USER, Stack

_ALPHABET = string.ascii_letters + string.digits  # safe unquoted in URLs, dotenv and userlists


def needed(stack: Stack) -> list[str]:
    """Every key `<server>/<user>` the stack needs a password for, in a stable order."""
    keys: list[str] = []
    for server in stack.servers.values():
        if server.is_database:
            keys.append(f"{server.name}/{ADMIN_USER}")
            keys += [f"{server.name}/{r}" for r in (stack.migration_role, stack.admin_role) if r]
            if server.replicas:
                keys.append(f"{server.name}/{REPLICATION_ROLE}")
        elif server.is_redis:
            keys.append(f"{server.name}/default")
        elif server.kind == "pgbouncer":
            keys.append(f"{server.name}/pgbouncer")
    for svc in stack.services.values():
        if svc.server and svc.role:
            keys.append(f"{svc.server}/{svc.role}")
        if svc.redis:
            keys.append(f"{svc.redis}/{svc.name}")
    return list(dict.fromkeys(keys))


@dataclass(frozen=True)
class Secrets:
    passwords: dict[str, str]

    def get(self, server: str, user: str) -> str:
        return self.passwords[f"{server}/{user}"]

    def all(self) -> list[str]:
        return sorted(set(self.passwords.values()))


def new_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(32))
