"""Stack -> Kubernetes manifests on CloudNativePG (`devenv export kubernetes`), pure.

The same resolved stack that renders compose/ renders a kustomize folder: a CNPG `Cluster` per
database server (its service roles in `managed.roles`), a CNPG `Database` per service, a
`Pooler` per PgBouncer and pooled cluster (and a read-only one where that cluster has
standbys), Redis as a StatefulSet + Service, and a `Job` per service that runs
`devenv migrate SERVICE --in-cluster` from an image whose recipe is written here too. CNPG
models no grants: that Job does them as the database's owner (devenv.engine's own statements),
so isolation and `reads` match `devenv up`.

What the operator then does with each field was read in its source (cloudnative-pg at v1.30.0,
the newest release, and v1.27.0, the oldest supported: image volume extensions came in 1.27);
each rule below names the file it relies on, and docs/kubernetes.md has the table. Roles stay
in `managed.roles` rather than the `DatabaseRole` resource: that one shipped in 1.30.0
(docs/src/release_notes/v1.30.md, #6155) and takes the same RoleConfiguration, so moving to it
would buy nothing for roles that live and die with their Cluster and would drop CNPG 1.27-1.29.

Two sets of files, as for compose: `files` (committed, no secret, checked by `--check`) and
`secret_files` (the Secrets with passwords, written beside them and git-ignored). With
`--secrets external` no Secret is written: the manifests name them for the team's secret manager.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from devenv import DISTRIBUTION, __version__
from devenv.errors import DevenvError
from devenv.model import facts, yamlio
from devenv.model.extensions import CONTRIB
from devenv.model.extensions import TIMESCALE_IMAGE as TIMESCALE_SHIPS
from devenv.model.images import major_from_tag, split_reference
from devenv.model.kinds import KINDS
from devenv.model.kinds.redis import PERSISTENCE, Redis, acl_lines
from devenv.model.secrets import Secrets
from devenv.model.stack import ADMIN_USER, ServerSpec, ServiceSpec, Stack
from devenv.model.yamlio import KeyPath

CNPG_API = "postgresql.cnpg.io/v1"
# CloudNativePG's operand images (cloudnative-pg/postgres-containers): `standard` adds pgaudit,
# pgvector and pg_failover_slots to PostgreSQL and its contrib modules.
CNPG_IMAGE = "ghcr.io/cloudnative-pg/postgresql:{major}-standard-trixie"
CNPG_MAJORS = range(13, 19)
# The TimescaleDB image CNPG can run: timescale/timescaledb-ha (the Alpine timescale/timescaledb
# has no CNPG instance manager layout). Its tags (pg18) name no major CNPG can parse, so it
# comes through an ImageCatalog; it runs as uid/gid 1000, not CNPG's 26.
TIMESCALE_IMAGE = "timescale/timescaledb-ha:pg{major}"
TIMESCALE_MAJORS = range(15, 19)
TIMESCALE_UID = 1000
STORAGE_SIZE = "1Gi"  # a PVC per instance; kustomize patches resize it
REDIS_UID = 999  # redis and valkey images: the server's user
MIGRATE_IMAGE = "devenv-migrate"  # a placeholder kustomize `images:` maps to the built image
APP_DIR = "/app"
GITIGNORE = ".gitignore"
SECRETS_FILE = "secrets.yaml"
PASSWORDS_FILE = "passwords.json"
KUSTOMIZATION = "kustomization.yaml"
CONTEXT = "images/migrate"  # the migrate image's build context, inside the export folder
DOCKERFILE = f"{CONTEXT}/Dockerfile"
WHEELS = "wheels"  # in CONTEXT: devenv's wheel and its dependencies (git-ignored)
APP = "app"  # in CONTEXT: the manifest, migrations and seeds (git-ignored)
# The migrate image's Python; the wheelhouse holds wheels for it (devenv.store.migrateimage).
BASE_IMAGE = "python:3.13-slim"
BASE_PYTHON = "3.13"
PG_PORT = 5432  # CNPG's -rw Service and the Pooler's Service
IN_IMAGE = {
    "cnpg": CONTRIB | {"pgaudit", "vector", "pg_failover_slots"},
    "timescale": TIMESCALE_SHIPS,
}


@dataclass(frozen=True)
class ExtensionImage:
    """An extension CNPG mounts into its pods from an image of its own (image volumes): an
    entry of the Cluster's `.spec.postgresql.extensions`, mounted at /extensions/<name>, whose
    share/ and lib/ the operator appends to `extension_control_path` and `dynamic_library_path`
    (pkg/postgres/configuration.go setExtensionControlPath/setDynamicLibraryPath, v1.30.0).
    `extension_control_path` exists from PostgreSQL 18 on: on an older major the server would
    not start, so only an 18 (or later) server gets them."""

    name: str
    reference: str
    ld_library_path: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cnpg: str = "1.27"  # the oldest CNPG whose ExtensionConfiguration has every field used


# cloudnative-pg/postgres-extensions-containers (each folder's metadata.hcl and README, at
# 079bc9e, 2026-08-22): images for PostgreSQL 18 on Debian trixie, the distribution of the
# operand image above, tagged <version>-18-trixie. PostGIS needs its system libraries on
# LD_LIBRARY_PATH and GDAL_DATA/PROJ_DATA: `env` is in CNPG's ExtensionConfiguration from
# 1.29 on (api/v1/cluster_types.go). timescaledb-oss is the Apache-2 edition, the same one
# devenv builds into the official image locally (devenv.model.extensions).
POSTGIS_IMAGE = ExtensionImage(
    "postgis", "ghcr.io/cloudnative-pg/postgis-extension:3.6.4-18-trixie",
    ld_library_path=("system",),
    env=(("GDAL_DATA", "${image_root}/share/gdal"), ("PROJ_DATA", "${image_root}/share/proj")),
    cnpg="1.29")
EXTENSION_IMAGES = {
    "postgis": POSTGIS_IMAGE,
    "postgis_topology": POSTGIS_IMAGE,
    "postgis_raster": POSTGIS_IMAGE,
    "timescaledb": ExtensionImage(
        "timescaledb-oss", "ghcr.io/cloudnative-pg/timescaledb-oss:2.29.2-18-trixie"),
}
IMAGE_VOLUME_MAJOR = 18  # extension_control_path: PostgreSQL 18
IMAGE_VOLUME_KUBERNETES = "1.33"  # the ImageVolume feature gate; on by default from 1.35

# Managed extensions (pkg/postgres/configuration.go ManagedExtensions and IsUsed, v1.27.0 and
# v1.30.0): CNPG counts pgaudit or pg_stat_statements as used only while a parameter of its
# namespace (`pgaudit.`, `pg_stat_statements.`) is set, and at every instance manager start it
# runs DROP EXTENSION for unused ones in every database that accepts connections
# (internal/management/controller/instance_controller.go reconcileExtensions); the Database
# controller would then create it again. One parameter, at its PostgreSQL default, marks it
# used; a manifest setting of the same namespace does it instead.
MANAGED_EXTENSION_PARAMETERS = {
    "pgaudit": ("pgaudit.log", "none"),
    "pg_stat_statements": ("pg_stat_statements.track", "top"),
}
# Parameters CNPG sets itself: its webhook refuses a Cluster whose `parameters` set one
# (pkg/postgres/configuration.go FixedConfigurationParameters, the same 65 in v1.27.0 and
# v1.30.0; internal/webhook/v1/cluster_webhook.go validateConfiguration).
CNPG_FIXED_PARAMETERS = frozenset((
    "allow_system_table_mods", "archive_cleanup_command", "archive_command", "archive_mode",
    "bonjour", "bonjour_name", "cluster_name", "config_file", "data_directory",
    "data_sync_retry", "event_source", "external_pid_file", "hba_file", "hot_standby",
    "ident_file", "jit_provider", "listen_addresses", "log_destination", "log_directory",
    "log_file_mode", "log_filename", "log_rotation_age", "log_rotation_size",
    "log_truncate_on_rotation", "logging_collector", "pg_failover_slots.primary_dsn",
    "pg_failover_slots.standby_slot_names", "port", "primary_conninfo", "primary_slot_name",
    "promote_trigger_file", "recovery_end_command", "recovery_min_apply_delay",
    "recovery_target", "recovery_target_action", "recovery_target_inclusive",
    "recovery_target_lsn", "recovery_target_name", "recovery_target_time",
    "recovery_target_timeline", "recovery_target_xid", "restart_after_crash",
    "restore_command", "shared_preload_libraries", "ssl", "ssl_ca_file", "ssl_cert_file",
    "ssl_crl_file", "ssl_dh_params_file", "ssl_ecdh_curve", "ssl_key_file",
    "ssl_passphrase_command", "ssl_passphrase_command_supports_reload",
    "ssl_prefer_server_ciphers", "stats_temp_directory", "synchronized_standby_slots",
    "synchronous_standby_names", "syslog_facility", "syslog_ident", "syslog_sequence_numbers",
    "syslog_split_messages", "temp_tablespaces", "unix_socket_directories",
    "unix_socket_group", "unix_socket_permissions",
))
# The webhook's parameter name rule (cluster_webhook.go postgresParameterNameRegex, v1.30.0).
CNPG_PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")
# pg_hba.conf keywords that a bare role name would be read as.
HBA_KEYWORDS = frozenset(("all", "sameuser", "samerole", "samegroup", "replication"))


def k8s_name(*parts: str) -> str:
    """A DNS-1123 name from devenv names (which may hold `_`, never upper case)."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")


