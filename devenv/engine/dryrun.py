"""`devenv plan`: what `devenv up` would change, decided the way `up` decides it, changing nothing.

Each part comes from the function `up` runs for that step, never from a second guess:
passwords (`passwords.completed`), ports (`assign_auto`), generated files (`generated.pending`,
what `generated.write` would change), the same refusals before a start (volume majors, taken
ports, image contents), images to build (`images.to_build`), containers (Compose's own
`--dry-run up` of the files `up` would write), roles, databases, extensions and grants
(`provision.reconcile_server(dry=True)`: its statements in transactions rolled back),
migrations and seeds (`migrate.survey`, the warm `up`'s check) and the env files. Nothing is
written: not .devenv/, not compose/, no cache.
"""

from __future__ import annotations

import time

from devenv.console import Console
from devenv.engine import images, provision, start
from devenv.engine import migrate as migrate_step
from devenv.engine.context import Context, needed_servers, select
from devenv.engine.docker import Docker
from devenv.engine.ports import assign_auto
from devenv.engine.up import env_file_text
from devenv.model import render
from devenv.model.changes import Changes, ServiceWork
from devenv.model.replicas import all_replicas
from devenv.model.stack import COMPOSE_ENV, COMPOSE_FILE, ServerSpec, ServiceSpec, Stack
from devenv.store import generated, passwords, state

PROVISION_DEADLINE_S = 30.0


def plan(stack: Stack, console: Console, *, names: list[str]) -> Changes:
    services = select(stack, names)
    migrate_step.check_folders(stack, services)
    docker = Docker(stack)
    stack = images.refine(stack, docker)
    creds, new_keys = passwords.completed(stack)
    current = state.load(stack)
    chosen = assign_auto(stack, current.ports)
    ctx = Context(stack, creds, chosen, docker, console)
    servers = [stack.servers[s.name] for s in needed_servers(stack, services)]
    files = generated.pending(stack, chosen, creds)
    start.refuse_conflicts(ctx, servers, keep=False)
    builds = images.to_build(stack, docker, servers)
    building = {server.name for server, _, _ in builds}
    images.check_contents(stack, docker, [s for s in servers if s.name not in building],
                          keep=False)
    notes: list[str] = []
    containers = _containers(ctx, servers, building, notes)
    provisioning: dict[str, tuple[str, ...]] = {}
    absent: set[str] = set()  # services whose database does not exist yet
    unknown: set[str] = set()  # servers that hold data but do not run: `up` reads them later
    for server in (s for s in servers if s.is_database):
        actions = _provisioning(ctx, server, containers.get(server.name, "create"), notes)
        if actions is None:
            unknown.add(server.name)
            continue
        provisioning[server.name] = tuple(actions)
        absent |= {svc.name for svc in provision.services_on(stack, server)
                   if f"created database {svc.database}" in actions}
    work = {svc.name: ServiceWork() if svc.server in unknown else
            _work(ctx, svc, new=svc.name in absent) for svc in services if svc.database}
    env_files = [str(svc.env_file) for svc in services if _env_changes(ctx, svc)]
    return Changes(
        passwords=tuple(new_keys),
        ports={k: v for k, v in chosen.items() if current.ports.get(k) != v},
        files=tuple((str(rel), exists) for rel, exists in files),
        images=tuple((s.name, tag, what) for s, tag, what in builds),
        containers=containers, provisioning=provisioning, work=work,
        env_files=tuple(env_files), notes=tuple(notes))


def _containers(ctx: Context, servers: list[ServerSpec], building: set[str],
                notes: list[str]) -> dict[str, str]:
    """Compose's verdict per container; every one is new when the project has none."""
    names = [s.name for s in servers] + [r.name for r in all_replicas(servers)]
    existing = ctx.docker.by_server()
    if not existing:
        return dict.fromkeys(names, "create")
    stack = ctx.stack
    rendered = render.compose_files(stack)
    env_text = render.state_files(stack, ctx.secrets, ctx.ports)[stack.state_dir / COMPOSE_ENV]
    compose_text = rendered[stack.compose_dir / COMPOSE_FILE]
    replicas = all_replicas(servers)
    # a server whose image is built first, and its replicas, are recreated by the new image
    blocked = building | {r.name for r in replicas if r.primary in building}
    runnable = [n for n in names if n not in blocked]
    found = ctx.docker.planned_up(runnable, compose_text, env_text) if runnable else {}
    if found is None:
        notes.append("this Docker Compose has no --dry-run (Compose >= 2.17 has): which "
                      "containers `up` recreates is not shown")
        return {}
    for name in names:
        if name in blocked:
            found[name] = "recreate" if name in existing else "create"
    return {n: found.get(n, "keep") for n in names}


def _provisioning(ctx: Context, server: ServerSpec, container: str,
                  notes: list[str]) -> list[str] | None:
    """Provisioning's actions, or None when the server cannot be asked (it is not running but
    holds data): then `up` decides once it runs."""
    fresh = server.storage == "tmpfs" and container in ("create", "recreate", "start")
    if container in ("create", "start") and not fresh:
        volume = images.volume_name(ctx.stack, server)
        if volume in ctx.docker.volumes():
            notes.append(f"server '{server.name}' is not running: its roles, databases and "
                         "migrations are read (and reconciled) once `up` starts it")
            return None
        fresh = True
    if fresh:
        return provision.fresh_server(ctx.stack, server, ctx.secrets)
    return provision.reconcile_server(ctx, server, dry=True,
                                      deadline=time.monotonic() + PROVISION_DEADLINE_S)


def _work(ctx: Context, svc: ServiceSpec, *, new: bool) -> ServiceWork:
    spec = svc.migrations
    if spec is not None and spec.command is not None:
        return ServiceWork(command=spec.command, new=new)
    if new:
        found = migrate_step.migration_set(ctx.stack, svc)
        seeds = migrate_step.seed_set(ctx.stack, svc)
        scripts = tuple(m.up.shown for m in (*found.versioned, *found.repeatable)) \
            if found is not None else ()
        return ServiceWork(scripts, tuple(f.shown for f in seeds.files) if seeds else (),
                           new=True)
    found, out = migrate_step.survey(ctx, svc)
    migrate_step.refuse_drift([svc], [(found, out)], verb="migrate")
    if out is None:
        return ServiceWork()
    return ServiceWork(out.scripts, out.seed_files)


def _env_changes(ctx: Context, svc: ServiceSpec) -> bool:
    try:
        return (ctx.stack.root / svc.env_file).read_text() != env_file_text(ctx, svc)
    except (FileNotFoundError, UnicodeDecodeError):
        return True
