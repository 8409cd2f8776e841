"""`devenv migrate | rollback | info | validate | seed | repair`: verbs over a running stack."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

from devenv import migrations
from devenv.console import Console, table
from devenv.engine.context import Context, attach, no_database, select
from devenv.engine.migrate import (
    direct_url,
    migrate_service,
    migration_set,
    outstanding_services,
    seed_set,
)
from devenv.errors import DevenvError, last_line
from devenv.migrations.formats import MigrationSet
from devenv.migrations.state import drift_hint
from devenv.model.stack import ServiceSpec, Stack


def _with_db(stack: Stack, names: list[str]) -> list[ServiceSpec]:
    services = select(stack, names)
    if names:
        for svc in services:
            if svc.database is None:
                raise no_database(svc)
    return [s for s in services if s.database]


def _folder_set(ctx: Context, svc: ServiceSpec) -> MigrationSet:
    if svc.migrations is not None and svc.migrations.command is not None:
        raise DevenvError(f"service '{svc.name}' migrates with `{svc.migrations.command}`",
                          hint="use that tool's own commands for history and rollback")
    found = migration_set(ctx.stack, svc)
    if found is None:
        raise DevenvError(f"service '{svc.name}' has no migrations folder "
                          f"({svc.migrations.path if svc.migrations else '-'})")
    return found


def migrate(stack: Stack, console: Console, *, names: list[str], target: str | None) -> None:
    ctx = attach(stack, console)
    services = _with_db(stack, names)
    if target is not None and len(services) != 1:
        raise DevenvError("--to needs exactly one service", hint="devenv migrate auth --to 1.2.0")
    outstanding_services(ctx, services)  # drift in any service: refuse before any change
    for svc in services:
        migrate_service(ctx, svc, target=target, seed=target is None, verbose=True)
        console.say(f"{svc.name}: up to date" if target is None else
                    f"{svc.name}: at {target}")


IN_CLUSTER_WAIT = 300.0  # seconds: CNPG makes the cluster, the role, then the database


def migrate_in_cluster(stack: Stack, console: Console, *, name: str,
                       wait: float = IN_CLUSTER_WAIT) -> None:
    """The Job of `devenv export kubernetes`: no .devenv/, no Docker. It connects as the
    service's own role (DATABASE_DIRECT_URL from its env Secret), waits until CNPG has made the
    role and the database, does the grants CNPG does not model (as the owner, the same
    idempotent statements as `devenv up`), then migrates and seeds with the same ledger."""
    import psycopg  # noqa: PLC0415 - ~0.2 s; only the in-cluster Job pays it

    from devenv.engine.provision import (  # noqa: PLC0415 - same
        database_access,
        grant_reads,
        monitor_access,
    )

    svc = _with_db(stack, [name])[0]
    assert svc.database is not None and svc.role is not None
    url = os.environ.get("DATABASE_DIRECT_URL", "")
    if not url:
        raise DevenvError("--in-cluster: DATABASE_DIRECT_URL is not set",
                          hint="run it in the Job that `devenv export kubernetes` writes: its "
                          f"Secret {svc.name}-env sets it")
    deadline = time.monotonic() + wait
    while True:
        try:
            # the service's own role, not an admin session: a cluster's superuser is CNPG's
            conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
            break
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise DevenvError(f"database of service '{svc.name}' did not answer in "
                                  f"{wait:.0f} s ({last_line(exc)})",
                                  hint="`kubectl get cluster,database` shows what CNPG is "
                                  "doing; the Job retries") from None
            console.say(f"  {svc.name}: waiting for its database")
            time.sleep(2)
    peers = [s for s in stack.services.values() if s.server == svc.server and s.role]
    readers = sorted({o.role for o in peers if svc.name in o.reads and o.role})
    with conn:
        actions = database_access(conn, svc.database, readers, {s.role for s in peers if s.role})
        actions += monitor_access(conn, svc.database)
        actions += grant_reads(conn, svc.role, readers, database=svc.database)
    for action in actions:
        console.say(f"  {svc.name}: {action}")
    spec = svc.migrations
    if spec is not None and spec.command is not None:
        console.say(f"  {svc.name}: running `{spec.command}`")
        migrations.run_command(spec.command, cwd=stack.root / spec.cwd, env=dict(os.environ),
                               on_output=lambda line: console.say(f"  {svc.name} | {line}"))
    else:
        found = migration_set(stack, svc)
        if found is not None and (found.versioned or found.repeatable):
            migrations.migrate(url, found, out_of_order=spec.out_of_order if spec else False,
                               on_event=lambda e: console.say(f"  {svc.name}: {e}"))
    seeds = seed_set(stack, svc)
    if seeds is not None and seeds.files:
        migrations.seed(url, seeds, on_event=lambda e: console.say(f"  {svc.name}: {e}"))
    console.say(f"{svc.name}: up to date")


def rollback(stack: Stack, console: Console, *, name: str, steps: int) -> None:
    svc = _with_db(stack, [name])[0]
    ctx = attach(stack, console, only=[svc])
    undone = migrations.rollback(direct_url(ctx, svc), _folder_set(ctx, svc), steps=steps,
                  on_event=lambda e: console.say(f"  {e}"))
    console.say(f"{svc.name}: rolled back {len(undone)} migration(s)")


def repair(stack: Stack, console: Console, *, name: str) -> None:
    svc = _with_db(stack, [name])[0]
    ctx = attach(stack, console, only=[svc])
    fixed = migrations.repair(direct_url(ctx, svc), _folder_set(ctx, svc))
    for line in fixed or ["nothing to repair"]:
        console.say(f"{svc.name}: {line}")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def info(stack: Stack, console: Console, *, name: str, as_json: bool) -> None:
    svc = _with_db(stack, [name])[0]
    ctx = attach(stack, console, only=[svc])
    url = direct_url(ctx, svc)
    rows = migrations.info(url, _folder_set(ctx, svc))
    seeds = seed_set(ctx.stack, svc)
    seed_rows = migrations.seed_status(url, seeds) if seeds is not None else []
    if as_json:
        console.result(json.dumps({
            "service": svc.name,
            "migrations": [{"version": r.version, "description": r.description,
                            "script": r.script, "state": r.state,
                            "applied_at": r.applied_at.isoformat() if r.applied_at else None,
                            "execution_ms": r.execution_ms} for r in rows],
            "seeds": [{"script": s.script, "state": s.state,
                       "applied_at": s.applied_at.isoformat() if s.applied_at else None}
                      for s in seed_rows],
        }, indent=2))
        return
    console.result(table(["VERSION", "DESCRIPTION", "STATE", "APPLIED TO DATA", "DURATION"], [
        [r.version or "R", r.description, r.state, _when(r.applied_at),
         f"{r.execution_ms} ms" if r.execution_ms is not None else "-"] for r in rows]))
    if seed_rows:
        console.result("")
        console.result(table(["SEED", "STATE", "APPLIED TO DATA"], [
            [s.script, s.state, _when(s.applied_at)] for s in seed_rows]))
    console.note(APPLIED_NOTE)


# The ledger lives in the data: `reset` copies the golden template, ledger included, so after
# one the times are the template's (built at the first reset after a change), not when `up`
# first ran the file here. Rewriting them would make the ledger lie about that data; the
# column says what it is instead (the JSON keeps `applied_at`).
APPLIED_NOTE = ("APPLIED TO DATA: when the file ran into the data now in this database; after "
                "`devenv reset` that is when the service's template was built")


def validate(stack: Stack, console: Console, *, names: list[str]) -> None:
    chosen = _with_db(stack, names)
    ctx = attach(stack, console, only=chosen)
    lines: list[str] = []
    hints: list[str] = []
    for svc in chosen:
        if svc.migrations is not None and svc.migrations.command is not None:
            continue
        found = migration_set(ctx.stack, svc)
        if found is None:
            continue
        out_of_order = svc.migrations.out_of_order if svc.migrations else False
        _, problems = migrations.inspect(direct_url(ctx, svc), found, out_of_order=out_of_order)
        lines += [f"{svc.name}: {p.text}" for p in problems]
        if problems:
            hints.append(drift_hint(svc.name, problems, folder=found.shown))
    if lines:
        raise DevenvError("migration drift:\n" + "\n".join(lines), hint=" ".join(hints))
    console.say("migrations match the databases")


def seed(stack: Stack, console: Console, *, name: str, force: bool) -> None:
    svc = _with_db(stack, [name])[0]
    ctx = attach(stack, console, only=[svc])
    seeds = seed_set(ctx.stack, svc)
    if seeds is None:
        raise DevenvError(f"service '{svc.name}' has no seeds folder ({svc.seeds})")
    done = migrations.seed(direct_url(ctx, svc), seeds, force=force,
                       on_event=lambda e: console.say(f"  {e}"))
    console.say(f"{svc.name}: applied {len(done.applied)} seed file(s)")
    for script in done.changed:
        console.warn(f"{script} was edited after it was applied and was NOT re-applied: "
                     f"`devenv seed {svc.name} --force` applies it")


def new(stack: Stack, console: Console, *, name: str, title: str, fmt: str | None) -> None:
    """The next migration file(s) of a service's folder, in its format and numbering."""
    from devenv.migrations.formats import FORMAT_NAMES, absent_folder, load_migrations  # noqa: PLC0415 - as the other verbs of this module, read from disk only
    from devenv.migrations.scaffold import new_files  # noqa: PLC0415 - same

    svc = select(stack, [name])[0]
    spec = svc.migrations
    if spec is not None and spec.command is not None:
        raise DevenvError(f"service '{name}' is migrated by `{spec.command}`",
                          hint="create the file with that tool (e.g. `alembic revision -m ...`)")
    if spec is None or spec.path is None:
        raise DevenvError(f"service '{name}' has no migrations folder",
                          hint=f"give it a database (`postgres: true` in services.{name})")
    if fmt is not None and fmt not in FORMAT_NAMES:
        raise DevenvError(f"unknown migration format {fmt!r}",
                          hint=f"use one of: {', '.join(FORMAT_NAMES)}")
    folder = stack.root / spec.path
    found = (load_migrations(folder, root=stack.root, service=name) if folder.is_dir() else
             absent_folder(folder, root=stack.root, service=name))
    files = new_files(found, title, datetime.now(tz=UTC), wanted=fmt)
    folder.mkdir(parents=True, exist_ok=True)
    for made in files:
        try:
            with made.path.open("x") as handle:
                handle.write(made.text)
        except FileExistsError:
            raise DevenvError(f"{made.path.relative_to(stack.root)} already exists",
                              hint="give the migration another name") from None
        console.result(f"created {made.path.relative_to(stack.root)}")