def labels(stack: Stack, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/part-of": k8s_name(stack.project),
            "app.kubernetes.io/managed-by": "devenv",
            "app.kubernetes.io/component": component}


def header(stack: Stack, comment: str = "#") -> str:
    name = stack.manifest_name
    return (f"{comment} Generated by devenv from {name}: do not edit. Change {name} and run "
            "`devenv export kubernetes`.\n")


# -- images ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operand:
    """What CNPG runs for a server: an image, or a catalog entry, and the uid it runs as."""

    image: str
    family: str  # "cnpg", "timescale" or "custom" (an operand image the team built)
    major: int | None = None
    uid: int | None = None

    @property
    def catalog(self) -> bool:
        return self.family == "timescale"


def _where(stack: Stack, lines: dict[KeyPath, int], path: KeyPath) -> str:
    for end in range(len(path), 0, -1):
        line = lines.get(tuple(path[:end]))
        if line is not None:
            return f"{stack.manifest_name}:{line}: " + ".".join(str(p) for p in path)
    return f"{stack.manifest_name}: " + ".".join(str(p) for p in path)


def operand(stack: Stack, server: ServerSpec, lines: dict[KeyPath, int]) -> Operand:
    """The CNPG image for a database server, or a DevenvError saying which one fits."""
    repo, _, _ = split_reference(server.image)
    repo = repo.removeprefix("docker.io/").removeprefix("library/")
    where = _where(stack, lines, ("servers", server.name, "image"))
    if repo == "ghcr.io/cloudnative-pg/postgresql":
        return Operand(server.image, "cnpg", server.pg_major or major_from_tag(server.image))
    if "cnpg" in repo or "cloudnative-pg" in repo:  # the team's own operand image
        return Operand(server.image, "custom")
    major = server.pg_major or major_from_tag(server.image)
    if server.kind == "timescaledb":
        if repo not in ("timescale/timescaledb", "timescale/timescaledb-ha"):
            raise DevenvError(
                f"{where}: no CloudNativePG image for timescaledb image {server.image}",
                hint="CNPG runs TimescaleDB from timescale/timescaledb-ha:pgNN (PostgreSQL "
                f"{TIMESCALE_MAJORS.start}-{TIMESCALE_MAJORS.stop - 1}); use a "
                "timescale/timescaledb tag that names the major")
        if major not in TIMESCALE_MAJORS:
            said = f"PostgreSQL {major}" if major else "no PostgreSQL major in its tag"
            raise DevenvError(
                f"{where}: {server.image} ({said}): timescale/timescaledb-ha, the TimescaleDB "
                f"image CloudNativePG can run, has PostgreSQL {TIMESCALE_MAJORS.start}-"
                f"{TIMESCALE_MAJORS.stop - 1} only",
                hint="pin a tag with a supported major, e.g. timescale/timescaledb:latest-pg18")
        return Operand(TIMESCALE_IMAGE.format(major=major), "timescale", major, TIMESCALE_UID)
    if repo != "postgres":
        raise DevenvError(
            f"{where}: no CloudNativePG image for {server.image}",
            hint="CNPG runs its own operand images: use the official postgres image (exported "
            f"as {CNPG_IMAGE.format(major='NN')}) or one built FROM "
            "ghcr.io/cloudnative-pg/postgresql with 'cnpg' in its name (exported as is)")
    if major not in CNPG_MAJORS:
        raise DevenvError(
            f"{where}: cannot tell the PostgreSQL major of {server.image} for CloudNativePG",
            hint="pin the major in the tag, e.g. postgres:18")
    return Operand(CNPG_IMAGE.format(major=major), "cnpg", major)


