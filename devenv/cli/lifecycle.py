"""`devenv up | down | status | ps`: the stack's lifecycle and what state it is in."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import TYPE_CHECKING, Any

from devenv.cli import servetests
from devenv.console import Console, table
from devenv.data import standby
from devenv.engine import down as stop
from devenv.engine.context import attach
from devenv.engine.docker import Docker, ServerStatus, server_status
from devenv.errors import DevenvError
from devenv.model.stack import Stack
from devenv.store import state
from devenv.store import testapi as testapi_state

if TYPE_CHECKING:
    from devenv.engine.replication import ReplicaState


def up(stack: Stack, console: Console, *, names: list[str], timeout: float, migrate: bool,
       resync: bool) -> None:
    # psycopg and the provisioning code, ~0.25 s: `down` and `ps` of this module need neither.
    from devenv.engine import up as start  # noqa: PLC0415

    start.up(stack, console, names=names, deadline_s=timeout, migrate=migrate, resync=resync)


def plan(stack: Stack, console: Console, *, names: list[str], as_json: bool) -> None:
    from devenv.engine import dryrun  # noqa: PLC0415 - as `up`

    changes = dryrun.plan(stack, console, names=names)
    if as_json:
        console.result(json.dumps(changes.as_json(), indent=2))
    else:
        console.result("\n".join(changes.lines(stack.project)))


def down(stack: Stack, console: Console, *, volumes: bool) -> None:
    """Stop the stack, and the reset standby first: it would serve resets of a stopped stack
    (and once more after: a refill that finished meanwhile may have started one)."""
    manifest = stack.root / stack.manifest_name
    standby.stop(manifest)
    stop.down(stack, console, volumes=volumes)
    standby.stop(manifest)


def _gather(stack: Stack, console: Console
            ) -> tuple[list[ServerStatus], list[ReplicaState], list[dict[str, Any]]]:
    servers = server_status(stack, state.load(stack))
    running = {s.name for s in servers if s.state == "running"}
    services = [
        {"service": s.name, "server": s.server, "database": s.database, "role": s.role,
         "pgbouncer": s.pgbouncer, "redis": s.redis, "env_file": str(s.env_file),
         "env_file_exists": (stack.root / s.env_file).exists(),
         **_migration_state(stack, s.name, console, running)}
        for s in stack.services.values()
    ]
    return servers, _replica_states(stack, console, running), services


def status_data(stack: Stack, console: Console) -> dict[str, Any]:
    """What `status --json` prints (and `devenv ui` shows): servers, replicas, services,
    snapshots, and the test API when `devenv serve-tests` runs."""
    servers, replicas, services = _gather(stack, console)
    running = {s.name for s in servers if s.state == "running"}
    return {"project": stack.project, "servers": [vars(s) for s in servers],
            "replicas": [vars(r) for r in replicas], "services": services,
            "snapshots": _snapshots(stack, console, running),
            "test_api": testapi_state.read(stack)}


def status(stack: Stack, console: Console, *, as_json: bool) -> None:
    if as_json:
        console.result(json.dumps(status_data(stack, console), indent=2))
        return
    servers, replicas, services = _gather(stack, console)
    console.result(f"project {stack.project}")
    console.result(_containers_table(["SERVER", "KIND"], [[s.name, s.kind] for s in servers],
                                     servers))
    _explain_health(console, servers)
    if replicas:
        console.result(table(["REPLICA", "OF", "STATE", "LAG BYTES", "LAG SECONDS"], [
            [r.name, r.primary, r.state, "-" if r.lag_bytes is None else str(r.lag_bytes),
             "-" if r.lag_seconds is None else f"{r.lag_seconds:g}"] for r in replicas]))
    rows = []
    for v in services:
        mark = "" if v["env_file_exists"] else " (not written yet)"
        pending = "-" if v["pending"] is None else str(v["pending"])
        if v["seeds_changed"]:
            pending += f" (+{v['seeds_changed']} edited seed)"
        rows.append([str(v["service"]), str(v["database"] or "-"), str(v["role"] or "-"),
                     str(v["version"] or "-"), pending, _drift_cell(v["drift"]),
                     f"{v['env_file']}{mark}"])
    console.result(table(["SERVICE", "DATABASE", "ROLE", "VERSION", "PENDING", "DRIFT",
                          "ENV FILE"], rows))
    if any(v["drift"] for v in services):
        console.result("drift: `devenv validate` names each file and the command that fixes it")
    test_api = testapi_state.read(stack)  # `devenv serve-tests`, when one runs
    if test_api is not None:
        servetests.print_status(console, test_api)


def _replica_states(stack: Stack, console: Console,
                    running: set[str]) -> list[ReplicaState]:
    """Each replica of a running primary, with its lag; none when no server has replicas."""
    primaries = [s for s in stack.servers.values() if s.replicas and s.name in running]
    if not primaries:
        return []
    from devenv.engine import replicahealth, replication  # noqa: PLC0415 - psycopg, ~0.2 s: only a stack with replicas running pays it

    ctx = attach(stack, console)
    out: list[ReplicaState] = []
    for server in primaries:
        try:
            states = replication.states(ctx, server)
            if any(r.state not in ("streaming", "paused") for r in states):
                # say what broke (the names `doctor` and `up` use), not just "no slot"
                kinds = {d.replica.name: d.kind for d in replicahealth.diagnose(ctx, server)}
                states = [dataclasses.replace(r, state=kinds.get(r.name, r.state))
                          if r.state not in ("streaming", "paused") else r for r in states]
            out += states
        except DevenvError:
            continue  # the primary is starting or gone: the servers table already says so
    return out


def _snapshots(stack: Stack, console: Console, running: set[str]) -> list[dict[str, object]]:
    """`devenv snapshot list --json` of the services whose servers run (none when none do)."""
    if not any(s.server in running or s.redis in running for s in stack.services.values()):
        return []
    from devenv.data import snapshots  # noqa: PLC0415 - psycopg and redis-py: only when up

    try:
        return [s.as_json() for s in snapshots.list_snapshots(attach(stack, console))]
    except DevenvError:
        return []  # .devenv/ without passwords yet: `up` never ran, so no snapshot either


def replica(stack: Stack, console: Console, *, server: str, pause: bool) -> None:
    """`devenv replica pause|resume SERVER`: WAL replay on every replica of SERVER."""
    if server not in stack.servers:
        raise DevenvError(f"no server named '{server}' in {stack.manifest_name} "
                          f"(servers: {', '.join(stack.servers)})")
    from devenv.engine import replication  # noqa: PLC0415 - psycopg, ~0.2 s: only this verb pays it

    names = replication.set_paused(attach(stack, console), stack.servers[server], pause)
    verb = "paused: reads there see the data as of now" if pause else "resumed"
    console.say(f"replay {verb} on {', '.join(names)}")


def kill_script(stack: Stack, console: Console, *, servers: list[str]) -> None:
    """`devenv redis kill-script [SERVER...]`: end what keeps each server busy."""
    kinds = ("redis", "valkey")
    known = [s.name for s in stack.servers.values() if s.kind in kinds]
    unknown = [n for n in servers if n not in known]
    if unknown:
        raise DevenvError(f"no Redis or Valkey server named {', '.join(map(repr, unknown))} in "
                          f"{stack.manifest_name} (servers: {', '.join(known) or 'none'})")
    from devenv.engine import scripts  # noqa: PLC0415 - redis-py: only this verb pays it

    ctx = attach(stack, console)
    for name in servers or known:
        killed = scripts.kill(ctx, stack.servers[name])
        if killed is None:
            console.say(f"{name}: no script running")
        else:
            console.say(f"{name}: killed the Lua "
                        f"{'function' if killed.function else 'EVAL script'}"
                        f"{' ' + killed.name if killed.name else ''} ({killed.kill})")


def _drift_cell(drift: object) -> str:
    """`1 edited, 1 failed` from the problems' kinds; `-` when the files match the ledger."""
    if not isinstance(drift, list) or not drift:
        return "-"
    words = {"changed": "edited", "missing": "missing", "folder-missing": "folder missing",
             "failed": "failed", "out-of-order": "out of order"}
    counts: dict[str, int] = {}
    for problem in drift:
        kind = words.get(str(problem.get("kind")), str(problem.get("kind")))
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in counts.items())


