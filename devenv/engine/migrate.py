"""Migrations and seeds of each service during `up` (and `migrate`, `seed`): one place.

Each service migrates as its own role on its own database, directly (not through PgBouncer:
the advisory lock and DDL want a real session), services in parallel.
"""

from __future__ import annotations

from devenv import migrations
from devenv.engine.context import Context, no_database, parallel
from devenv.migrations import check
from devenv.migrations.formats import MigrationSet, absent_folder
from devenv.migrations.seedfiles import SeedSet
from devenv.migrations.state import DriftError, drift_error
from devenv.model import facts
from devenv.model.stack import ServiceSpec, Stack


def migration_set(stack: Stack, svc: ServiceSpec) -> MigrationSet | None:
    """The service's migration folder, parsed; None when another tool migrates it.

    A default folder (`migrations/<service>`, not in the manifest) that does not exist is an
    empty set marked `missing`, not None: a brand-new service without one has no migrations,
    but a ledger with applied versions says the folder was deleted, and `up`, `status` and
    `validate` must say so (issue 24)."""
    spec = svc.migrations
    if spec is None or spec.path is None:
        return None
    folder = stack.root / spec.path
    if not folder.is_dir() and not spec.explicit:
        return absent_folder(folder, root=stack.root, service=svc.name)
    return migrations.load_migrations(folder, root=stack.root, service=svc.name)


def seed_set(stack: Stack, svc: ServiceSpec) -> SeedSet | None:
    if svc.seeds is None:
        return None
    folder = stack.root / svc.seeds
    if not folder.is_dir() and not svc.seeds_explicit:
        return None
    return migrations.load_seeds(folder, root=stack.root, service=svc.name)


def direct_url(ctx: Context, svc: ServiceSpec, database: str | None = None) -> str:
    db = facts.db_facts(ctx.stack, svc, ctx.secrets, ctx.ports, database=database)
    if db is None:
        raise no_database(svc)
    return db.direct_url


def migrate_service(ctx: Context, svc: ServiceSpec, *, database: str | None = None,
                    target: str | None = None, seed: bool = True, quiet: bool = False,
                    verbose: bool = False) -> None:
    """Migrate and seed one service's database (or `database`, e.g. a template being built).

    verbose: one line per file (the `migrate` command); otherwise one line per service.
    """
    url = direct_url(ctx, svc, database)

    def say(text: str) -> None:
        if not quiet:
            ctx.console.say(text)

    def event(text: str) -> None:
        if verbose or "waiting" in text:
            say(f"  {svc.name}: {text}")

    spec = svc.migrations
    if spec is not None and spec.command is not None:
        env = facts.env_vars(ctx.stack, svc, ctx.secrets, ctx.ports, database=database)
        say(f"  {svc.name}: running `{spec.command}`")
        migrations.run_command(spec.command, cwd=ctx.stack.root / spec.cwd, env=env,
                    on_output=lambda line: say(f"  {svc.name} | {line}"))  # masked by Console
    else:
        found = migration_set(ctx.stack, svc)
        if found is not None and (found.versioned or found.repeatable):
            result = migrations.migrate(url, found, target=target,
                             out_of_order=spec.out_of_order if spec else False,
                             on_event=event)
            if result.applied:
                say(f"  {svc.name}: applied {len(result.applied)} migration(s), now at "
                    f"{result.current_version} ({result.elapsed_ms} ms)")
    seeds = seed_set(ctx.stack, svc) if seed else None
    if seeds is not None and seeds.files:
        done = migrations.seed(url, seeds, on_event=event)
        if done.applied:
            say(f"  {svc.name}: applied {len(done.applied)} seed file(s)")
        for script in done.changed:
            ctx.console.warn(
                f"{script} was edited after it was applied and was NOT re-applied: run "
                f"`devenv seed {svc.name} --force` or `devenv reset {svc.name}`")


def check_folders(stack: Stack, services: list[ServiceSpec]) -> None:
    """Parse every migration and seed folder: a bad folder is an error before any password,
    file, role or container is made, not after the servers are up."""
    for svc in services:
        if svc.database and not (svc.migrations and svc.migrations.command):
            migration_set(stack, svc)
            seed_set(stack, svc)


Survey = tuple[MigrationSet | None, check.Outstanding | None]


def survey(ctx: Context, svc: ServiceSpec) -> Survey:
    """What `migrate_service` would do, read-only, no lock, no DDL: (its folder, what is
    outstanding), or (None, None) for a service migrated by another tool (only it knows; it is
    idempotent by contract).

    One connection as the service's own role, so it also proves that role can log in: a
    warm `up` needs no other check of a direct connection.
    """
    spec = svc.migrations
    if spec is not None and spec.command is not None:
        return None, None
    found = migration_set(ctx.stack, svc)
    # An edited seed counts: migrate_service warns about it, never silently skipped.
    return found, check.outstanding(direct_url(ctx, svc), found, seed_set(ctx.stack, svc),
                                    out_of_order=spec.out_of_order if spec else False)


def refuse_drift(services: list[ServiceSpec], surveys: list[Survey], *, verb: str) -> None:
    """One DriftError naming every drifted file of every service, before anything runs."""
    errors = [drift_error(found, list(out.drift), verb=verb)
              for (found, out) in surveys if found is not None and out and out.drift]
    if errors:
        raise DriftError("\n".join(e.message for e in errors),
                         " ".join(e.hint for e in errors if e.hint))


def outstanding_services(ctx: Context, services: list[ServiceSpec], *,
                         verb: str = "migrate") -> list[ServiceSpec]:
    """The services with migrations or seeds to run; a DriftError if any service's files no
    longer match its ledger (then nothing runs for any service)."""
    with_db = [s for s in services if s.database]
    surveys: list[Survey] = parallel([lambda s=s: survey(ctx, s)  # type: ignore[misc]
                                      for s in with_db])
    refuse_drift(with_db, surveys, verb=verb)
    return [s for s, (_, out) in zip(with_db, surveys, strict=True) if out is None or out.any]


def run(ctx: Context, services: list[ServiceSpec],
        todo: list[ServiceSpec] | None = None) -> bool:
    """Migrate and seed what needs it (`todo`, when the caller already asked); return whether
    anything had to run."""
    if todo is None:
        todo = outstanding_services(ctx, services)
    if not todo:
        return False
    with ctx.console.step("Migrating and seeding"):
        parallel([lambda s=s: migrate_service(ctx, s) for s in todo])  # type: ignore[misc]
    return True
