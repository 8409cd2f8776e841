"""Is each read replica still a replica of *this* primary? What broke, and what fixes it.

A replica's container can be running and healthy (pg_isready) while it serves stale data:
after the primary's volume was recreated it keeps answering from the old cluster (its
walreceiver is refused with "database system identifier differs"); after its slot was dropped
it waits for WAL that nobody sends. Only its walreceiver's status tells. So:

- `streaming` is the one cheap question (a query on the replica) a warm `up` asks;
- `diagnose` asks the primary too (system identifier, slots, the oldest WAL segment it has)
  and classifies each replica, for `doctor` and for `up`'s repair;
- `reclone` removes one replica's container and its own volume (never the primary's) and
  starts it again: its wrapper entrypoint clones the primary anew.

A slot that is missing while the WAL the replica needs is still in the primary's pg_wal is
only re-created: the replica resumes streaming at its next retry (wal_retrieve_retry_interval,
5 s), keeping its data. Once that WAL is gone (a checkpoint recycled it), only a new clone can
catch up, as after a promotion or a recreated primary.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import psycopg

from devenv.engine import probes
from devenv.engine.context import Context
from devenv.engine.docker import ContainerState
from devenv.errors import DevenvError, last_line
from devenv.model.replicas import Replica, replicas_of
from devenv.model.stack import LABEL, ServerSpec

# one round trip; pg_is_wal_replay_paused() raises outside recovery, hence the CASE
_REPLICA_QUERY = (
    "SELECT pg_is_in_recovery(), "
    "CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END, "
    "(SELECT status FROM pg_stat_wal_receiver), "
    "(SELECT system_identifier FROM pg_control_system())::text, "
    "COALESCE(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text")
_WAL_SEGMENT = "^[0-9A-F]{24}$"
# what a replica's log says when it is refused for good (it retries forever, still healthy)
_LOG_SIGNS = {
    "database system identifier differs": "recreated",
    "does not exist": "slot missing",  # replication slot "..." does not exist
    "has already been removed": "wal gone",
}

# kinds that only a new clone repairs
RECLONE = frozenset({"recreated", "promoted", "wal gone", "slot lost"})


@dataclass(frozen=True)
class Diagnosis:
    replica: Replica
    kind: str  # streaming, paused, connecting, slot missing, wal gone, slot lost,
    # recreated, promoted, down
    detail: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.kind in ("streaming", "paused")

    @property
    def reclone(self) -> bool:
        return self.kind in RECLONE


@dataclass(frozen=True)
class _Seen:
    recovering: bool
    paused: bool
    receiver: str | None  # pg_stat_wal_receiver.status: streaming, starting, ... or None
    system_id: str
    lsn: str | None


def _ask_replica(ctx: Context, server: ServerSpec, replica: Replica) -> _Seen:
    with ctx.admin_connect(server, replica=replica) as conn:
        row = conn.execute(_REPLICA_QUERY).fetchone()
    assert row is not None
    return _Seen(bool(row[0]), bool(row[1]), row[2], str(row[3]), row[4])


def streaming(ctx: Context, server: ServerSpec) -> bool:
    """True when every replica of `server` is in recovery and its walreceiver streams (or it
    is paused on purpose): one query per replica, what a warm `up` pays for them."""
    for replica in replicas_of(server):
        try:
            seen = _ask_replica(ctx, server, replica)
        except (psycopg.Error, KeyError):
            return False
        if not seen.recovering or seen.receiver != "streaming":
            return False
    return True


@dataclass(frozen=True)
class _Primary:
    system_id: str
    slots: set[str]
    oldest_segment: str | None
    lost: set[str]  # slots the primary let go: more WAL than max_slot_wal_keep_size
    retained: dict[str, int]  # bytes of WAL each slot keeps
    cap: str  # max_slot_wal_keep_size, as the server shows it


def _ask_primary(ctx: Context, server: ServerSpec) -> _Primary:
    with ctx.admin_session(server) as conn:
        row = conn.execute(
            "SELECT (SELECT system_identifier FROM pg_control_system())::text, "
            "(SELECT min(name) FROM pg_ls_waldir() WHERE name ~ %s), "
            "current_setting('max_slot_wal_keep_size')", (_WAL_SEGMENT,)).fetchone()
        assert row is not None
        slots = conn.execute(
            "SELECT slot_name, wal_status, "
            "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
            "FROM pg_replication_slots WHERE slot_type = 'physical'").fetchall()
    return _Primary(str(row[0]), {str(r[0]) for r in slots}, row[1],
                    {str(r[0]) for r in slots if r[1] == "lost"},
                    {str(r[0]): int(str(r[2])) for r in slots if r[2] is not None}, str(row[2]))


def _segment_of(ctx: Context, server: ServerSpec, lsn: str) -> str:
    with ctx.admin_session(server) as conn:
        row = conn.execute("SELECT pg_walfile_name(%s::pg_lsn)", (lsn,)).fetchone()
    assert row is not None
    return str(row[0])


def _log_sign(ctx: Context, replica: Replica) -> str | None:
    """The newest telling line of the replica's log, as one of _LOG_SIGNS' kinds."""
    found = None
    for line in ctx.docker.logs_tail(replica.name, 40).splitlines():
        for sign, kind in _LOG_SIGNS.items():
            if sign in line:
                found = kind
    return found


def diagnose(ctx: Context, server: ServerSpec) -> list[Diagnosis]:
    """Each replica of a running primary, classified (see the module's docstring). One that
    does not stream says how much WAL its slot keeps on the primary, and the cap."""
    primary = _ask_primary(ctx, server)
    containers = ctx.docker.by_server()
    found = []
    for replica in replicas_of(server):
        d = _diagnose_one(ctx, server, replica, primary, containers.get(replica.name))
        kept = primary.retained.get(replica.slot)
        if d.kind in ("down", "connecting") and kept is not None:
            cap = ("no cap: max_slot_wal_keep_size is -1" if primary.cap == "-1" else
                   f"at most {primary.cap} (max_slot_wal_keep_size): past that the primary "
                   "lets the slot go and `devenv up` re-clones the replica")
            d = replace(d, detail=f"{d.detail}; its slot {replica.slot} keeps "
                        f"{kept / 1024**2:.0f} MB of WAL on '{server.name}', {cap}")
        found.append(d)
    return found


def _diagnose_one(ctx: Context, server: ServerSpec, replica: Replica, primary: _Primary,
                  container: ContainerState | None) -> Diagnosis:
    name = replica.name
    if replica.slot in primary.lost:  # running or not: it cannot stream from that slot again
        return _broken(replica, "slot lost", server, cap=primary.cap)
    if container is None or container.state != "running":
        state = container.state if container is not None else "no container"
        sign = _log_sign(ctx, replica) if container is not None else None
        if sign in RECLONE:
            return _broken(replica, sign or "", server)
        return Diagnosis(replica, "down", f"replica '{name}' is not running ({state})",
                         f"`devenv up` starts it; `devenv logs {name}` shows why it stopped")
    try:
        seen = _ask_replica(ctx, server, replica)
    except (psycopg.Error, KeyError) as exc:
        return Diagnosis(replica, "down", f"replica '{name}' does not answer ({last_line(exc)})",
                         f"`devenv logs {name}` shows its log; `devenv up` waits for it")
    if not seen.recovering:
        return _broken(replica, "promoted", server)
    if seen.system_id != primary.system_id:
        return _broken(replica, "recreated", server)
    if replica.slot not in primary.slots:
        if seen.lsn is not None and primary.oldest_segment is not None and \
                _segment_of(ctx, server, seen.lsn) < primary.oldest_segment:
            return _broken(replica, "wal gone", server)
        return Diagnosis(replica, "slot missing",
                         f"replica '{name}': its replication slot {replica.slot} does not exist "
                         f"on '{server.name}' (dropped?), so it does not stream; the WAL it "
                         "needs is still there",
                         "`devenv up` re-creates the slot and the replica resumes (no re-clone)")
    if seen.receiver != "streaming":
        if _log_sign(ctx, replica) == "wal gone":
            return _broken(replica, "wal gone", server)
        return Diagnosis(replica, "connecting",
                         f"replica '{name}' is not streaming from '{server.name}' yet "
                         f"(walreceiver: {seen.receiver or 'not running'})",
                         f"it retries every 5 s; `devenv logs {name}` shows why it waits")
    if seen.paused:
        return Diagnosis(replica, "paused", f"replica '{name}' streams, its replay is paused",
                         f"`devenv replica resume {server.name}`")
    return Diagnosis(replica, "streaming", f"replica '{name}' streams from '{server.name}'")


def _broken(replica: Replica, kind: str, server: ServerSpec, *, cap: str = "") -> Diagnosis:
    why = {
        "slot lost": f"more than {cap} of WAL (max_slot_wal_keep_size) was written on "
                     f"'{server.name}' while it did not stream, so the primary let its slot "
                     f"{replica.slot} go and recycled that WAL: it cannot catch up",
        "recreated": f"its primary '{server.name}' was recreated under it (another database "
                     "system identifier): it serves the old cluster's data and cannot stream",
        "promoted": "it was promoted (not in recovery): it is no replica any more",
        "wal gone": f"the WAL it needs was removed from '{server.name}' (its slot was missing "
                    "while a checkpoint recycled it): it cannot catch up",
    }[kind]
    return Diagnosis(replica, kind, f"replica '{replica.name}': {why}",
                     "`devenv up` re-clones it from its primary (its own volume only; the "
                     "primary's data is never touched)")


def reason(diagnosis: Diagnosis) -> str:
    """Why `up` re-cloned it, in a few words."""
    return {"recreated": "its primary was recreated", "promoted": "it had been promoted",
            "slot lost": "its slot was let go: more WAL than max_slot_wal_keep_size",
            "wal gone": "the WAL it needed was gone"}.get(diagnosis.kind, diagnosis.kind)


def reclone(ctx: Context, server: ServerSpec, replica: Replica) -> None:
    """Remove the replica's container and its own data volume, then start it: its wrapper
    entrypoint finds an empty PGDATA and clones the primary again through its slot."""
    volume = None
    if server.storage != "tmpfs":
        volume = ctx.docker.volume_of(replica.name)
        if volume is None or volume == ctx.docker.volume_of(server.name):
            raise DevenvError(f"cannot find the data volume of replica '{replica.name}' "
                              f"(labelled {LABEL}.server={replica.name})",
                              hint=f"`devenv down` and `docker volume ls` to look; the "
                              f"primary '{server.name}' was left alone")
    ctx.docker.remove_service(replica.name, volume)
    # not --no-deps: compose would hash the replica's config without its depends_on and
    # recreate it at the next `up`; the primary, just started by `up` from the same file,
    # is left as it runs
    ctx.docker.up([replica.name])


def wait_streaming(ctx: Context, server: ServerSpec, replica: Replica, deadline: float) -> None:
    """After a repair: back once the replica's walreceiver streams from the primary (a
    re-created slot is picked up at its next retry), so the next warm `up` finds it so."""
    def check() -> None:
        seen = _ask_replica(ctx, server, replica)
        if seen.receiver != "streaming":
            raise ConnectionError(f"walreceiver: {seen.receiver or 'not running'}")

    try:
        probes.retry_until(deadline, check)
    except Exception as exc:
        raise DevenvError(f"replica '{replica.name}' does not stream from '{server.name}' after "
                          f"its repair ({last_line(exc)})",
                          hint=f"`devenv doctor` says why; `devenv logs {replica.name}` shows "
                          "its log") from None
