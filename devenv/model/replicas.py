"""Read replicas of a postgres/timescaledb server: names, slots, ports and their compose services.

Pure. A replica is a container of the primary's image that clones the primary once with
`pg_basebackup -R` (physical, streaming, through a replication slot of its own) and then runs
as a hot standby. The official images' entrypoint runs initdb on an empty PGDATA, so the
replica's entrypoint is a small wrapper that fills PGDATA first and then hands over to the
image's own `docker-entrypoint.sh`, which then only fixes ownership and starts postgres.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from devenv.model.stack import CLONE_DIR, ServerSpec, secret_target

REPLICATION_ROLE = "devenv_replicator"  # LOGIN REPLICATION, a password of its own per server
REPLICATION_SECRET = "replication-password"
SLOT_PREFIX = "devenv_replica_"
READONLY_SUFFIX = "_readonly"


def readonly_entry(database: str) -> str:
    """The PgBouncer database that pools a service's reads on its server's replicas: its own
    name in the pool's [databases], beside the read-write `<database>` entry."""
    return f"{database}{READONLY_SUFFIX}"

# POSIX sh (the Alpine-based images have busybox sh, no bash). Runs as the image's default user,
# root, so it can read the Compose secret (mounted with the host file's owner and mode 0600);
# the image's entrypoint then chowns PGDATA to postgres and steps down with gosu as usual. The
# clones' tablespace (CLONE_DIR) is copied by pg_basebackup too and chowned here. Until the
# primary accepts the replication role (devenv provisions it after the primary answers), the
# backup is retried; pg_basebackup cleans up what a failed attempt wrote.
# A restart empties the clones' tmpfs while PGDATA (on its volume) still lists the clone
# databases that lived there: the first write to one of them the standby replays stops it for
# good ("WAL contains references to invalid pages", in a restart loop), and a drop on the
# primary comes too late (the replay starts before it). A replica is only a copy, so on a
# start that finds the tablespace's link in pg_tblspc but the tmpfs empty, it clones again
# (seconds for a development database); the primary's slot is reused, or made again when it
# was dropped meanwhile. So every restart of a replica (`down` then `up` included) re-clones it.
WRAPPER = """set -eu
if [ -s "$PGDATA/PG_VERSION" ] && [ -d "$DEVENV_CLONE_DIR" ] \\
    && [ -z "$(ls -A "$DEVENV_CLONE_DIR")" ]; then
  for link in "$PGDATA"/pg_tblspc/*; do
    if [ "$(readlink "$link" 2>/dev/null || true)" = "$DEVENV_CLONE_DIR" ]; then
      echo "devenv: a restart emptied $DEVENV_CLONE_DIR (the clones' tablespace):" \\
        "cloning $DEVENV_PRIMARY_HOST again"
      find "$PGDATA" -mindepth 1 -delete
      break
    fi
  done
fi
# what a failed attempt left: pg_basebackup empties PGDATA, not the tablespace it wrote to
clean() {
  find "$PGDATA" -mindepth 1 -delete 2>/dev/null || true
  if [ -d "$DEVENV_CLONE_DIR" ]; then
    find "$DEVENV_CLONE_DIR" -mindepth 1 -delete 2>/dev/null || true
  fi
}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"
  PGPASSWORD="$(cat "$DEVENV_REPLICATION_PASSWORD_FILE")"
  export PGPASSWORD
  tries=0
  # -S: the slot devenv made; -C -S when it is gone (dropped by hand while the replica was
  # down, then this start found its tmpfs empty): the copy makes the slot it streams from
  until pg_basebackup -h "$DEVENV_PRIMARY_HOST" -p "$DEVENV_PRIMARY_PORT" \\
      -U "$DEVENV_REPLICATION_USER" -D "$PGDATA" -X stream -S "$DEVENV_SLOT" -R -c fast \\
    || { clean
         pg_basebackup -h "$DEVENV_PRIMARY_HOST" -p "$DEVENV_PRIMARY_PORT" \\
      -U "$DEVENV_REPLICATION_USER" -D "$PGDATA" -X stream -C -S "$DEVENV_SLOT" -R -c fast; }; do
    tries=$((tries + 1))
    if [ "$tries" -ge 300 ]; then echo "devenv: no base backup after $tries tries" >&2; exit 1; fi
    clean
    sleep 1
  done
  unset PGPASSWORD
  chown -R postgres:postgres "$PGDATA"
  if [ -d "$DEVENV_CLONE_DIR" ]; then chown -R postgres:postgres "$DEVENV_CLONE_DIR"; fi
  chmod 0700 "$PGDATA"
  echo "devenv: $PGDATA cloned from $DEVENV_PRIMARY_HOST (slot $DEVENV_SLOT)"
fi
exec docker-entrypoint.sh "$@"
"""


