"""Read replicas at run time: the primary's side (role, slots, pg_hba), readiness, lag, pause.

The replicas clone themselves (devenv.model.replicas.WRAPPER); this module gives them what they
clone through and decides when they are ready: answering a query as a service role *and*
having received (with `replica_delay`) or replayed the primary's WAL up to the LSN read when
`up` checked, so a test that starts right after `up` reads on the replica what is committed.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from devenv.engine import probes, provision
from devenv.engine.context import Context
from devenv.errors import DevenvError
from devenv.model import facts
from devenv.model.replicas import REPLICATION_ROLE, Replica, primary_conninfo, replicas_of
from devenv.model.scram import make_secret
from devenv.model.stack import ServerSpec

HBA_LINE = f"host replication {REPLICATION_ROLE} all scram-sha-256"
# Appended once to the primary's pg_hba.conf (in its data volume). The official image's
# initdb allows replication connections only from localhost; its own appended
# `host all all all ...` line does not match the replication pseudo-database.
_HBA_SCRIPT = ('grep -qxF "$2" "$1" || printf "%s\\n" "$2" >> "$1"')
# seconds a wait for the replicas to replay gives them; a `replica_delay` longer than this
# needs a bigger timeout
REPLAY_TIMEOUT = 30.0
Conn = psycopg.Connection[Any]


def prepare_primary(ctx: Context, server: ServerSpec) -> list[str]:
    """The replication role (its own password), one physical slot per replica, pg_hba."""
    actions: list[str] = []
    hashed = make_secret(ctx.secrets.get(server.name, REPLICATION_ROLE))
    with ctx.admin_session(server) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                              (REPLICATION_ROLE,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(sql.SQL("{} ROLE {} LOGIN REPLICATION PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(REPLICATION_ROLE), sql.Literal(hashed)))
        if not exists:
            actions.append(f"created replication role {REPLICATION_ROLE} on {server.name}")
        found = conn.execute("SELECT slot_name, wal_status FROM pg_replication_slots "
                             "WHERE slot_type = 'physical'").fetchall()
        slots = {str(r[0]) for r in found if r[1] != "lost"}
        for replica in replicas_of(server):
            if replica.slot in {str(r[0]) for r in found} - slots:
                # let go past max_slot_wal_keep_size: its replica is re-cloned from a new one
                conn.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                             "WHERE slot_name = %s AND active_pid IS NOT NULL", (replica.slot,))
                conn.execute("SELECT pg_drop_replication_slot(%s)", (replica.slot,))
                actions.append(f"dropped replication slot {replica.slot} on {server.name}: more "
                               "WAL than max_slot_wal_keep_size was written while its replica "
                               "did not stream")
            if replica.slot not in slots:
                # reserve now: the WAL from here on is kept until the replica streams it
                conn.execute("SELECT pg_create_physical_replication_slot(%s, true)",
                             (replica.slot,))
                actions.append(f"created replication slot {replica.slot} on {server.name}")
        allowed = conn.execute(
            "SELECT 1 FROM pg_hba_file_rules WHERE %s = ANY(user_name) "
            "AND 'replication' = ANY(database) AND error IS NULL", (REPLICATION_ROLE,)).fetchone()
        if not allowed:
            row = conn.execute("SELECT setting FROM pg_settings WHERE name = 'hba_file'")
            hba = str(row.fetchone()[0])  # type: ignore[index]
            ctx.docker.exec_as_postgres(server.name, ["sh", "-c", _HBA_SCRIPT, "sh", hba,
                                                      HBA_LINE])
            conn.execute("SELECT pg_reload_conf()")
            actions.append(f"allowed replication connections in {server.name}'s pg_hba.conf")
    return actions


def repoint_replicas(ctx: Context, server: ServerSpec, deadline: float) -> list[str]:
    """`up --resync-passwords` on a server with replicas: each replica streams again with the
    replication role's password of .devenv/.

    `pg_basebackup -R` wrote the password of the time into the replica's primary_conninfo
    (postgresql.auto.conf), and prepare_primary has just set the role to the one in .devenv/:
    a replica would stream until its next reconnect and then fail to log in for ever. So the
    password is resynced like every other, and each replica's primary_conninfo is rewritten
    with ALTER SYSTEM over its local socket (trusted: no password needed) and reloaded, which
    restarts its WAL receiver (PostgreSQL 13+). Not kept: after a lost .devenv/ the old
    password is unknown. Not re-cloned: that would throw the replica's data away and take a
    base backup, where a reload takes milliseconds.
    """
    statement = sql.SQL("ALTER SYSTEM SET primary_conninfo = {};\nSELECT pg_reload_conf();\n")
    conninfo = primary_conninfo(server, ctx.secrets.get(server.name, REPLICATION_ROLE))
    script = statement.format(sql.Literal(conninfo)).as_string(None)
    done = []
    for replica in replicas_of(server):
        # a replica that cannot log in to its primary still answers on its socket once it has
        # replayed to a consistent point; until then psql says it is starting up
        probes.retry_until(deadline, lambda r=replica: ctx.docker.psql_admin(r.name, script))  # type: ignore[misc]
        done.append(f"pointed {replica.name} at {server.name} with the replication password "
                    "of .devenv/")
    return done


def as_server(server: ServerSpec, replica: Replica) -> ServerSpec:
    """The replica seen as a server (its compose service name), for logs and diagnosis."""
    return dataclasses.replace(server, name=replica.name, port=replica.port, replicas=0,
                               replica_ports=())


def readiness_session(ctx: Context, server: ServerSpec, replica: Replica) -> Conn:
    """A session on the replica as a service role (the first service on the server), else
    the admin: readiness proves what users will do. Raises psycopg's errors (it is retried)."""
    for svc in provision.services_on(ctx.stack, server):
        assert svc.role is not None and svc.database is not None
        return probes.service_session(facts.pg_url(
            svc.role, ctx.secrets.get(server.name, svc.role), facts.host_of(server),
            ctx.replica_port(replica), svc.database))
    return ctx.admin_connect(server, replica=replica)