def image_volume_extensions(image: Operand) -> frozenset[str]:
    """The extensions CNPG can mount from their own images into a server on `image`."""
    if image.family == "cnpg" and (image.major or 0) >= IMAGE_VOLUME_MAJOR:
        return frozenset(EXTENSION_IMAGES)
    return frozenset()


def check_extensions(stack: Stack, server: ServerSpec, image: Operand,
                     lines: dict[KeyPath, int]) -> None:
    """Every extension a Database declares must be in the operand image or, on PostgreSQL
    18, in an extension image CNPG mounts (EXTENSION_IMAGES): CNPG's Database runs
    CREATE EXTENSION and cannot install a package (devenv's local Dockerfile does that)."""
    if image.family == "custom":
        return  # the team built it for what it lists
    available = IN_IMAGE[image.family] | image_volume_extensions(image)
    problems = []
    for svc in _services_on(stack, server):
        for index, ext in enumerate(svc.extensions):
            if ext in available:
                continue
            where = _where(stack, lines, ("services", svc.name, "extensions", index))
            if image.family == "cnpg" and ext in EXTENSION_IMAGES:
                mounted = EXTENSION_IMAGES[ext].reference.split(":", 1)[0]
                problems.append(f"{where}: extension '{ext}' is not in {image.image}, and "
                                f"CloudNativePG mounts it from its own image ({mounted}) on "
                                f"PostgreSQL {IMAGE_VOLUME_MAJOR} only")
            else:
                problems.append(f"{where}: extension '{ext}' is not in {image.image}, so a "
                                "CloudNativePG Database cannot declare it")
    if problems:
        raise DevenvError(
            "\n".join(problems),
            hint="build an image FROM ghcr.io/cloudnative-pg/postgresql with it, with 'cnpg' "
            f"in its name, and set servers.{server.name}.image to it (exported as is; locally "
            f"devenv runs it too), or drop the extension; on postgres:{IMAGE_VOLUME_MAJOR} "
            "the export mounts " + ", ".join(sorted(EXTENSION_IMAGES)) + " from CNPG's "
            "extension images")


def extension_images(stack: Stack, server: ServerSpec, image: Operand) -> list[ExtensionImage]:
    """The extension images a server's services need, in the order they are listed, once."""
    mountable = image_volume_extensions(image)
    wanted = [EXTENSION_IMAGES[e] for s in _services_on(stack, server) for e in s.extensions
              if e in mountable and e not in IN_IMAGE[image.family]]
    return list(dict.fromkeys(wanted))


