"""The resolved stack: every server and service with every default filled in.

What the rest of devenv works from (rendering, provisioning, env files): plain frozen data,
made from the manifest by `resolve.py`. This module imports nothing heavy, so a cached stack
(.devenv/stack.cache, devenv.store.stackcache) loads without pydantic or jinja2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

# Libraries that must be in shared_preload_libraries before CREATE EXTENSION works (or before
# they do anything useful), in load order; pg_partman_bgw is pg_partman's maintenance worker.
PRELOAD = ("timescaledb", "pg_stat_statements", "pg_cron", "pgaudit", "auto_explain",
           "pg_partman_bgw", "pg_hint_plan")
EXTENSION_NAME = re.compile(r"^[a-z0-9_][a-z0-9_-]*$")
ADMIN_USER = "postgres"
# The schema of the migration ledgers in every service database (devenv.migrations.ledger).
LEDGER_SCHEMA = "devenv"
STATE_DIR = ".devenv"
COMPOSE_FILE = "compose.yaml"
COMPOSE_ENV = "compose.env"  # in .devenv/: the `auto` ports compose interpolates
LABEL = "dev.devenv"
# Clones live in a tablespace on a tmpfs mounted here (never under the data volume: PostgreSQL
# 18's entrypoint refuses mounts in /var/lib/postgresql/data, and a volume must not hold it).
CLONE_DIR = "/var/lib/devenv-clones"
CLONE_TABLESPACE = "devenv_clones"
_SIZE = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def size_bytes(size: str) -> int:
    """'512m' -> bytes (the manifest's `clone_memory`, tmpfs's size= syntax)."""
    return int(size[:-1]) * _SIZE[size[-1]]


def clones_in_memory(server: ServerSpec) -> bool:
    """A server whose data is on a volume gets a tmpfs tablespace for its clones."""
    return server.is_database and server.storage == "volume"


def secret_name(server: str, key: str) -> str:
    """A server's Compose secret: a 0600 file in .devenv/secrets/<server>/<key>."""
    return f"{server}-{key}"


def secret_target(server: str, key: str) -> str:
    """Where Compose mounts that secret in the container (read-only, the host file's owner and
    mode: non-swarm Compose ignores a secret's uid/gid/mode, so the image's root reads it)."""
    return f"/run/secrets/{secret_name(server, key)}"


@dataclass(frozen=True)
class Pool:
    mode: str
    default_pool_size: int
    min_pool_size: int
    reserve_pool_size: int
    max_client_conn: int


@dataclass(frozen=True)
class ServerSpec:
    name: str
    kind: str
    family: str  # the kind's family (devenv.model.kinds): postgres, redis or pgbouncer
    image: str
    port: int | None  # None: 'auto', chosen at `up` time and kept in .devenv/
    bind: str
    container_port: int
    settings: tuple[tuple[str, str], ...] = ()
    data_dir: str = ""  # where the data volume (or tmpfs) is mounted
    data_dir_given: bool = False  # set in the manifest: kept even when the image says otherwise
    storage: str = "volume"  # or "tmpfs" (database servers)
    clone_memory: str = "512m"  # the size of the clones' tmpfs (storage: volume only)
    tmpfs_size: str = "2g"  # the size of the data's tmpfs (storage: tmpfs only)
    preload: tuple[str, ...] = ()
    persistence: str = ""
    search: bool = False  # redis: its services may use the search module (FT.*)
    target: str | None = None
    pool: Pool | None = None
    pg_major: int | None = None  # the image's PostgreSQL major, None when it cannot be told
    replicas: int = 0  # streaming standbys (devenv.model.replicas)
    replica_ports: tuple[int | None, ...] = ()  # their host ports by index; None (or none): auto
    replica_delay: str | None = None  # their recovery_min_apply_delay

    @property
    def is_database(self) -> bool:
        return self.family == "postgres"

    @property
    def is_redis(self) -> bool:
        return self.family == "redis"

    @property
    def is_pooler(self) -> bool:
        return self.family == "pgbouncer"


