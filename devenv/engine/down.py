"""`devenv down`: stop the stack's containers, keeping their data volumes unless asked.

It holds the project lock and re-renders the compose files first (with the chosen ports), so
it stops exactly what `up` started even after the manifest was edited.
"""

from __future__ import annotations

from devenv.console import Console
from devenv.engine.context import prepare
from devenv.engine.docker import Docker
from devenv.errors import DevenvError
from devenv.model.stack import COMPOSE_FILE, Stack
from devenv.store import state


def down(stack: Stack, console: Console, *, volumes: bool) -> None:
    docker = Docker(stack)
    if not (stack.root / stack.compose_dir / COMPOSE_FILE).exists():
        raise DevenvError(f"no {stack.compose_dir}/{COMPOSE_FILE}: nothing to stop",
                          hint="run `devenv up` first")
    with state.locked(stack):
        prepare(stack, console, choose_ports=False)
        existing = docker.volumes() if volumes else []
        what = "Stopping and removing data volumes of" if volumes else "Stopping"
        with console.step(f"{what} {stack.project}"):
            docker.down(volumes=volumes)
        current = state.load(stack)
        current.fingerprint = ""
        state.save(stack, current)
    if not volumes:
        console.say("stopped; data kept in the volumes (`devenv down --volumes` removes them)")
    elif existing:
        console.say(f"data volumes removed: {', '.join(existing)}")
    else:
        console.say("no data volume to remove")
    in_memory = [s.name for s in stack.servers.values() if s.storage == "tmpfs"]
    if in_memory:
        console.say(f"{', '.join(in_memory)}: storage tmpfs, data gone with the container")
