"""Which passwords a stack needs (pure): each server's own users, as its kind says, and each
service's on the servers it uses."""

from __future__ import annotations

from devenv.model.kinds import KINDS
from devenv.model.secrets import Secrets, new_password
from devenv.model.stack import Stack

__all__ = ["Secrets", "needed", "new_password"]


def needed(stack: Stack) -> list[str]:
    """Every key `<server>/<user>` the stack needs a password for, in a stable order."""
    keys: list[str] = []
    for server in stack.servers.values():
        keys += [f"{server.name}/{user}" for user in KINDS[server.kind].users(server, stack)]
    for svc in stack.services.values():
        if svc.server and svc.role:
            keys.append(f"{svc.server}/{svc.role}")
        if svc.redis:
            keys.append(f"{svc.redis}/{svc.name}")
    return list(dict.fromkeys(keys))