def requirements(stack: Stack) -> list[str]:
    """One line per database server that mounts extension images: what its cluster needs
    beyond CNPG 1.27 (docs/src/imagevolume_extensions.md, v1.30.0: the ImageVolume feature
    and a runtime that has it; the `env` of PostGIS's entry from CNPG 1.29)."""
    out = []
    for server in stack.servers.values():
        if not server.is_database:
            continue
        mounted = extension_images(stack, server, operand(stack, server, {}))
        if mounted:
            cnpg = max((e.cnpg for e in mounted), key=lambda v: tuple(map(int, v.split("."))))
            out.append(f"{server.name} mounts {', '.join(e.name for e in mounted)} from "
                       f"CloudNativePG's extension images: it needs Kubernetes "
                       f"{IMAGE_VOLUME_KUBERNETES}+ with the ImageVolume feature (on by default "
                       "from 1.35; containerd 2.1+ or CRI-O 1.31+) and CloudNativePG "
                       f"{cnpg}+")
    return out


def check_settings(stack: Stack, server: ServerSpec, lines: dict[KeyPath, int]) -> None:
    """The manifest's `settings` as CNPG's webhook reads a Cluster's `parameters`
    (internal/webhook/v1/cluster_webhook.go validateConfiguration, v1.27.0 and v1.30.0): the
    parameters it fixes itself are refused, and so are `wal_level: minimal` (archive_mode is
    on) and `wal_log_hints: off` with standbys. The export never writes a Cluster it refuses."""
    problems = []
    for key, value in server.settings:
        where = _where(stack, lines, ("servers", server.name, "settings", key))
        lowered = value.strip().lower()
        if not CNPG_PARAMETER_NAME.match(key):
            problems.append(f"{where}: CloudNativePG accepts no parameter of that name")
        elif key in CNPG_FIXED_PARAMETERS:
            problems.append(f"{where}: CloudNativePG sets {key} itself and refuses a Cluster "
                            "that sets it")
        elif key == "wal_level" and lowered not in ("replica", "logical"):
            problems.append(f"{where}: CloudNativePG archives WAL, so wal_level must be "
                            "replica or logical")
        elif (key == "wal_log_hints" and server.replicas
              and lowered in ("off", "false", "no", "0")):
            problems.append(f"{where}: CloudNativePG needs wal_log_hints on for standbys "
                            "(pg_rewind)")
    if problems:
        raise DevenvError(
            "\n".join(problems),
            hint="drop it from settings for the export: CloudNativePG manages it (its docs, "
            "postgresql_conf.md, list the fixed parameters)")


# -- the in-cluster view of the stack ---------------------------------------------------------


def cluster_host(server: ServerSpec) -> str:
    """CNPG's read-write Service of a Cluster: `<cluster>-rw`."""
    return f"{k8s_name(server.name)}-rw"


def pooler_name(pool: ServerSpec, cluster: str, *, readonly: bool = False) -> str:
    return k8s_name(pool.name, cluster, *(("ro",) if readonly else ()))


def _readonly(stack: Stack, svc: ServiceSpec, creds: Secrets) -> dict[str, str]:
    """The read-only variables in the namespace, for a service whose server has standbys.
    CNPG's `<cluster>-ro` Service spreads reads over the standbys (the local multi-host URL's
    job): DATABASE_READONLY_DIRECT_URL and PG*_READONLY. DATABASE_READONLY_URL of a pooled
    service goes through the `type: ro` Pooler, as locally through PgBouncer's
    `<database>_readonly` entry: that Pooler's PgBouncer sends every database to
    `<cluster>-ro` (pkg/management/pgbouncer/config/config.go, `* = host=<cluster>-<type>`),
    so the database keeps its own name."""
    assert svc.server is not None and svc.role is not None and svc.database is not None
    if not stack.servers[svc.server].replicas:
        return {}
    host = f"{k8s_name(svc.server)}-ro"
    password = creds.get(svc.server, svc.role)
    direct = facts.pg_url(svc.role, password, host, PG_PORT, svc.database)
    url = direct
    if svc.pgbouncer is not None:
        pooled = pooler_name(stack.servers[svc.pgbouncer], svc.server, readonly=True)
        url = facts.pg_url(svc.role, password, pooled, PG_PORT, svc.database)
    return {"DATABASE_READONLY_URL": url, "DATABASE_READONLY_DIRECT_URL": direct,
            "PGHOST_READONLY": host, "PGPORT_READONLY": str(PG_PORT)}


def in_cluster(stack: Stack, svc: ServiceSpec) -> Stack:
    """The stack as `svc` sees it inside the namespace: each server's bind is its Service
    name, its port the in-cluster one, so `facts.env_vars` gives the same variables as the
    local .env with in-cluster hosts. A PgBouncer is the Pooler of the service's own cluster."""
    servers = {}
    for name, server in stack.servers.items():
        if server.is_database:
            host, port = cluster_host(server), PG_PORT
        elif server.is_redis:
            host, port = k8s_name(name), server.container_port
        else:
            host = pooler_name(server, svc.server or name)
            port = PG_PORT
        servers[name] = dataclasses.replace(server, bind=host, port=port)
    return dataclasses.replace(stack, servers=servers)


def _services_on(stack: Stack, server: ServerSpec) -> list[ServiceSpec]:
    return [s for s in stack.services.values() if s.server == server.name and s.database]


def _pooled(stack: Stack, pool: ServerSpec) -> list[str]:
    """The clusters a PgBouncer pools: its target, else those of the services it pools."""
    clusters = [s.server for s in stack.services.values()
                if s.pgbouncer == pool.name and s.server]
    if pool.target is not None:
        clusters = [pool.target] if pool.target in clusters else []
    return list(dict.fromkeys(c for c in clusters if c))


# -- secret names (the contract with `--secrets external`) ---------------------------------


