"""What an image reference says about the PostgreSQL inside, and what the image itself says.

Pure. The truth is the image's own config (`docker image inspect`: ENV PGDATA, PG_MAJOR and its
VOLUME), which `devenv.engine.images` reads when the image is on the machine and applies with
`with_image_facts`; the tag is only the fallback that lets `devenv generate` work offline.

Why it matters: docker-library/postgres moved the data in 18 (PGDATA
/var/lib/postgresql/18/docker, VOLUME /var/lib/postgresql; the entrypoint refuses a mount at the
old /var/lib/postgresql/data: https://github.com/docker-library/postgres/pull/1259). A volume
mounted anywhere else than where PGDATA lives leaves the data in an anonymous volume, lost on
`down` + `up`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from devenv.model.stack import ServerSpec, Stack

LATEST_MAJOR = 18  # what `postgres:latest` / `postgres:alpine` run today
_MAJOR = re.compile(r"(?:^|pg|-)(\d{2})(?:\D|$)")


def split_reference(image: str) -> tuple[str, str, str]:
    """(repository, tag, digest) of an image reference; tag 'latest' when none is given."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = name.rsplit(":", 1)
    else:
        repo, tag = name, ("" if digest else "latest")
    return repo, tag, digest


def major_from_tag(image: str) -> int | None:
    """The PostgreSQL major a tag names (postgres:17, timescale/...:2.19.3-pg17, 18-alpine),
    LATEST_MAJOR for the official image's floating tags, None when the tag cannot tell."""
    repo, tag, _ = split_reference(image)
    found = _MAJOR.search(tag)
    if found:
        return int(found.group(1))
    official = repo.removeprefix("docker.io/").removeprefix("library/") == "postgres"
    if official and tag in ("latest", "alpine", "trixie", "bookworm", "alpine3.22"):
        return LATEST_MAJOR
    return None


def data_mount(major: int | None) -> str:
    """Where the official images keep their data volume for a major (18 moved it)."""
    return "/var/lib/postgresql" if major is None or major >= 18 else "/var/lib/postgresql/data"


@dataclass(frozen=True)
class ImageFacts:
    """What `docker image inspect` says about a PostgreSQL image."""

    pgdata: str | None
    volumes: tuple[str, ...]
    pg_major: int | None

    def mount(self) -> str | None:
        """The volume that holds PGDATA: the image's VOLUME above it, else PGDATA itself."""
        if self.pgdata is None:
            return None
        holding = [v.rstrip("/") or "/" for v in self.volumes
                   if self.pgdata == v or self.pgdata.startswith(v.rstrip("/") + "/")]
        return min(holding, key=len) if holding else self.pgdata


def facts_of(config: dict[str, Any]) -> ImageFacts:
    """ImageFacts from an image's Config (`docker image inspect`: Env, Volumes)."""
    env: dict[str, str] = {}
    for item in config.get("Env") or []:
        key, _, value = str(item).partition("=")
        env[key] = value
    major = env.get("PG_MAJOR", "")
    volumes = config.get("Volumes") or {}
    return ImageFacts(pgdata=env.get("PGDATA"), volumes=tuple(sorted(volumes)),
                      pg_major=int(major) if major.isdigit() else None)


def with_image_facts(stack: Stack, facts: dict[str, ImageFacts]) -> Stack:
    """The stack with each database server's major and data mount taken from its image (a
    `data_dir` the manifest sets is kept as given)."""
    servers = dict(stack.servers)
    for name, server in stack.servers.items():
        found = facts.get(server.image)
        if not server.is_database or found is None:
            continue
        changes: dict[str, object] = {}
        if found.pg_major is not None:
            changes["pg_major"] = found.pg_major
        mount = found.mount()
        if mount is not None and not server.data_dir_given:
            changes["data_dir"] = mount
        if changes:
            servers[name] = dataclasses.replace(server, **changes)  # type: ignore[arg-type]
    return dataclasses.replace(stack, servers=servers)


def describe(server: ServerSpec) -> str:
    return f"PostgreSQL {server.pg_major}" if server.pg_major else f"image {server.image}"