def _migration_state(stack: Stack, name: str, console: Console,
                     running: set[str]) -> dict[str, object]:
    """Current version, pending migrations and edited seeds of a running service's database."""
    out: dict[str, object] = {"version": None, "pending": None, "seeds_changed": 0,
                              "drift": []}
    svc = stack.services[name]
    if svc.server not in running or svc.database is None:
        return out
    # psycopg, ~0.2 s: only a running database's migration state needs it, never `down`/`ps`.
    from devenv import migrations as migrations_api  # noqa: PLC0415
    from devenv.engine.migrate import direct_url, migration_set, seed_set  # noqa: PLC0415

    try:
        ctx = attach(stack, console)
        url = direct_url(ctx, svc)
        migrations = migration_set(ctx.stack, svc)
        spec = svc.migrations
        if spec is not None and spec.command is not None:
            from devenv.migrations.command import tool_version  # noqa: PLC0415 - as above

            out["managed_by"] = spec.command
            out["version"] = tool_version(url) or "managed by command"
        if migrations is not None:
            spec = svc.migrations
            rows, problems = migrations_api.inspect(
                url, migrations, out_of_order=spec.out_of_order if spec else False)
            out["drift"] = [{"kind": p.kind, "problem": p.text} for p in problems]
            # The ledger's version, as `migrate` sees it: an applied file that was since edited
            # or deleted (its whole folder, too) is still applied to the data (issue 24).
            applied = [r.version for r in rows
                       if r.state in ("applied", "changed", "missing") and r.version]
            out["version"] = applied[-1] if applied else None
            out["pending"] = sum(1 for r in rows if r.state == "pending")
        seeds = seed_set(ctx.stack, svc)
        if seeds is not None:
            out["seeds_changed"] = sum(1 for r in migrations_api.seed_status(url, seeds)
                                       if r.state == "changed")
    except DevenvError as exc:
        out["error"] = exc.message
    return out