def superuser_secret(server: ServerSpec) -> str:
    return k8s_name(server.name, "superuser")


def role_secret(server: ServerSpec, role: str) -> str:
    return k8s_name(server.name, "role", role)


def acl_secret(server: ServerSpec) -> str:
    return k8s_name(server.name, "acl")


def env_secret(svc: ServiceSpec) -> str:
    return k8s_name(svc.name, "env")


def secret_names(stack: Stack) -> list[str]:
    """Every Secret the manifests reference, sorted: what an external secret manager provides."""
    return sorted({s["metadata"]["name"] for s in _secrets(stack, None)})


# -- resources ------------------------------------------------------------------------------


def _meta(stack: Stack, name: str, component: str) -> dict[str, Any]:
    return {"name": name, "labels": labels(stack, component)}


def _roles(stack: Stack, server: ServerSpec) -> list[dict[str, Any]]:
    """The same roles `devenv up` makes (devenv.engine.provision.roles_for): a login per
    service, the migration and admin roles members of every owner."""
    owners = [s.role for s in _services_on(stack, server) if s.role]
    out: list[dict[str, Any]] = []
    for owner in dict.fromkeys(owners):
        out.append({"name": owner, "ensure": "present", "login": True, "inherit": True,
                    "passwordSecret": {"name": role_secret(server, owner)}})
    for role, admin in ((stack.migration_role, False), (stack.admin_role, True)):
        if role is None:
            continue
        entry: dict[str, Any] = {"name": role, "ensure": "present", "login": True,
                                 "inherit": True, "createdb": admin, "createrole": admin,
                                 "passwordSecret": {"name": role_secret(server, role)}}
        if owners:
            entry["inRoles"] = list(dict.fromkeys(owners))
        out.append(entry)
    return out


def _parameters(stack: Stack, server: ServerSpec) -> dict[str, str]:
    """The manifest's `settings`, and what the extensions need in the cluster; devenv's laptop
    settings (fsync off) stay local.

    - pg_cron: its database (`cron.database_name`), and background workers for its jobs. Off,
      pg_cron runs each job over a libpq connection to `cron.host`, localhost by default
      (citusdata/pg_cron src/pg_cron.c, _PG_init): TCP, where CNPG's last pg_hba rule asks
      for a password (`host all all all <scram-sha-256>`, pkg/postgres/configuration.go,
      v1.30.0 line 130) that the job does not have. Background workers open no connection.
    - pg_partman: the databases of its maintenance worker.
    - pgaudit, pg_stat_statements: a parameter of their own, so CNPG keeps them
      (MANAGED_EXTENSION_PARAMETERS).
    - TimescaleDB: no telemetry, as locally for a timescaledb server.
    """
    listed = {e for s in _services_on(stack, server) for e in s.extensions}
    params: dict[str, str] = {}
    dbs = {ext: [s.database for s in _services_on(stack, server) if ext in s.extensions
                 and s.database] for ext in ("pg_cron", "pg_partman")}
    if dbs["pg_cron"]:
        params["cron.database_name"] = str(dbs["pg_cron"][0])
        params["cron.use_background_workers"] = "on"
    if dbs["pg_partman"]:
        params["pg_partman_bgw.dbname"] = ",".join(str(d) for d in dbs["pg_partman"])
    if "timescaledb" in server.preload:
        params["timescaledb.telemetry_level"] = "off"
    given = dict(server.settings)
    for ext, (key, value) in MANAGED_EXTENSION_PARAMETERS.items():
        if ext in listed and not any(k.startswith(f"{ext}.") for k in given):
            params[key] = value
    params.update(given)
    return dict(sorted(params.items()))