def primary_lsn(ctx: Context, server: ServerSpec) -> str:
    with ctx.admin_session(server) as conn:
        return str(conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0])  # type: ignore[index]


def replay_position(conn: psycopg.Connection[Any], lsn: str) -> tuple[bool, bool, bool, bool]:
    """(in recovery, replay paused, replayed up to `lsn`, received up to `lsn`) of a replica,
    in one round trip; a promoted one answers (False, False, ...) instead of raising."""
    row = conn.execute(
        "SELECT pg_is_in_recovery(), "
        "CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END, "
        "pg_last_wal_replay_lsn() >= %s::pg_lsn, pg_last_wal_receive_lsn() >= %s::pg_lsn",
        (lsn, lsn)).fetchone()
    assert row is not None
    return bool(row[0]), bool(row[1]), bool(row[2]), bool(row[3])


def caught_up(conn: Conn, lsn: str, *, delayed: bool) -> bool:
    """Raise until the replica answers as a hot standby and has the WAL up to `lsn`: replayed,
    or (with replica_delay, which holds commits back on purpose) received. False: it is
    paused, and will not get there until resumed (each caller says what that means)."""
    with conn:
        recovering, paused, replayed, received = replay_position(conn, lsn)
    if not recovering:
        raise DevenvError("it is not in recovery: it was promoted and is no replica any more",
                          hint="`devenv down` and remove its volume to clone it again")
    if paused:
        return False
    if not (received if delayed else replayed):
        raise ConnectionError(f"not caught up to the primary's {lsn} yet")
    return True


@dataclass(frozen=True)
class ReplicaState:
    name: str
    primary: str
    state: str  # streaming, catchup, paused, missing, ...
    lag_bytes: int | None
    lag_seconds: float | None


