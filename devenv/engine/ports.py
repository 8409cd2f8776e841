"""Host ports: choose `auto` ones once, and refuse to start on a port someone else holds."""

from __future__ import annotations

import socket
from collections.abc import Callable

from devenv.engine.docker import ContainerState
from devenv.errors import DevenvError
from devenv.model.replicas import port_key, replicas_of
from devenv.model.stack import ServerSpec, Stack
from devenv.store.state import STATE_FILE


def _free(bind: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # Like every server does: connections of a just-stopped container lingering in
        # TIME_WAIT must not count as "in use"; a listener still does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((bind, port))
        except OSError:
            return False
    return True


def pick_free(bind: str) -> int:
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((bind, 0))
        return int(sock.getsockname()[1])


def assign_auto(stack: Stack, known: dict[str, int]) -> dict[str, int]:
    """Keep every port chosen before (stable across restarts); choose the missing ones."""
    replicas = {r.name: s for s in stack.servers.values() for r in replicas_of(s)
                if r.port is None}  # a port set in the manifest is neither chosen nor kept
    out = {name: port for name, port in known.items()
           if (name in stack.servers and stack.servers[name].port is None) or name in replicas}
    fixed = {s.port for s in stack.servers.values() if s.port is not None} | {
        r.port for s in stack.servers.values() for r in replicas_of(s) if r.port is not None}

    def choose(bind: str) -> int:
        if stack.port_base is None:
            return pick_free(bind)
        port = stack.port_base  # the next one from the base nothing else holds
        while port in fixed or port in out.values() or not _free(bind, port):
            port += 1
            if port > 65535:
                raise DevenvError(f"no free host port from ports.base {stack.port_base} up",
                                  hint=f"lower ports.base in {stack.manifest_name}")
        return port

    for server in stack.servers.values():
        if server.port is None and server.name not in out:
            out[server.name] = choose(server.bind)
    for name, server in replicas.items():  # a replica's port is always chosen here, kept
        if name not in out:
            out[name] = choose(server.bind)
    return out


def endpoints(stack: Stack, servers: list[ServerSpec], ports: dict[str, int]
              ) -> list[tuple[str, str, int, str]]:
    """(container, bind, port, how to move it) for every host port `up` is about to publish:
    each server's, then each of its replicas' (from the manifest, or chosen once by
    assign_auto and kept)."""
    out = []
    for server in servers:
        port = server.port if server.port is not None else ports[server.name]
        out.append((server.name, server.bind, port,
                    f"change `servers.{server.name}.port` in {stack.manifest_name} (or set it "
                    "to `auto`)"))
        for replica in replicas_of(server):
            if replica.port is not None:
                out.append((replica.name, server.bind, replica.port,
                            f"change `{port_key(replica)}` in {stack.manifest_name} (or set "
                            "it to `auto`)"))
                continue
            out.append((replica.name, server.bind, ports[replica.name],
                        f"remove \"{replica.name}\" from the ports of "
                        f"{stack.state_dir}/{STATE_FILE} (the next `devenv up` picks a free "
                        "one and rewrites the .env files)"))
    return out


def check_free(stack: Stack, servers: list[ServerSpec], ports: dict[str, int],
               ours: dict[str, ContainerState], others: list[ContainerState],
               relist: Callable[[], dict[str, ContainerState]] | None = None) -> None:
    """Fail naming the port, the server or replica and how to move it when a port is taken.

    A kept `auto` or replica port is not silently re-picked: the .env files and whatever a
    developer configured from them (a GUI client, another project) hold it.
    `relist` lists our containers again before blaming a port on "another process": a
    compose run left by a killed `up` may have started our own container meanwhile.
    """
    problems, hints = [], []
    for name, bind, port, move in endpoints(stack, servers, ports):
        mine = ours.get(name)
        if mine is not None and (port in mine.ports or mine.state == "restarting"):
            continue  # a crash-looping container of ours holds its port between its restarts
        holder = next((c for c in others if port in c.ports and c.project != stack.project), None)
        if holder is None and _free(bind, port):
            continue
        if holder is None and relist is not None:
            ours = relist()
            mine = ours.get(name)
            if mine is not None and (port in mine.ports or mine.state == "restarting"):
                continue
        who = (f"container {holder.name}" + (f" of project '{holder.project}'"
                                               if holder.project else "")
               if holder else "another process")
        what = "replica" if name not in stack.servers else "server"
        problems.append(f"port {port} for {what} '{name}' is already in use by {who}")
        hints.append(move)
    if problems:
        raise DevenvError("\n".join(problems), hint="stop what holds it, or " + "; or ".join(
            dict.fromkeys(hints)))
