"""Server kinds behind one Protocol, registered by name: adding a kind is one module here."""

from __future__ import annotations

from typing import Any, Protocol

from devenv.model.credentials import Secrets
from devenv.model.kinds import pgbouncer, postgres, redis
from devenv.model.stack import ServerSpec, Stack


class Kind(Protocol):
    def compose_service(self, server: ServerSpec, stack: Stack) -> dict[str, Any]:
        """The compose service for this server, minus what every kind shares."""

    def config_files(self, server: ServerSpec, stack: Stack) -> dict[str, str]:
        """Committed text files (no secrets), by path relative to the compose folder."""

    def secret_files(self, server: ServerSpec, stack: Stack, secrets: Secrets) -> dict[str, str]:
        """Compose secrets by key: files in .devenv/secrets/<server>/ (0600), mounted read-only
        at /run/secrets/<server>-<key>. Nothing secret goes into the container's config."""


def registry() -> dict[str, Kind]:
    return {
        "postgres": postgres.Postgres(),
        "timescaledb": postgres.Postgres(),
        "redis": redis.Redis(),
        "valkey": redis.VALKEY,
        "pgbouncer": pgbouncer.PgBouncer(),
    }
