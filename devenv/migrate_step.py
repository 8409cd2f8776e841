"""Migrations and seeds of each service during `up` (and `migrate`, `seed`): one place.

Each service migrates as its own role on its own database, directly (not through PgBouncer:
the advisory lock and DDL want a real session), services in parallel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from devenv import facts
from devenv.errors import DevenvError
from devenv.stack import ServiceSpec

if TYPE_CHECKING:
    from devenv.migrations import MigrationSet, SeedSet
    from devenv.up import Context


def migration_set(ctx: Context, svc: ServiceSpec) -> MigrationSet | None:
    from devenv.migrations import load_migrations

    spec = svc.migrations
    if spec is None or spec.path is None:
        return None
    folder = ctx.stack.root / spec.path
    if not folder.is_dir() and not spec.explicit:
        return None
    return load_migrations(folder, root=ctx.stack.root, service=svc.name)


def seed_set(ctx: Context, svc: ServiceSpec) -> SeedSet | None:
    from devenv.migrations import load_seeds

    if svc.seeds is None:
        return None
    folder = ctx.stack.root / svc.seeds
    if not folder.is_dir() and not svc.seeds_explicit:
        return None
    return load_seeds(folder, root=ctx.stack.root, service=svc.name)


def direct_url(ctx: Context, svc: ServiceSpec, database: str | None = None) -> str:
    db = facts.db_facts(ctx.stack, svc, ctx.secrets, ctx.ports, database=database)
    if db is None:
        raise DevenvError(f"service '{svc.name}' has no database",
                          hint=f"add `postgres: true` to services.{svc.name}")
    return db.direct_url


def migrate_service(ctx: Context, svc: ServiceSpec, *, database: str | None = None,
                    target: str | None = None, seed: bool = True, quiet: bool = False,
                    verbose: bool = False) -> None:
    """Migrate and seed one service's database (or `database`, e.g. a template being built).

    verbose: one line per file (the `migrate` command); otherwise one line per service.
    """
    from devenv.migrations import migrate, run_command
    from devenv.migrations import seed as apply_seeds

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
        run_command(spec.command, cwd=ctx.stack.root / spec.cwd, env=env,
                    on_output=lambda line: say(f"  {svc.name} | {line}"))  # masked by Console
    else:
        migrations = migration_set(ctx, svc)
        if migrations is not None and (migrations.versioned or migrations.repeatable):
            result = migrate(url, migrations, target=target,
                             out_of_order=spec.out_of_order if spec else False,
                             on_event=event)
            if result.applied:
                say(f"  {svc.name}: applied {len(result.applied)} migration(s), now at "
                    f"{result.current_version} ({result.elapsed_ms} ms)")
    seeds = seed_set(ctx, svc) if seed else None
    if seeds is not None and seeds.files:
        done = apply_seeds(url, seeds, on_event=event)
        if done.applied:
            say(f"  {svc.name}: applied {len(done.applied)} seed file(s)")
        for script in done.changed:
            ctx.console.warn(
                f"{script} was edited after it was applied and was NOT re-applied: run "
                f"`devenv seed {svc.name} --force` or `devenv reset {svc.name}`")


def needs_work(ctx: Context, svc: ServiceSpec) -> bool:
    """Whether `migrate_service` would change anything: read-only, no lock, no DDL.

    This is what keeps a warm `up` fast and silent: two cheap queries per service.
    """
    from devenv.migrations import pending_count, seed_status

    spec = svc.migrations
    if spec is not None and spec.command is not None:
        return True  # another tool: only it knows; it is idempotent by contract
    url = direct_url(ctx, svc)
    migrations = migration_set(ctx, svc)
    if migrations is not None and (migrations.versioned or migrations.repeatable) and \
            pending_count(url, migrations) > 0:
        return True
    seeds = seed_set(ctx, svc)
    if seeds is not None and seeds.files:
        states = [s.state for s in seed_status(url, seeds)]
        if "pending" in states:
            return True
        if "changed" in states:
            return True  # migrate_service warns about it: never silently skipped
    return False


def run(ctx: Context, services: list[ServiceSpec]) -> bool:
    """Migrate and seed what needs it; return whether anything had to run."""
    from devenv.up import _parallel

    with_db = [s for s in services if s.database]
    if not with_db:
        return False
    todo = [s for s, busy in zip(with_db, _parallel(
        [lambda s=s: needs_work(ctx, s) for s in with_db]), strict=True)  # type: ignore[misc]
        if busy]
    if not todo:
        return False
    with ctx.console.step("Migrating and seeding"):
        _parallel([lambda s=s: migrate_service(ctx, s) for s in todo])  # type: ignore[misc]
    return True