@dataclass(frozen=True)
class Replica:
    name: str  # compose service, container label, key in .devenv/ ports
    primary: str
    index: int  # 1-based
    slot: str
    port: int | None = None  # the host port set in the manifest; None: auto, chosen at `up`


def replicas_of(server: ServerSpec) -> list[Replica]:
    if not server.is_database:
        return []
    ports = server.replica_ports
    return [Replica(f"{server.name}-replica-{i}", server.name, i, f"{SLOT_PREFIX}{i}",
                    ports[i - 1] if i <= len(ports) else None)
            for i in range(1, server.replicas + 1)]


def port_key(replica: Replica) -> str:
    """Where the manifest sets this replica's host port (for errors and hints)."""
    return f"servers.{replica.primary}.replicas.{replica.index - 1}.port"


def replica_port(replica: Replica, ports: Mapping[str, int]) -> int | None:
    """The replica's host port: the manifest's, else the one `up` chose (None: not yet)."""
    return replica.port if replica.port is not None else ports.get(replica.name)


def all_replicas(servers: list[ServerSpec]) -> list[Replica]:
    return [r for s in servers for r in replicas_of(s)]


def primary_conninfo(server: ServerSpec, password: str) -> str:
    """What a replica streams through: the primary by its compose name and container port, as
    the replication role (libpq conninfo quoting, though devenv's passwords are alphanumeric)."""
    def quoted(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    return (f"host={quoted(server.name)} port={server.container_port} "
            f"user={quoted(REPLICATION_ROLE)} password={quoted(password)}")


def replica_settings(server: ServerSpec) -> list[tuple[str, str]]:
    """What a standby adds to its primary's settings (which it must match or exceed:
    max_connections, max_worker_processes, ... are checked at standby start)."""
    extra = [("hot_standby", "on"), ("hot_standby_feedback", "on")]
    if server.replica_delay:
        extra.append(("recovery_min_apply_delay", server.replica_delay))
    return extra


def compose_service(primary: dict[str, Any], server: ServerSpec,
                    replica: Replica) -> dict[str, Any]:
    """The replica's service, made from the primary's (same image, settings and clone tmpfs)."""
    environment = {
        **primary["environment"],
        "DEVENV_PRIMARY_HOST": server.name,
        "DEVENV_PRIMARY_PORT": str(server.container_port),
        "DEVENV_REPLICATION_USER": REPLICATION_ROLE,
        "DEVENV_REPLICATION_PASSWORD_FILE": secret_target(server.name, REPLICATION_SECRET),
        "DEVENV_SLOT": replica.slot,
        "DEVENV_CLONE_DIR": CLONE_DIR,
    }
    service: dict[str, Any] = {"image": primary["image"], "environment": environment,
                               # $$: Compose interpolates $ in the file
                               "entrypoint": ["sh", "-c", WRAPPER.replace("$", "$$"),
                                              "devenv-replica"]}
    settings = replica_settings(server)
    service["command"] = primary["command"] + [a for k, v in settings
                                               for a in ("-c", f"{k}={v}")]
    if server.storage == "tmpfs":
        service["tmpfs"] = [f"{server.data_dir}:size={server.tmpfs_size}",
                            *primary.get("tmpfs", [])[1:]]
    else:
        service["volumes"] = [f"{replica.name}-data:{server.data_dir}"]
        service["tmpfs"] = list(primary["tmpfs"])
    service["depends_on"] = {server.name: {"condition": "service_started"}}
    service["healthcheck"] = primary["healthcheck"]
    service["shm_size"] = primary["shm_size"]
    return service
