"""Server kinds behind one Protocol, registered by name in KINDS: adding a kind is one module
here and one entry below (and its manifest model in devenv.model.manifest, the one schema
users read, kept out of this package so that a cached stack loads without pydantic).

A kind belongs to a family, the protocol services reach it by: `postgres` (roles, databases,
extensions, migrations: provisioning and readiness as the admin), `redis` (ACL users, PING) or
`pgbouncer` (pools in front of a postgres-family server). What is the family's is done once
for the family (devenv.engine); what differs between kinds of one family (image, settings,
binaries, users) is the kind's.
"""

from __future__ import annotations

from typing import Any, Protocol

from devenv.model.kinds import pgbouncer, postgres, redis
from devenv.model.secrets import Secrets
from devenv.model.stack import ServerSpec, Stack

FAMILIES = ("postgres", "redis", "pgbouncer")


class Kind(Protocol):
    @property
    def family(self) -> str:
        """One of FAMILIES."""

    @property
    def image(self) -> str:
        """The default image (a default never moves a volume to another major: README)."""

    @property
    def port(self) -> int:
        """Where it listens in its container, and the first host port tried by default."""

    def users(self, server: ServerSpec, stack: Stack) -> list[str]:
        """The users of the server itself devenv keeps a password for (not services')."""

    def compose_service(self, server: ServerSpec, stack: Stack) -> dict[str, Any]:
        """The compose service for this server, minus what every kind shares."""

    def config_files(self, server: ServerSpec, stack: Stack) -> dict[str, str]:
        """Committed text files (no secrets), by path relative to the compose folder."""

    def secret_files(self, server: ServerSpec, stack: Stack, secrets: Secrets) -> dict[str, str]:
        """Compose secrets by key: files in .devenv/secrets/<server>/ (0600), mounted read-only
        at /run/secrets/<server>-<key>. Nothing secret goes into the container's config."""


KINDS: dict[str, Kind] = {
    "postgres": postgres.POSTGRES,
    "timescaledb": postgres.TIMESCALEDB,
    "redis": redis.REDIS,
    "valkey": redis.VALKEY,
    "pgbouncer": pgbouncer.PgBouncer(),
}


def kinds_of(family: str) -> tuple[str, ...]:
    return tuple(name for name, kind in KINDS.items() if kind.family == family)
