"""The images a stack runs: what they say about themselves, the extension builds, and the one
PostgreSQL major each data volume may be started with.

- `refine`: PGDATA, VOLUME and PG_MAJOR from `docker image inspect` of every database image on
  the machine, over what the tag implies (a digest-pinned or custom image says nothing in its
  tag; devenv.model.images).
- `build_missing`: `docker compose build` of a server whose services list extensions its image
  lacks (devenv.model.extensions), once per recipe: the tag is the recipe's hash.
- `guard_majors`: PostgreSQL cannot start on another major's data; the 18 image even refuses
  the old mount. A volume's major is recorded in .devenv/state.json when `up` first starts it
  (and read from the volume's PG_VERSION for volumes older than the record); starting another
  major on it stops with an error naming both and the ways out, before any container changes.
"""

from __future__ import annotations

from devenv.console import Console
from devenv.engine.docker import Docker
from devenv.errors import DevenvError
from devenv.model import extensions
from devenv.model.images import ImageFacts, facts_of, with_image_facts
from devenv.model.stack import ServerSpec, Stack
from devenv.store import state


def refine(stack: Stack, docker: Docker) -> Stack:
    """The stack with every present database image's own PGDATA, VOLUME and major."""
    found: dict[str, ImageFacts] = {}
    for image in sorted({s.image for s in stack.servers.values() if s.is_database}):
        config = docker.image_config(image)
        if config is not None:
            found[image] = facts_of(config)
    return with_image_facts(stack, found)


def to_build(stack: Stack, docker: Docker, servers: list[ServerSpec]
             ) -> list[tuple[ServerSpec, str, str]]:
    """(server, image tag, what it adds) for every image devenv must build before a start."""
    out = []
    for server in servers:
        tag = extensions.built_image(stack, server)
        if tag is None or docker.has_image(tag):
            continue
        wanted = ", ".join(e for e in extensions.extensions_on(stack, server)
                           if e in extensions.PACKAGES)
        out.append((server, tag, f"{server.image} + {wanted}"))
    return out


def build_missing(stack: Stack, docker: Docker, servers: list[ServerSpec],
                  console: Console) -> None:
    for server, tag, what in to_build(stack, docker, servers):
        docker.ensure_images([server.name])  # the recipe's FROM
        console.say(f"Building the image of {server.name} ({what}), once: "
                    f"{stack.compose_dir}/images/{server.name}/Dockerfile")
        with console.step(f"Building {tag}"):
            docker.build(server.name, lambda line: console.note(f"  | {line}"))


KEPT_IMAGES = 16  # image contents remembered in .devenv/state.json, newest last


def check_contents(stack: Stack, docker: Docker, servers: list[ServerSpec], *,
                   keep: bool = True) -> None:
    """Every listed extension and every preloaded library exists in the image each server
    will run (the built one where devenv builds), before a container is created or recreated:
    a missing preload library crash-loops the server. Read once per image id and kept in
    .devenv/state.json (not when `keep` is false: `devenv plan` writes nothing)."""
    current = state.load(stack)
    known = dict(current.contents)
    problems = []
    for server in servers:
        if not server.is_database:
            continue
        image = extensions.built_image(stack, server) or server.image
        image_id = docker.image_id(image)
        if image_id is None:
            continue  # not on the machine: compose pulls it, provisioning checks extensions
        if image_id not in known:
            names, libraries = docker.image_contents(image_id)
            known[image_id] = {"extensions": sorted(names), "libraries": sorted(libraries)}
        names = frozenset(known[image_id]["extensions"])
        libraries = frozenset(known[image_id]["libraries"])
        problems += extensions.missing(stack, server, names,
                                       f"in image {image} of server '{server.name}'")
        for lib in server.preload:
            if lib not in libraries:
                problems.append(f"library '{lib}' (preloaded for the extensions of server "
                                f"'{server.name}') is not in image {image}: the server would "
                                "not start")
    if keep and known != current.contents:
        current.contents = dict(list(known.items())[-KEPT_IMAGES:])
        state.save(stack, current)
    if problems:
        raise DevenvError("\n".join(problems),
                          hint=f"set `image:` on the server in {stack.manifest_name} to one "
                          "that ships them, or remove them from its services' extensions; "
                          "no container was created or changed")


def volume_name(stack: Stack, server: ServerSpec) -> str:
    return f"{stack.project}_{server.name}-data"


def guard_majors(stack: Stack, docker: Docker, servers: list[ServerSpec], *,
                 keep: bool = True) -> None:
    """Refuse to start a server's image on a volume holding another major's data (what a
    volume holds is kept in .devenv/state.json unless `keep` is false)."""
    volumes = set(docker.volumes())
    current = state.load(stack)
    recorded = dict(current.majors)
    refused: DevenvError | None = None
    for server in servers:
        if not server.is_database or server.storage != "volume":
            continue
        volume = volume_name(stack, server)
        if volume not in volumes:
            recorded.pop(server.name, None)  # a new volume: recorded once started
            continue
        had = recorded.get(server.name)
        if had is None:
            had = docker.pg_version_in(volume, server.image)
            if had is None:
                continue
            recorded[server.name] = had
        if server.pg_major is not None and server.pg_major != had and refused is None:
            refused = major_error(stack, server, volume, had)
    if keep and recorded != current.majors:  # what a volume holds, kept even when refusing
        current.majors = recorded
        state.save(stack, current)
    if refused is not None:
        raise refused


def record_majors(stack: Stack, servers: list[ServerSpec]) -> None:
    """After a good start: the major each new volume was created with."""
    current = state.load(stack)
    majors = dict(current.majors)
    for server in servers:
        if server.is_database and server.storage == "volume" and server.pg_major is not None:
            majors.setdefault(server.name, server.pg_major)
    if majors != current.majors:
        current.majors = majors
        state.save(stack, current)


def major_error(stack: Stack, server: ServerSpec, volume: str, had: int) -> DevenvError:
    key = f"servers.{server.name}.image"
    return DevenvError(
        f"server '{server.name}': its data volume {volume} holds PostgreSQL {had} data, but "
        f"image {server.image} runs PostgreSQL {server.pg_major}; PostgreSQL cannot start on "
        "another major's data, so nothing was started",
        hint=f"keep the data on {had}: set `{key}: {_same_family(server.image, had)}` in "
        f"{stack.manifest_name}; or start empty on {server.pg_major}: `devenv down --volumes` "
        f"(deletes every volume of {stack.project}); or move the data: with {had} running, "
        f"`docker compose -f {stack.compose_dir}/compose.yaml exec -T {server.name} "
        f"pg_dumpall -U postgres > {server.name}.sql`, then `devenv down --volumes`, switch "
        "the image, `devenv up` and load it with psql")


def _same_family(image: str, major: int) -> str:
    """The configured image's family at another major (what to pin in the manifest)."""
    if image.startswith("timescale/timescaledb:"):
        return f"timescale/timescaledb:latest-pg{major}"
    return f"postgres:{major}"