def ready(verified_at: float | None) -> str:
    """READY: when `devenv up` itself connected to this container (HH:MM:SS, today)."""
    if verified_at is None:
        return "-"
    same_day = time.localtime(verified_at)[:3] == time.localtime()[:3]
    return "verified " + time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M",
                                       time.localtime(verified_at))


def _explain_health(console: Console, servers: list[ServerStatus]) -> None:
    """HEALTH is Docker's healthcheck, READY is devenv's own connection: right after `up` they
    differ (Docker's first check runs up to 5 s later), so say which is which when they do."""
    if any(s.verified_at is not None and s.health in ("starting", "unhealthy") for s in servers):
        console.note("HEALTH is Docker's healthcheck (every 5 s; `starting` until its first "
                     "run); READY is when `devenv up` last connected to the server itself")


def _containers_table(heads: list[str], firsts: list[list[str]],
                      servers: list[ServerStatus]) -> str:
    """`heads` and their cells, then each container's state, health, READY and port, and
    which primary a replica copies (that column only in a stack with replicas)."""
    with_replicas = any(s.replica_of for s in servers)
    rows = [[*first, s.state, s.health or "-", ready(s.verified_at),
             "-" if s.port is None else str(s.port),
             *([s.replica_of or "-"] if with_replicas else [])]
            for first, s in zip(firsts, servers, strict=True)]
    return table([*heads, "STATE", "HEALTH", "READY", "PORT",
                  *(["REPLICA OF"] if with_replicas else [])], rows)


def ps(stack: Stack, console: Console) -> None:
    containers = Docker(stack).by_server()
    servers = server_status(stack, state.load(stack))
    firsts = [[c.name if (c := containers.get(s.name)) else "-", s.name] for s in servers]
    console.result(_containers_table(["CONTAINER", "SERVER"], firsts, servers))
    _explain_health(console, servers)
