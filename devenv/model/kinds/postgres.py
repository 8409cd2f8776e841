"""PostgreSQL and TimescaleDB servers (the official images' runtime contract)."""

from __future__ import annotations

from typing import Any

from devenv.model.credentials import Secrets
from devenv.model.stack import ADMIN_USER, CLONE_DIR, ServerSpec, Stack

# A local, reproducible database trades host-crash durability for speed, as test setups do: no
# fsync makes CREATE/DROP DATABASE (reset, per-test clones) several times faster. Commits still
# write their WAL at commit (synchronous_commit stays on), so a killed container loses nothing:
# the host's page cache survives it. A host crash may not. `settings` in the manifest overrides
# these (e.g. `fsync: on`).
DEV_SETTINGS = (("fsync", "off"), ("full_page_writes", "off"))


class Postgres:
    def compose_service(self, server: ServerSpec, stack: Stack) -> dict[str, Any]:
        mine = {key for key, _ in server.settings}
        settings = [s for s in DEV_SETTINGS if s[0] not in mine] + list(server.settings)
        if server.preload:
            settings.insert(0, ("shared_preload_libraries", ",".join(server.preload)))
        if server.kind == "timescaledb":
            # No phoning home from a developer's laptop or CI.
            settings.append(("timescaledb.telemetry_level", "off"))
        service: dict[str, Any] = {
            "image": server.image,
            # POSTGRES_* are read on first init only; devenv re-syncs passwords itself on `up`.
            "environment": {"POSTGRES_USER": ADMIN_USER, "POSTGRES_DB": ADMIN_USER},
        }
        if settings:
            service["command"] = ["postgres"] + [a for k, v in settings for a in ("-c", f"{k}={v}")]
        if server.storage == "tmpfs":  # the entrypoint makes it postgres's, mode 0700
            service["tmpfs"] = [server.data_dir]
        else:
            service["volumes"] = [f"{server.name}-data:{server.data_dir}"]
            service["tmpfs"] = [clone_mount(server)]
        service["healthcheck"] = {
            # Over TCP: the image's init-time server listens on the socket only, so a socket
            # check would report healthy before the real server is up (docker-library/postgres#880).
            "test": ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", str(server.container_port),
                     "-U", ADMIN_USER, "-d", ADMIN_USER],
        }
        service["shm_size"] = "256m"
        return service

    def config_files(self, server: ServerSpec, stack: Stack) -> dict[str, str]:
        return {}

    def secret_env(self, server: ServerSpec, stack: Stack, secrets: Secrets) -> dict[str, str]:
        return {"POSTGRES_PASSWORD": secrets.get(server.name, ADMIN_USER)}


def postgres_uid(image: str) -> int:
    """The uid of the image's postgres user, who must own the clones' tmpfs (CREATE TABLESPACE
    chmods its directory). docker-library/postgres: Debian images `useradd --uid=999`, Alpine
    ones `adduser -u 70`; timescale/timescaledb is built FROM postgres:*-alpine."""
    name, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
    return 70 if "alpine" in tag or name.endswith("timescale/timescaledb") else 999


def clone_mount(server: ServerSpec) -> str:
    """The short-syntax tmpfs entry (options passed to mount as is: Compose v2.0+, any engine)."""
    uid = postgres_uid(server.image)
    return f"{CLONE_DIR}:uid={uid},gid={uid},mode=0700,size={server.clone_memory}"