def _hba_name(role: str) -> str:
    """A role as pg_hba.conf reads it: quoted unless it is a plain lower-case name (a bare
    `all` would be the keyword)."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", role) and role not in HBA_KEYWORDS:
        return role
    return '"' + role + '"'


def _pg_hba(stack: Stack, server: ServerSpec) -> list[str]:
    """Services have no business in `postgres` (devenv.engine.provision
    admin_database_access); locally that is a REVOKE from PUBLIC, which CNPG cannot take:
    its `streaming_replica` opens ordinary connections to the primary's `postgres` database
    (the replication slot synchronizer, internal/management/controller/slots/runner/runner.go
    line 126; pg_rewind with `dbname=postgres`, pkg/management/postgres/instance.go line 1508;
    v1.30.0) and is never granted CONNECT. So a rule rejects the service roles there instead.
    User-defined rules come after CNPG's fixed rules (its own roles, by certificate) and before
    its default password rule (pkg/postgres/configuration.go, hbaTemplateString, v1.30.0 lines
    98-131, v1.27.0 lines 95-128): the superuser, the migration and admin roles and CNPG's
    roles keep `postgres`."""
    roles = list(dict.fromkeys(s.role for s in _services_on(stack, server) if s.role))
    if not roles:
        return []
    return [f"host postgres {','.join(_hba_name(r) for r in roles)} all reject"]


def cluster(stack: Stack, server: ServerSpec, image: Operand) -> dict[str, Any]:
    spec: dict[str, Any] = {"instances": 1 + server.replicas}  # the primary and its standbys
    if image.catalog:
        spec["imageCatalogRef"] = {"apiGroup": "postgresql.cnpg.io", "kind": "ImageCatalog",
                                   "name": k8s_name(server.name, "images"),
                                   "major": image.major}
    else:
        spec["imageName"] = image.image
    if image.uid is not None:
        spec["postgresUID"] = image.uid
        spec["postgresGID"] = image.uid
    postgresql: dict[str, Any] = {}
    params = _parameters(stack, server)
    if params:
        postgresql["parameters"] = params
    if server.preload:
        postgresql["shared_preload_libraries"] = list(server.preload)
    hba = _pg_hba(stack, server)
    if hba:
        postgresql["pg_hba"] = hba
    mounted = extension_images(stack, server, image)
    if mounted:
        postgresql["extensions"] = [_extension_entry(e) for e in mounted]
    if postgresql:
        spec["postgresql"] = postgresql
    spec["enableSuperuserAccess"] = True
    spec["superuserSecret"] = {"name": superuser_secret(server)}
    # CNPG's own `app` database is not made: the first service's database is.
    initdb: dict[str, Any] = {}
    first = next(iter(_services_on(stack, server)), None)
    if first is not None and first.role is not None:
        initdb.update(database=first.database, owner=first.role,
                      secret={"name": role_secret(server, first.role)})
    spec["bootstrap"] = {"initdb": initdb}
    spec["storage"] = {"size": STORAGE_SIZE}
    roles = _roles(stack, server)
    if roles:
        spec["managed"] = {"roles": roles}
    return {"apiVersion": CNPG_API, "kind": "Cluster",
            "metadata": _meta(stack, k8s_name(server.name), "database"), "spec": spec}


def _extension_entry(ext: ExtensionImage) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": ext.name, "image": {"reference": ext.reference}}
    if ext.ld_library_path:
        entry["ld_library_path"] = list(ext.ld_library_path)
    if ext.env:
        entry["env"] = [{"name": k, "value": v} for k, v in ext.env]
    return entry


def image_catalog(stack: Stack, server: ServerSpec, image: Operand) -> dict[str, Any]:
    return {"apiVersion": CNPG_API, "kind": "ImageCatalog",
            "metadata": _meta(stack, k8s_name(server.name, "images"), "database"),
            "spec": {"images": [{"major": image.major, "image": image.image}]}}


def database(stack: Stack, server: ServerSpec, svc: ServiceSpec) -> dict[str, Any]:
    assert svc.database is not None and svc.role is not None
    spec: dict[str, Any] = {
        "cluster": {"name": k8s_name(server.name)},
        "name": svc.database,
        "owner": svc.role,
        "ensure": "present",
        # As locally: the TimescaleDB image keeps its extension in template1.
        "template": "template0",
        "databaseReclaimPolicy": "retain",
    }
    if svc.extensions:
        spec["extensions"] = [{"name": e, "ensure": "present"} for e in svc.extensions]
    return {"apiVersion": CNPG_API, "kind": "Database",
            "metadata": _meta(stack, k8s_name(server.name, svc.database), "database"),
            "spec": spec}


def pooler(stack: Stack, pool: ServerSpec, target: str, *,
           readonly: bool = False) -> dict[str, Any]:
    """A PgBouncer Deployment and Service CNPG runs for a cluster, both named after the Pooler
    (pkg/specs/pgbouncer/deployments.go, services.go); `type: rw` reaches `<cluster>-rw`,
    `type: ro` `<cluster>-ro`, the standbys (pkg/management/pgbouncer/config/config.go)."""
    assert pool.pool is not None
    p = pool.pool
    parameters = {"default_pool_size": str(p.default_pool_size),
                  "min_pool_size": str(p.min_pool_size),
                  "reserve_pool_size": str(p.reserve_pool_size),
                  "max_client_conn": str(p.max_client_conn)}
    return {"apiVersion": CNPG_API, "kind": "Pooler",
            "metadata": _meta(stack, pooler_name(pool, target, readonly=readonly), "pooler"),
            "spec": {"cluster": {"name": k8s_name(target)}, "instances": 1,
                     "type": "ro" if readonly else "rw",
                     "pgbouncer": {"poolMode": p.mode, "parameters": parameters}}}


def redis(stack: Stack, server: ServerSpec) -> list[dict[str, Any]]:
    """A one-pod StatefulSet as locally: the server's user, its ACL file from a Secret
    (mounted read-only, group-readable by that user through fsGroup)."""
    name = k8s_name(server.name)
    kind = KINDS[server.kind]
    assert isinstance(kind, Redis)  # the redis family's one kind class: its binaries
    binary, cli = kind.binary, kind.cli
    port = server.container_port
    args = [binary, "--port", str(port), "--aclfile", "/etc/devenv/users.acl",
            *(a.strip("'") for a in PERSISTENCE[server.persistence])]
    selector = {"app.kubernetes.io/name": name}
    persistent = server.persistence != "none"
    container: dict[str, Any] = {
        "name": "server", "image": server.image, "args": args,
        "ports": [{"name": "redis", "containerPort": port}],
        "env": [{"name": "REDISCLI_AUTH", "valueFrom": {"secretKeyRef": {
            "name": acl_secret(server), "key": "default-password"}}}],
        "readinessProbe": {"exec": {"command": ["sh", "-c", f"{cli} -p {port} ping | "
                                                "grep -q PONG"]},
                           "periodSeconds": 5},
        "volumeMounts": [{"name": "acl", "mountPath": "/etc/devenv", "readOnly": True},
                         {"name": "data", "mountPath": "/data"}],
    }
    volumes: list[dict[str, Any]] = [{"name": "acl", "secret": {
        "secretName": acl_secret(server), "defaultMode": 0o440,
        "items": [{"key": "users.acl", "path": "users.acl"}]}}]
    spec: dict[str, Any] = {
        "serviceName": name, "replicas": 1, "selector": {"matchLabels": selector},
        "template": {
            "metadata": {"labels": {**labels(stack, "redis"), **selector}},
            "spec": {"securityContext": {"runAsUser": REDIS_UID, "runAsGroup": REDIS_UID,
                                         "fsGroup": REDIS_UID, "runAsNonRoot": True},
                     "containers": [container], "volumes": volumes}},
    }
    if persistent:
        spec["volumeClaimTemplates"] = [{
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": STORAGE_SIZE}}}}]
    else:
        volumes.append({"name": "data", "emptyDir": {}})
    statefulset = {"apiVersion": "apps/v1", "kind": "StatefulSet",
                   "metadata": _meta(stack, name, "redis"), "spec": spec}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": _meta(stack, name, "redis"),
               "spec": {"selector": selector,
                        "ports": [{"name": "redis", "port": port, "targetPort": "redis"}]}}
    return [statefulset, service]


def job(stack: Stack, svc: ServiceSpec) -> dict[str, Any]:
    """Waits for its database, does the grants CNPG cannot, migrates and seeds: with devenv
    itself, so the ledger and checksums are the ones `devenv up` keeps locally."""
    container = {
        "name": "migrate", "image": MIGRATE_IMAGE,
        "args": ["devenv", "-f", f"{APP_DIR}/{stack.manifest_name}", "migrate", svc.name,
                 "--in-cluster"],
        "envFrom": [{"secretRef": {"name": env_secret(svc)}}],
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True},
    }
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": _meta(stack, k8s_name(svc.name, "migrate"), "migrate"),
            "spec": {"backoffLimit": 6,
                     "template": {"metadata": {"labels": labels(stack, "migrate")},
                                  "spec": {"restartPolicy": "OnFailure",
                                           "containers": [container]}}}}


def namespace(stack: Stack, name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": labels(stack, "namespace")}}


def _secret(stack: Stack, name: str, data: dict[str, str], *,
            basic: bool = False) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(stack, name, "secret"),
            "type": "kubernetes.io/basic-auth" if basic else "Opaque", "stringData": data}


class _Blank:
    """Secrets stand-in: the Secrets' names and keys without any password (external mode)."""

    def get(self, server: str, user: str) -> str:
        return ""