def states(ctx: Context, server: ServerSpec) -> list[ReplicaState]:
    """What `devenv status` shows per replica: the primary's pg_stat_replication by slot, and
    the replica's own replay age (0 when it has replayed everything the primary wrote)."""
    with ctx.admin_session(server) as conn:
        rows = conn.execute(
            "SELECT s.slot_name, r.state, "
            "pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint "
            "FROM pg_replication_slots s LEFT JOIN pg_stat_replication r "
            "ON r.pid = s.active_pid").fetchall()
    by_slot: dict[str, tuple[Any, Any]] = {str(r[0]): (r[1], r[2]) for r in rows}
    out = []
    for replica in replicas_of(server):
        state, lag = by_slot.get(replica.slot, ("no slot", None))
        seconds = None
        try:
            with ctx.admin_connect(server, replica=replica) as conn:
                row = conn.execute(
                    "SELECT pg_is_wal_replay_paused(), CASE WHEN pg_last_wal_receive_lsn() = "
                    "pg_last_wal_replay_lsn() THEN 0 ELSE extract(epoch FROM now() - "
                    "pg_last_xact_replay_timestamp()) END").fetchone()
            assert row is not None
            if row[0]:
                state = "paused"
            seconds = None if row[1] is None else round(float(row[1]), 3)
        except (psycopg.OperationalError, KeyError):
            state = state or "down"
        out.append(ReplicaState(replica.name, server.name, state or "not streaming",
                                None if lag is None else int(lag), seconds))
    return out


def wait_all(ctx: Context, server: ServerSpec, deadline: float,
             check: Any) -> list[str]:
    """Wait for each replica of `server` (check: up._with_diagnosis). Returns notes to print."""
    lsn = primary_lsn(ctx, server)
    notes = []
    for replica in replicas_of(server):
        result: list[bool] = []
        check(ctx, as_server(server, replica), deadline,
              lambda rep=replica, r=result: r.append(caught_up(
                  readiness_session(ctx, server, rep), lsn, delayed=bool(server.replica_delay))),
              "as a hot standby caught up with its primary")
        if result and not result[-1]:
            notes.append(f"replica '{replica.name}' is paused (`devenv replica resume "
                         f"{server.name}` resumes it)")
    return notes


def set_paused(ctx: Context, server: ServerSpec, paused: bool) -> list[str]:
    """pg_wal_replay_pause()/resume() on every replica of the server; their names."""
    if not server.replicas:
        raise DevenvError(f"server '{server.name}' has no replicas",
                          hint=f"add `replicas: 1` to servers.{server.name} and `devenv up`")
    done = []
    for replica in replicas_of(server):
        try:
            with ctx.admin_session(server, replica=replica) as conn:
                call = "pg_wal_replay_pause" if paused else "pg_wal_replay_resume"
                conn.execute(f"SELECT {call}()")
        except KeyError:  # no port yet: never started
            raise DevenvError(f"cannot reach replica '{replica.name}' (it has not started)",
                              hint="`devenv up` starts it") from None
        done.append(replica.name)
    return done


def wait_replayed(ctx: Context, server: ServerSpec, timeout: float = REPLAY_TIMEOUT, *,
                  skip_paused: bool = False) -> list[str]:
    """Return once every replica has replayed the primary's current WAL (reset, `db clone`).

    A paused replica will not replay it until resumed: an error naming the fix (`db clone`
    must not hand out a read-only URL that does not work yet), or with `skip_paused` (a
    reset: paused on purpose, it replays the reset once resumed) a warning, and its name
    returned.
    """
    if not server.replicas:
        return []
    lsn = primary_lsn(ctx, server)
    deadline = time.monotonic() + timeout
    skipped = []
    for replica in replicas_of(server):
        try:
            replayed = probes.retry_until(deadline, lambda r=replica: caught_up(  # type: ignore[misc]
                ctx.admin_connect(server, replica=r), lsn, delayed=False))
        except Exception as exc:
            raise DevenvError(f"replica '{replica.name}' did not replay the primary's WAL up to "
                              f"{lsn} within {timeout:.0f}s ({exc})",
                              hint=f"`devenv logs {replica.name}` shows its log") from None
        if not replayed:
            if not skip_paused:
                raise paused_error(server, replica, lsn)
            ctx.console.warn(f"replica '{replica.name}' is paused: it replays this once resumed "
                             f"(`devenv replica resume {server.name}`)")
            skipped.append(replica.name)
    return skipped


def paused_error(server: ServerSpec, replica: Replica, lsn: str) -> DevenvError:
    """The one wording of "waited for a replica that is paused" (ReplayWait says it too)."""
    return DevenvError(
        f"replica '{replica.name}' is paused: it will not replay {lsn} until resumed",
        hint=f"`devenv replica resume {server.name}` (a test that paused it should resume it "
        "before waiting)")