@dataclass(frozen=True)
class MigrationsSpec:
    path: Path | None
    command: str | None
    cwd: Path
    out_of_order: bool
    explicit: bool = False  # a default folder that does not exist means "no migrations"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    server: str | None
    database: str | None
    role: str | None
    extensions: tuple[str, ...]
    pgbouncer: str | None
    reads: tuple[str, ...]
    redis: str | None
    migrations: MigrationsSpec | None
    seeds: Path | None
    env_file: Path
    seeds_explicit: bool
    env: tuple[tuple[str, str], ...]

    @property
    def key_prefix(self) -> str:
        return f"{self.name}:"


@dataclass(frozen=True)
class Stack:
    project: str
    environment: str
    root: Path
    source: str
    compose_dir: Path
    servers: dict[str, ServerSpec]
    services: dict[str, ServiceSpec]
    migration_role: str | None = None
    admin_role: str | None = None
    state_dir: Path = field(default=Path(STATE_DIR))
    naming_database: str = "{service}"  # the patterns, kept for `devenv config`
    naming_role: str = "{service}"
    env_example: Path | None = Path(".env.example")  # None: not written
    port_base: int | None = None  # `ports.base`: where ports not set in the manifest start

    @property
    def manifest_name(self) -> str:
        """The manifest's file name, stable however devenv was invoked (for file headers)."""
        return Path(self.source).name


def as_manifest(stack: Stack) -> dict[str, object]:
    """The stack written back as a manifest with every default made explicit (`devenv config`):
    every setting, and nothing that is not one (an absent optional key stays absent, never
    `null`), so the output resolves to the same stack."""
    servers: dict[str, object] = {}
    for s in stack.servers.values():
        entry: dict[str, object] = {"kind": s.kind, "image": s.image,
                                    "port": "auto" if s.port is None else s.port, "bind": s.bind}
        if s.is_database:
            entry["settings"] = dict(s.settings)
            entry["data_dir"] = s.data_dir
            entry["storage"] = s.storage
            entry["clone_memory"] = s.clone_memory
            entry["tmpfs_size"] = s.tmpfs_size
            ports = [p for p in s.replica_ports if p is not None]
            # the count when every port is auto (the shorthand), else one entry per replica
            entry["replicas"] = [{"port": "auto" if p is None else p} for p in
                                 s.replica_ports] if ports else s.replicas
            if s.replica_delay is not None:
                entry["replica_delay"] = s.replica_delay
        elif s.is_redis:
            entry["persistence"] = s.persistence
            entry["search"] = s.search
        elif s.pool is not None:
            if s.target is not None:  # no target = pool every server: not a value to print
                entry["target"] = s.target
            entry.update(pool_mode=s.pool.mode,
                         default_pool_size=s.pool.default_pool_size,
                         min_pool_size=s.pool.min_pool_size,
                         reserve_pool_size=s.pool.reserve_pool_size,
                         max_client_conn=s.pool.max_client_conn)
        servers[s.name] = entry
    services: dict[str, object] = {}
    for v in stack.services.values():
        svc: dict[str, object] = {"postgres": v.server or False}
        if v.server:
            svc.update(database=v.database, role=v.role, extensions=list(v.extensions),
                       pgbouncer=v.pgbouncer or False, reads=list(v.reads))
        svc["redis"] = v.redis or False
        if v.migrations is not None:
            mig = v.migrations
            svc["migrations"] = (
                {"command": mig.command, "cwd": str(mig.cwd)} if mig.command
                else {"path": str(mig.path), "out_of_order": mig.out_of_order}
            )
        if v.seeds is not None:
            svc["seeds"] = str(v.seeds)
        svc["env_file"] = str(v.env_file)
        svc["env"] = dict(v.env)
        services[v.name] = svc
    # An unset role is no setting: printed as `null` it would read as a role named null.
    roles = {k: v for k, v in (("migration", stack.migration_role),
                               ("admin", stack.admin_role)) if v is not None}
    return {
        "project": stack.project,
        "environment": stack.environment,
        "compose_dir": str(stack.compose_dir),
        "env_example": str(stack.env_example) if stack.env_example is not None else False,
        **({"ports": {"base": stack.port_base}} if stack.port_base is not None else {}),
        "naming": {"database": stack.naming_database, "role": stack.naming_role},
        "roles": roles,
        "servers": servers,
        "services": services,
    }
