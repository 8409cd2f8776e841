"""PostgreSQL and TimescaleDB servers (the official images' runtime contract).

Read from docker-library/postgres (docker-entrypoint.sh) and timescale/timescaledb-docker
(docker-entrypoint-initdb.d/000_install_timescaledb.sh, 001_timescaledb_tune.sh).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devenv.model import extensions
from devenv.model.images import split_reference
from devenv.model.replicas import REPLICATION_ROLE, REPLICATION_SECRET
from devenv.model.secrets import Secrets
from devenv.model.stack import (
    ADMIN_USER,
    CLONE_DIR,
    ServerSpec,
    ServiceSpec,
    Stack,
    secret_target,
)

# A local, reproducible database trades host-crash durability for speed, as test setups do: no
# fsync makes CREATE/DROP DATABASE (reset, per-test clones) several times faster. Commits still
# write their WAL at commit (synchronous_commit stays on), so a killed container loses nothing:
# the host's page cache survives it. A host crash may not. `settings` in the manifest overrides
# these (e.g. `fsync: on`).
DEV_SETTINGS = (("fsync", "off"), ("full_page_writes", "off"))
# The TimescaleDB image runs timescaledb-tune on first start, which sizes max_connections by the
# host's memory (25 on a <= 2 GB Docker Desktop VM: fewer than PgBouncer's pools and the pytest
# plugin's clones need). NO_TS_TUNE skips it on new volumes; the explicit setting also overrides
# what it wrote into an older volume's postgresql.conf. PostgreSQL's own default, like postgres.
TIMESCALE_SETTINGS = (("max_connections", "100"),)
# A stopped replica's slot keeps every byte of WAL written since (1.3 GB in 10 s of writes,
# without bound by PostgreSQL's default -1: issue 27). Past this much the primary invalidates
# the slot and recycles the WAL; `up` then re-clones the replica (seconds for a development
# database), as it does after every restart of a replica anyway.
REPLICA_WAL_CAP = "512MB"
PASSWORD_SECRET = "admin-password"
WORKER_SLOTS = 32  # PostgreSQL's 8 + TimescaleDB's launcher and 16 workers + room


def settings_of(server: ServerSpec, stack: Stack) -> list[tuple[str, str]]:
    """The `-c` settings of a server: devenv's, the kind's, the extensions', the manifest's."""
    mine = {key for key, _ in server.settings}
    kind = TIMESCALEDB if server.kind == "timescaledb" else POSTGRES
    ours = [*DEV_SETTINGS, *kind.settings]
    if server.replicas:
        ours.append(("max_slot_wal_keep_size", REPLICA_WAL_CAP))
    if "timescaledb" in server.preload:
        # TimescaleDB's launcher and its schedulers take up to 1 + max_background_workers (16)
        # worker slots; PostgreSQL's default max_worker_processes (8) then left none for
        # pg_partman's worker, pg_cron's launcher or parallel queries ("no available background
        # worker slots": the launch design's partitions were never made). Slots cost a little
        # shared memory each.
        ours.append(("max_worker_processes", str(WORKER_SLOTS)))
    cron = extension_holders(stack, server, "pg_cron")
    if cron:
        # pg_cron's catalog lives in one database per server (cron.database_name); the first
        # service listing it gets it. https://github.com/citusdata/pg_cron#setting-up-pg_cron
        ours.append(("cron.database_name", str(cron[0].database)))
    partman = extension_holders(stack, server, "pg_partman")
    if partman:
        # The maintenance worker creates future partitions every hour, logged in as
        # pg_partman_bgw.role (default: postgres, the superuser, in a database whose schema
        # partman and part_config rows the service owns: issue 27 item 18). One role per server
        # (pg_partman_bgw.c), so it maintains the first listing service's database, as that
        # service's role; other services on the server run `CALL partman.run_maintenance_proc()`
        # themselves (README "Extensions").
        ours += [("pg_partman_bgw.dbname", str(partman[0].database)),
                 ("pg_partman_bgw.role", str(partman[0].role))]
    settings = [s for s in ours if s[0] not in mine] + list(server.settings)
    if server.preload:
        settings.insert(0, ("shared_preload_libraries", ",".join(server.preload)))
    return settings + list(kind.forced)


def extension_holders(stack: Stack, server: ServerSpec, ext: str) -> list[ServiceSpec]:
    """The services of `server` listing `ext`, in manifest order."""
    return [s for s in stack.services.values()
            if s.server == server.name and ext in s.extensions and s.database and s.role]


@dataclass(frozen=True)
class Postgres:
    image: str
    settings: tuple[tuple[str, str], ...] = ()  # the kind's defaults; the manifest's win
    forced: tuple[tuple[str, str], ...] = ()  # set after the manifest's
    environment: tuple[tuple[str, str], ...] = ()  # the image's own switches
    preload: tuple[str, ...] = ()  # always in shared_preload_libraries (with the extensions')
    family: str = "postgres"
    port: int = 5432

    def users(self, server: ServerSpec, stack: Stack) -> list[str]:
        users = [ADMIN_USER, *(r for r in (stack.migration_role, stack.admin_role) if r)]
        return [*users, REPLICATION_ROLE] if server.replicas else users

    def compose_service(self, server: ServerSpec, stack: Stack) -> dict[str, Any]:
        environment = {
            # Read by the entrypoint as root before it drops to postgres, on first init only;
            # devenv re-syncs passwords itself on `up`. A *_FILE, so no secret is in the
            # container's config (`docker inspect`).
            "POSTGRES_USER": ADMIN_USER,
            "POSTGRES_DB": ADMIN_USER,
            "POSTGRES_PASSWORD_FILE": secret_target(server.name, PASSWORD_SECRET),
        }
        settings = settings_of(server, stack)
        if ("fsync", "off") in settings:
            # initdb fsyncs every file it wrote (~1,000): on a busy 2-core VM its run took
            # 1.45 s on average against 1.06 s with --no-sync (6 interleaved pairs, PostgreSQL
            # 18), a sixth of a cold start. With fsync off the server gives up the same
            # durability anyway; `fsync: on` in settings keeps initdb's.
            environment["POSTGRES_INITDB_ARGS"] = "--no-sync"
        environment.update(self.environment)
        service: dict[str, Any] = {"image": server.image}
        built = extensions.built_image(stack, server)
        if built is not None:
            # Built once by `devenv up` (docker compose build), tagged by the recipe's hash.
            # Plain `docker compose up` builds it when the tag is missing, as devenv does.
            service.update(image=built, build=extensions.build_section(server))
        service["environment"] = environment
        service["command"] = ["postgres"] + [a for k, v in settings for a in ("-c", f"{k}={v}")]
        if server.storage == "tmpfs":  # the entrypoint makes PGDATA postgres's, mode 0700
            service["tmpfs"] = [data_tmpfs(server)]
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
        if extensions.built_image(stack, server) is None:
            return {}
        return {f"images/{server.name}/Dockerfile": extensions.recipe(stack, server)}

    def secret_files(self, server: ServerSpec, stack: Stack, secrets: Secrets) -> dict[str, str]:
        files = {PASSWORD_SECRET: secrets.get(server.name, ADMIN_USER)}
        if server.replicas:  # read by the replicas' pg_basebackup (devenv.model.replicas)
            files[REPLICATION_SECRET] = secrets.get(server.name, REPLICATION_ROLE)
        return files


def postgres_uid(image: str) -> int:
    """The uid of the image's postgres user, who must own the clones' tmpfs (CREATE TABLESPACE
    chmods its directory). docker-library/postgres: Debian images `useradd --uid=999`, Alpine
    ones `adduser -u 70`; timescale/timescaledb is built FROM postgres:*-alpine."""
    name, tag, _ = split_reference(image)
    return 70 if "alpine" in tag or name.endswith("timescale/timescaledb") else 999


def data_tmpfs(server: ServerSpec) -> str:
    """The data's tmpfs, capped: Docker's default is half the host's memory (issue 27 item 19)."""
    return f"{server.data_dir}:size={server.tmpfs_size}"


def clone_mount(server: ServerSpec) -> str:
    """The short-syntax tmpfs entry (options passed to mount as is: Compose v2.0+, any engine)."""
    uid = postgres_uid(server.image)
    return f"{CLONE_DIR}:uid={uid},gid={uid},mode=0700,size={server.clone_memory}"


POSTGRES = Postgres("postgres:18")
TIMESCALEDB = Postgres(
    "timescale/timescaledb:latest-pg18", settings=TIMESCALE_SETTINGS,
    forced=(("timescaledb.telemetry_level", "off"),),  # no phoning home from a laptop or CI
    environment=(("NO_TS_TUNE", "true"), ("TIMESCALEDB_TELEMETRY", "off")),
    preload=("timescaledb",))