def _secrets(stack: Stack, secrets: Secrets | None) -> list[dict[str, Any]]:
    """Every Secret, in a stable order; `secrets` None gives them with empty values."""
    creds: Any = secrets if secrets is not None else _Blank()
    out = []
    for server in stack.servers.values():
        if server.is_database:
            out.append(_secret(stack, superuser_secret(server), {
                "username": ADMIN_USER, "password": creds.get(server.name, ADMIN_USER)},
                basic=True))
            for role in _roles(stack, server):
                out.append(_secret(stack, role_secret(server, role["name"]), {
                    "username": role["name"], "password": creds.get(server.name, role["name"])},
                    basic=True))
        elif server.is_redis:
            acl = "\n".join(acl_lines(server, stack, creds)) + "\n"
            out.append(_secret(stack, acl_secret(server), {
                "users.acl": acl, "default-password": creds.get(server.name, "default")}))
    for svc in stack.services.values():
        readonly = _readonly(stack, svc, creds) if svc.database else {}
        # given to env_vars, so `env:` templates see the in-cluster read-only URLs too
        variables = facts.env_vars(in_cluster(stack, svc), svc, creds, {}, readonly=readonly)
        if variables:
            out.append(_secret(stack, env_secret(svc), variables))
    return out


# -- files ----------------------------------------------------------------------------------


def _stream(stack: Stack, docs: list[dict[str, Any]]) -> str:
    return header(stack) + "---\n".join(yamlio.dump(d) for d in docs)


def resources(stack: Stack, lines: dict[KeyPath, int] | None = None) -> dict[str, list[
        dict[str, Any]]]:
    """The committed resources by file name, in a stable order (errors before any file)."""
    lines = lines or {}
    out: dict[str, list[dict[str, Any]]] = {}
    for server in stack.servers.values():
        if server.is_database:
            image = operand(stack, server, lines)
            check_extensions(stack, server, image, lines)
            check_settings(stack, server, lines)
            docs = [image_catalog(stack, server, image)] if image.catalog else []
            docs.append(cluster(stack, server, image))
            docs += [database(stack, server, s) for s in _services_on(stack, server)]
            out[f"postgres-{k8s_name(server.name)}.yaml"] = docs
        elif server.is_redis:
            out[f"redis-{k8s_name(server.name)}.yaml"] = redis(stack, server)
        elif server.pool is not None:
            poolers = []
            for target in _pooled(stack, server):
                poolers.append(pooler(stack, server, target))
                if stack.servers[target].replicas:  # reads, as PgBouncer's _readonly entries
                    poolers.append(pooler(stack, server, target, readonly=True))
            if poolers:
                out[f"pooler-{k8s_name(server.name)}.yaml"] = poolers
    jobs = [job(stack, s) for s in stack.services.values() if s.database]
    if jobs:
        out["jobs.yaml"] = jobs
    return out


def files(stack: Stack, namespace_name: str, *, external: bool,
          lines: dict[KeyPath, int] | None = None) -> dict[PurePosixPath, str]:
    """The committed files of the export folder, by path relative to it."""
    found = resources(stack, lines)
    folders(stack, lines)  # a folder the image must never carry fails before any file
    out = {PurePosixPath("namespace.yaml"): _stream(stack, [namespace(stack, namespace_name)])}
    out.update((PurePosixPath(name), _stream(stack, docs)) for name, docs in found.items())
    listed = [str(p) for p in out] + ([] if external else [SECRETS_FILE])
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "namespace": namespace_name,
        "resources": listed,
        "images": [{"name": MIGRATE_IMAGE,
                    "newName": k8s_name(stack.project, "migrate"), "newTag": "latest"}],
    }
    out[PurePosixPath(KUSTOMIZATION)] = header(stack) + yamlio.dump(kustomization)
    out[PurePosixPath(DOCKERFILE)] = dockerfile(stack)
    out[PurePosixPath(GITIGNORE)] = (header(stack) + "# The migrate image's build context, "
                                     "filled by each export.\n"
                                     f"/{CONTEXT}/{WHEELS}/\n/{CONTEXT}/{APP}/\n"
                                     "# Passwords: never committed.\n"
                                     f"/{SECRETS_FILE}\n/{PASSWORDS_FILE}\n")
    return dict(sorted(out.items()))


def secret_files(stack: Stack, secrets: Secrets) -> dict[PurePosixPath, str]:
    """The git-ignored file with every Secret and its passwords."""
    return {PurePosixPath(SECRETS_FILE): _stream(stack, _secrets(stack, secrets))}


@dataclass(frozen=True)
class Folder:
    """A folder the migrate image carries: its normalised path relative to the project root
    (POSIX), and the manifest key that declared it."""

    path: str
    key: KeyPath


def folders(stack: Stack, lines: dict[KeyPath, int] | None = None) -> list[Folder]:
    """The migrations, command and seeds folders of the services, normalised (`sub/..` is the
    root, `a/../.devenv` is .devenv): what the migrate image's build context copies. A folder
    that is, or is inside, .devenv/ (local passwords), the project root (the whole project,
    .devenv/ included), or outside the project is an error at its manifest line (issue 27,
    item 15: `cwd: "sub/.."` copied .devenv/ into the image)."""
    lines = lines or {}
    state = posixpath.normpath(PurePosixPath(stack.state_dir).as_posix())
    found: dict[str, Folder] = {}
    problems: list[str] = []
    for svc in stack.services.values():
        base: KeyPath = ("services", svc.name)
        declared: list[tuple[Path, KeyPath]] = []
        spec = svc.migrations
        if spec is not None and spec.path is not None:
            declared.append((spec.path, (*base, "migrations", "path")))
        if spec is not None and spec.command is not None:
            declared.append((spec.cwd, (*base, "migrations", "cwd")))
        if svc.seeds is not None:
            declared.append((svc.seeds, (*base, "seeds")))
        for value, key in declared:
            path = posixpath.normpath(PurePosixPath(value).as_posix())
            where = _where(stack, lines, key)
            if value.is_absolute() or path == ".." or path.startswith("../"):
                problems.append(f"{where}: '{value}' is outside the project: the migrate "
                                "image's build context holds only folders under it")
            elif path == ".":
                problems.append(f"{where}: '{value}' is the project root: the migrate image "
                                "copies the manifest and each service's own folders, never the "
                                "whole project (.devenv/ holds the local passwords); give it a "
                                "folder of its own, e.g. migrations/" + svc.name)
            elif path == state or path.startswith(state + "/"):
                problems.append(f"{where}: '{value}' is inside {state}/, devenv's private "
                                "folder (local passwords), which the migrate image never "
                                "copies; keep migrations and seeds in a folder of their own")
            else:
                found.setdefault(path, Folder(path, key))
    if problems:
        raise DevenvError("\n".join(problems), hint="`devenv export kubernetes` copies these "
                          "folders into images/migrate/app/ for the migrate image")
    return sorted(found.values(), key=lambda f: f.path)


def dockerfile(stack: Stack) -> str:
    """The migration Jobs' image, built from its own folder: a wheelhouse of the devenv that
    wrote it (installed with --no-index: no package index, exactly the code that rendered the
    manifests) and app/ (the manifest and the services' folders, never .devenv/), both filled
    by `devenv export kubernetes` (devenv.store.migrateimage)."""
    return (
        header(stack)
        + f"# Build it from its own folder: docker build -t <image> <this folder>. `devenv "
        f"export kubernetes`\n# fills {WHEELS}/ ({DISTRIBUTION} {__version__} and its "
        f"dependencies) and {APP}/ beside it.\n"
        f"FROM {BASE_IMAGE}\n"
        f"COPY {WHEELS}/ /tmp/{WHEELS}/\n"
        f"RUN pip install --no-cache-dir --no-index --find-links /tmp/{WHEELS} "
        f'"{DISTRIBUTION}=={__version__}" \\\n'
        f"    && rm -rf /tmp/{WHEELS} \\\n"
        "    && useradd --create-home --uid 10001 devenv\n"
        f"COPY --chown=10001:10001 {APP}/ {APP_DIR}/\n"
        f"WORKDIR {APP_DIR}\n"
        "USER 10001\n"
    )
