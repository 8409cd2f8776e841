"""The `devenv` command. Thin: parse arguments, load the stack, call a verb, map errors to exits.

Every verb is a plain function `(stack, console, **options)` in a module of this package, one
module per group of commands (alembic's command.py). Exit codes: 0 ok, 1 a problem the user can
fix (message + hint), 2 usage, 130 Ctrl-C, 3 a bug in devenv (with traceback).

The verb modules are imported inside the commands (PLC0415 allowed in this file only): they
load psycopg, redis-py or python-on-whales, and `devenv --help` must not (measured: --help
~0.1 s, importing every verb module ~0.6 s).
"""

# No `from __future__ import annotations` here: typer would eval every annotation string of
# every command on each run (get_command: 26-30 ms with it, 6-9 ms without).

import contextlib
import os
import stat
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from devenv import DISTRIBUTION, __version__
from devenv.console import Console
from devenv.errors import STACK_DOWN_HINT, DevenvError

if TYPE_CHECKING:
    from devenv.model.stack import Stack

app = typer.Typer(
    help="Local PostgreSQL, TimescaleDB, Redis and PgBouncer for services that each own a "
    "database, from one devenv.yaml.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
db_app = typer.Typer(help="Throwaway databases cloned from a service's golden template; a "
                     "service's database dumped, and its schema compared with its files.",
                     no_args_is_help=True)
app.add_typer(db_app, name="db")
export_app = typer.Typer(help="The stack for somewhere other than this machine.",
                         no_args_is_help=True)
app.add_typer(export_app, name="export")
migration_app = typer.Typer(help="Migration files of a service's folder.",
                            no_args_is_help=True)
app.add_typer(migration_app, name="migration")
replica_app = typer.Typer(help="Read replicas: stop and restart their WAL replay (lag on demand).",
                          no_args_is_help=True)
app.add_typer(replica_app, name="replica")
ReplicaServer = Annotated[str, typer.Argument(help="A server with `replicas:`.")]
redis_app = typer.Typer(help="Redis and Valkey servers: end a script that keeps one busy.",
                        no_args_is_help=True)
app.add_typer(redis_app, name="redis")


MANIFEST = "devenv.yaml"


class Options:
    """Global options. `given` is the manifest of -f or DEVENV_FILE; None: discover it."""

    def __init__(self, given: Path | None, quiet: bool) -> None:
        self.given = given
        self.quiet = quiet

    @property
    def file(self) -> Path:
        """The manifest: -f/DEVENV_FILE, else the nearest devenv.yaml in this folder or a
        parent (as git and `docker compose` find theirs), so `cd migrations && devenv status`
        works. Every path in it is relative to its own folder, never to where devenv runs."""
        if self.given is not None:
            return self.given
        return discover(Path.cwd())

    @property
    def init_file(self) -> Path:
        """`devenv init` writes here: -f, else this folder (never a parent's manifest)."""
        return self.given if self.given is not None else Path(MANIFEST)


def discover(start: Path) -> Path:
    """The nearest devenv.yaml from `start` up to the filesystem root, as a path relative to
    `start` when it is there (messages then say `devenv.yaml`, not an absolute path).

    The search stops at a folder another user (not root) owns or every user may write to (as
    git's safe.directory does), and a manifest another user owns is not read: a devenv.yaml planted
    in a shared parent (a world-writable temp folder) runs its `command:` migrations as whoever
    runs devenv below it (issue 27)."""
    checked: Path | None = None
    for folder in (start, *start.parents):
        why = _untrusted(folder)
        candidate = folder / MANIFEST
        if why is None and candidate.is_file():
            why = _untrusted(candidate, folder=False)
            if why is None:
                return Path(MANIFEST) if folder == start else candidate
        if why is not None:
            where = (f"in {start} or the folders above it up to {checked}" if checked else
                     f"read in {start}")
            held = f" (its {MANIFEST} was not read)" if candidate.is_file() else ""
            raise DevenvError(
                f"no {MANIFEST} {where}: the search stops at {folder}, which {why}{held}",
                hint=f"a {MANIFEST} there could be anyone's; pass -f/--file to use one you "
                "trust, or run `devenv init` in your own folder")
        checked = folder
    raise DevenvError(f"no {MANIFEST} in {start} or any folder above it",
                      hint="run `devenv init` to create one, or pass -f/--file")


def _untrusted(path: Path, *, folder: bool = True) -> str | None:
    """Why a folder on the way up (or a manifest found there) may be another user's, or None."""
    try:
        info = path.stat()
    except OSError:
        return None
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    # root's own folders (/, /home) are no risk: root could run anything as you anyway
    if uid is not None and info.st_uid not in (uid, 0):
        what = "belongs" if folder else f"holds a {MANIFEST} that belongs"
        return f"{what} to another user (uid {info.st_uid}, you are {uid})"
    if folder and info.st_mode & stat.S_IWOTH:
        return "every user may write to"
    return None


def _version(value: bool) -> None:
    """The distribution's name and version (not devenv.sh's `devenv`, whose command has the
    same name), the Python it runs on, and the Docker Engine it would drive."""
    if value:
        from devenv.engine.docker import engine_version

        engine = engine_version()
        python = ".".join(str(p) for p in sys.version_info[:3])
        print(f"{DISTRIBUTION} {__version__} (Python {python}, "
              + (f"Docker Engine {engine})" if engine else "Docker: no engine answers)"))
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    file: Annotated[Optional[Path], typer.Option(  # noqa: UP045 - typer needs Optional
        "-f", "--file", envvar="DEVENV_FILE", show_default=False,
        help="The manifest (default: devenv.yaml here or in the nearest parent folder).")
    ] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only results and errors.")] = False,
    version: Annotated[Optional[bool], typer.Option(  # noqa: UP045 - typer needs Optional
        "--version", callback=_version, is_eager=True, help="Print the version.")] = None,
) -> None:
    ctx.obj = Options(file, quiet)


def _opts(ctx: typer.Context) -> Options:
    obj = ctx.find_root().obj
    assert isinstance(obj, Options)
    return obj


def _console(ctx: typer.Context) -> Console:
    return Console(quiet=_opts(ctx).quiet)


def _stack(ctx: typer.Context) -> "Stack":
    from devenv.store import stackcache

    return stackcache.load(_opts(ctx).file)


@app.command()
def init(
    ctx: typer.Context,
    project: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="Project name (default: folder name).")] = None,
    service: Annotated[str, typer.Option(help="Name of the first service.")] = "app",
    nested: Annotated[bool, typer.Option(
        "--nested", help="Create a project inside another project's folder.")] = False,
) -> None:
    """Scaffold devenv.yaml, migrations/ and seeds/ for one service. Never overwrites, and
    refuses inside another project's folder unless --nested."""
    from devenv.cli import project as verbs

    verbs.init(_opts(ctx).init_file, _console(ctx), project=project, service=service,
               nested=nested)


@app.command()
def generate(
    ctx: typer.Context,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if committed files are stale; "
                                        "write nothing.")] = False,
) -> None:
    """Write the compose file and configs (and the private .devenv/ files they need)."""
    from devenv.cli import project as verbs

    verbs.generate(_stack(ctx), _console(ctx), check=check)


@app.command()
def config(ctx: typer.Context) -> None:
    """Print the manifest with every default resolved."""
    from devenv.cli import project as verbs

    verbs.config(_stack(ctx), _console(ctx))


@app.command()
def schema(ctx: typer.Context) -> None:
    """Print the manifest's JSON Schema (for editor completion)."""
    from devenv.cli import project as verbs

    verbs.schema(_console(ctx))


@app.command()
def up(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(  # noqa: UP045
        help="Only these services and the servers they need (default: all).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for servers to answer.")] = 120,
    no_migrate: Annotated[bool, typer.Option("--no-migrate", help="Skip migrations and seeds.")
                          ] = False,
    resync: Annotated[bool, typer.Option(
        "--resync-passwords", help="Set the passwords of .devenv/ on existing servers (after "
        ".devenv/ was lost); data is kept.")] = False,
    show_plan: Annotated[bool, typer.Option(
        "--plan", help="Print what `up` would change and change nothing (`devenv plan`).")
                         ] = False,
    watch: Annotated[bool, typer.Option(
        "--watch", help="Then keep running: migrate and seed again when the services' "
        "migration or seed files change, until Ctrl-C.")] = False,
) -> None:
    """Start, provision, migrate and seed; write each service's .env file."""
    from devenv.cli import lifecycle

    if show_plan:
        lifecycle.plan(_stack(ctx), _console(ctx), names=services or [], as_json=False)
        return
    lifecycle.up(_stack(ctx), _console(ctx), names=services or [], timeout=timeout,
                 migrate=not no_migrate, resync=resync)
    if watch:
        from devenv.cli import watch as watcher

        raise typer.Exit(watcher.watch(_stack(ctx), _console(ctx), names=services or []))


@app.command()
def down(
    ctx: typer.Context,
    volumes: Annotated[bool, typer.Option("--volumes", "-v", help="Also delete the data volumes.")
                       ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before deleting data.")
                   ] = False,
) -> None:
    """Stop the stack; data stays in its volumes unless --volumes (asks first, or --yes)."""
    from devenv.cli import lifecycle

    stack = _stack(ctx)
    if volumes and not yes:
        _confirm_deletion(stack.project)
    lifecycle.down(stack, _console(ctx), volumes=volumes)


def _confirm_deletion(project: str) -> None:
    """Ask on a terminal only. Without one (CI, a pipe, `echo n |`) there is nobody to ask:
    refuse at once rather than print a prompt nobody answers, and a "no" says what happened."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise DevenvError(f"down --volumes deletes all data of project '{project}' and there "
                          "is no terminal to ask: nothing was stopped or deleted",
                          hint="pass --yes to delete without asking")
    if not typer.confirm(f"Delete all data of project '{project}' (its volumes)?",
                         default=False):
        raise DevenvError("not confirmed: nothing was stopped or deleted",
                          hint="`devenv down` stops the stack and keeps the data")


@app.command()
def status(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Servers (state, health, port) and services (database, role, env file, migrations)."""
    from devenv.cli import lifecycle

    lifecycle.status(_stack(ctx), _console(ctx), as_json=json_)


RoleService = Annotated[Optional[str], typer.Argument(  # noqa: UP045
    help="The service (required unless --role admin|migration: then its database, "
    "default: the first service with one).", show_default=False)]
Role = Annotated[str, typer.Option(
    "--role", help="service (its own role), or the manifest's roles.admin or roles.migration.")]


def _role_service(ctx: typer.Context, service: Optional[str], role: str) -> Optional[str]:  # noqa: UP045
    """Check --role and SERVICE together before the manifest is read (usage errors, exit 2)."""
    if role not in ("service", "admin", "migration"):
        raise typer.BadParameter(f"{role!r}: use service, admin or migration", ctx=ctx,
                                 param_hint="--role")
    if service is None and role == "service":
        ctx.fail("name the service, or pass --role admin|migration")
    return service


@app.command()
def env(
    ctx: typer.Context,
    service: RoleService = None,
    format_: Annotated[str, typer.Option("--format", help="dotenv, shell or json.")] = "dotenv",
    show_secrets: Annotated[bool, typer.Option("--show-secrets",
                                               help="Print passwords instead of ****.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    role: Role = "service",
) -> None:
    """Print a service's environment variables (passwords masked unless --show-secrets)."""
    from devenv.cli import project as verbs

    service = _role_service(ctx, service, role)
    verbs.env(_stack(ctx), _console(ctx), service=service, fmt="json" if json_ else format_,
              show_secrets=show_secrets, role=role)


@app.command()
def url(
    ctx: typer.Context,
    service: RoleService = None,
    readonly: Annotated[bool, typer.Option(
        "--readonly", help="The read replicas' URL (through PgBouncer when pooled).")] = False,
    direct: Annotated[bool, typer.Option(
        "--direct", help="Straight to the server, not through PgBouncer.")] = False,
    redis: Annotated[bool, typer.Option("--redis", help="The service's Redis URL.")] = False,
    show_secrets: Annotated[bool, typer.Option("--show-secrets",
                                               help="Print the password instead of ****.")
                            ] = False,
    role: Role = "service",
) -> None:
    """Print one connection string of a service (for a GUI client or another tool): its
    DATABASE_URL, or with --direct/--readonly/--redis the matching variable of its .env file;
    masked unless --show-secrets."""
    from devenv.cli import project as verbs

    service = _role_service(ctx, service, role)
    verbs.url(_stack(ctx), _console(ctx), service=service, role=role, readonly=readonly,
              direct=direct, redis=redis, show_secrets=show_secrets)


Services = Annotated[Optional[list[str]], typer.Argument(  # noqa: UP045
    help="Services (default: all).")]
ResetServices = Annotated[Optional[list[str]], typer.Argument(  # noqa: UP045
    help="Services to reset (required unless --all).", show_default=False)]
Service = Annotated[str, typer.Argument(help="The service.")]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@app.command()
def migrate(
    ctx: typer.Context,
    services: Services = None,
    to: Annotated[Optional[str], typer.Option("--to", help="Stop at this version.")] = None,  # noqa: UP045
    in_cluster: Annotated[bool, typer.Option(
        "--in-cluster", help="In a Kubernetes Job of `devenv export kubernetes`: connect with "
        "the service's DATABASE_DIRECT_URL, wait for it, grant as its owner.")] = False,
) -> None:
    """Apply pending migrations (and new seeds) of running services."""
    from devenv.cli import migrate as verbs

    if in_cluster:
        if to is not None or len(services or []) != 1:
            ctx.fail("--in-cluster migrates exactly one service, to its latest version")
        verbs.migrate_in_cluster(_stack(ctx), _console(ctx), name=(services or [""])[0])
        return
    verbs.migrate(_stack(ctx), _console(ctx), names=services or [], target=to)


@migration_app.command("new")
def migration_new(
    ctx: typer.Context,
    service: Service,
    name: Annotated[str, typer.Argument(help="What it does, e.g. add_users.")],
    format_: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--format", help="flyway, golang-migrate or dbmate: only for a folder with no "
        "migration yet (default: flyway).")] = None,
) -> None:
    """Create the next migration file(s) of a service, in its folder's own format and
    numbering (sequence or timestamp); a golang-migrate folder gets an up and a down file."""
    from devenv.cli import migrate as verbs

    verbs.new(_stack(ctx), _console(ctx), name=service, title=name, fmt=format_)


@app.command()
def rollback(
    ctx: typer.Context,
    service: Service,
    steps: Annotated[int, typer.Option(min=1, help="How many migrations to undo.")] = 1,
) -> None:
    """Undo the latest migrations (golang-migrate and dbmate formats, which have downs)."""
    from devenv.cli import migrate as verbs

    verbs.rollback(_stack(ctx), _console(ctx), name=service,
                                steps=steps)


@app.command()
def info(ctx: typer.Context, service: Service, json_: Json = False) -> None:
    """Each migration and seed of a service: pending, applied, changed, missing or failed."""
    from devenv.cli import migrate as verbs

    verbs.info(_stack(ctx), _console(ctx), name=service,
                            as_json=json_)


@app.command()
def validate(ctx: typer.Context, services: Services = None) -> None:
    """Exit 1 when applied migration files were edited, deleted, or a new one is out of order."""
    from devenv.cli import migrate as verbs

    verbs.validate(_stack(ctx), _console(ctx), names=services or [])


@app.command()
def repair(ctx: typer.Context, service: Service) -> None:
    """After fixing a database by hand: make the migration history match the files."""
    from devenv.cli import migrate as verbs

    verbs.repair(_stack(ctx), _console(ctx), name=service)


@app.command()
def seed(
    ctx: typer.Context,
    service: Service,
    force: Annotated[bool, typer.Option("--force", help="Re-apply edited seed files.")] = False,
) -> None:
    """Apply a service's seed files that were not applied yet (--force: also edited ones)."""
    from devenv.cli import migrate as verbs

    verbs.seed(_stack(ctx), _console(ctx), name=service,
                            force=force)


@app.command()
def reset(
    ctx: typer.Context,
    services: ResetServices = None,
    all_: Annotated[bool, typer.Option("--all", help="Reset every service.")] = False,
    hard: Annotated[bool, typer.Option("--hard", help="Replay migrations and seeds instead of "
                                       "cloning the golden template.")] = False,
) -> None:
    """Put services' data back to the freshly migrated and seeded state (others untouched)."""
    if bool(services) == all_:  # a usage error, before the manifest is even read
        ctx.fail("name the services to reset, or pass --all" if not all_ else
                 "name services or pass --all, not both")
    if not hard:  # the previous reset's standby has everything loaded
        from devenv.data import standby  # the socket protocol only: nothing heavy

        served = standby.forward(_opts(ctx).file, services or [], all_=all_,
                                 quiet=_opts(ctx).quiet)
        if served is not None:
            sys.stdout.write(served.out)
            sys.stderr.write(served.err)
            raise typer.Exit(served.code)
    from devenv.cli import data

    data.reset(_stack(ctx), _console(ctx), names=services or [], all_=all_, hard=hard)


@replica_app.command("pause")
def replica_pause(ctx: typer.Context, server: ReplicaServer) -> None:
    """Pause WAL replay on SERVER's replicas: their reads stay as of now (pg_wal_replay_pause)."""
    from devenv.cli import lifecycle

    lifecycle.replica(_stack(ctx), _console(ctx), server=server, pause=True)


@replica_app.command("resume")
def replica_resume(ctx: typer.Context, server: ReplicaServer) -> None:
    """Resume WAL replay on SERVER's replicas (pg_wal_replay_resume)."""
    from devenv.cli import lifecycle

    lifecycle.replica(_stack(ctx), _console(ctx), server=server, pause=False)


@redis_app.command("kill-script")
def redis_kill_script(
    ctx: typer.Context,
    servers: Annotated[Optional[list[str]], typer.Argument(  # noqa: UP045 - typer needs Optional
        help="Redis or Valkey servers (default: all of them).", show_default=False)] = None,
) -> None:
    """Kill the script that keeps a server busy (every client gets BUSY while it runs): SCRIPT
    KILL or FUNCTION KILL as the admin, which no service may send."""
    from devenv.cli import lifecycle

    lifecycle.kill_script(_stack(ctx), _console(ctx), servers=servers or [])


@db_app.command("clone")
def db_clone(
    ctx: typer.Context,
    service: Service,
    json_: Json = False,
    show_secrets: Annotated[bool, typer.Option("--show-secrets",
                                               help="Print the password in the URL.")] = False,
) -> None:
    """Create a fresh database from SERVICE's golden template and print its URL."""
    from devenv.cli import data as verbs

    verbs.clone(_stack(ctx), _console(ctx), name=service,
                      as_json=json_, show_secrets=show_secrets)


@db_app.command("drop")
def db_drop(ctx: typer.Context,
            name: Annotated[str, typer.Argument(help="The clone's database name.")]) -> None:
    """Drop a clone made by `devenv db clone` (never a real database)."""
    from devenv.cli import data as verbs

    verbs.drop(_stack(ctx), _console(ctx), database=name)


@db_app.command("prune")
def db_prune(ctx: typer.Context) -> None:
    """Drop every clone of this project."""
    from devenv.cli import data as verbs

    verbs.prune(_stack(ctx), _console(ctx))


@db_app.command("list")
def db_list(ctx: typer.Context, json_: Json = False) -> None:
    """List the clones of this project."""
    from devenv.cli import data as verbs

    verbs.list_(_stack(ctx), _console(ctx), as_json=json_)


@app.command()
def logs(
    ctx: typer.Context,
    server: Annotated[Optional[str], typer.Argument(  # noqa: UP045
        help="One server or replica, e.g. pg-replica-1 (default: all, replicas included).",
    )] = None,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep streaming.")] = False,
    tail: Annotated[int, typer.Option(help="Lines of history per server.")] = 100,
) -> None:
    """Servers' and replicas' logs (passwords masked)."""
    from devenv.cli import shells

    shells.logs(_stack(ctx), _console(ctx), server=server, follow=follow,
                tail=tail)


Passthrough = Annotated[Optional[list[str]], typer.Argument(  # noqa: UP045
    help="Arguments passed to the client, after -- (default: none).", show_default=False)]


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def psql(ctx: typer.Context, service: RoleService = None, args: Passthrough = None,
         role: Role = "service") -> None:
    """A psql shell logged in as the service, or as roles.admin / roles.migration (the
    container's psql if the host has none)."""
    from devenv.cli import shells

    if service is not None and service.startswith("-"):  # `psql --role admin -- -c ...`:
        args, service = [service, *(args or [])], None  # a service name never starts with -
    service = _role_service(ctx, service, role)
    raise typer.Exit(shells.psql(_stack(ctx), _console(ctx), name=service, role=role,
                                 args=args or []))


@app.command("redis-cli",
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def redis_cli(ctx: typer.Context, service: Service, args: Passthrough = None) -> None:
    """redis-cli logged in as the service's ACL user."""
    from devenv.cli import shells

    raise typer.Exit(shells.redis_cli(_stack(ctx), _console(ctx), name=service, args=args or []))


@app.command()
def ps(ctx: typer.Context) -> None:
    """The stack's containers: state, health, port."""
    from devenv.cli import lifecycle

    lifecycle.ps(_stack(ctx), _console(ctx))


@app.command()
def plan(ctx: typer.Context, services: Services = None, json_: Json = False) -> None:
    """Print what `devenv up` would change (files, images, containers, roles, databases,
    extensions, grants, migrations, seeds, env files); change nothing."""
    from devenv.cli import lifecycle

    lifecycle.plan(_stack(ctx), _console(ctx), names=services or [], as_json=json_)


@app.command()
def ui(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free one).")] = 0,
    no_open: Annotated[bool, typer.Option("--no-open", help="Do not open a browser.")] = False,
) -> None:
    """Serve the stack at a glance on 127.0.0.1 (servers, services, logs, actions, tables)
    until Ctrl-C; the printed URL carries the token every request needs."""
    from devenv.cli.ui import server

    server.serve(_stack(ctx), _console(ctx), port=port, open_browser=not no_open)


@app.command()
def doctor(ctx: typer.Context, json_: Json = False) -> None:
    """Check Docker, Compose, images, ports, disk and .devenv/; say how to fix each problem."""
    from devenv.cli import doctor as run

    run.doctor(_stack(ctx), _console(ctx), as_json=json_)


@export_app.command("kubernetes")
def export_kubernetes(
    ctx: typer.Context,
    output: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "-o", "--output", help="The folder (default: k8s/ beside the manifest).",
        show_default=False)] = None,
    namespace: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--namespace", help="The namespace (default: the project's name).",
        show_default=False)] = None,
    secrets: Annotated[str, typer.Option(
        "--secrets", help="generate: write them, git-ignored; external: name them only.")
    ] = "generate",
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if committed files are stale; "
                                        "write nothing.")] = False,
) -> None:
    """Render the stack as Kubernetes manifests on CloudNativePG (kubectl apply -k)."""
    from devenv.cli import export

    export.kubernetes_(_stack(ctx), _console(ctx), output=output, namespace=namespace,
                       secrets=secrets, check=check)


# -- snapshots, dump and diff (issue 28 items 2 and 3) ------------------------------------------

snapshot_app = typer.Typer(help="A service's data as it is now (database and Redis keys), kept "
                           "by name and restored as fast as a reset.", no_args_is_help=True)
app.add_typer(snapshot_app, name="snapshot")
SnapshotName = Annotated[str, typer.Argument(help="The snapshot's name (a-z, 0-9, - and _).")]


@snapshot_app.command("save")
def snapshot_save(
    ctx: typer.Context, service: Service, name: SnapshotName,
    force: Annotated[bool, typer.Option("--force", help="Replace a snapshot of that name.")
                     ] = False,
) -> None:
    """Copy SERVICE's database and Redis keys as they are now into snapshot NAME."""
    from devenv.cli import snapshot as verbs

    verbs.save(_stack(ctx), _console(ctx), service=service, name=name, force=force)


@snapshot_app.command("restore")
def snapshot_restore(
    ctx: typer.Context, service: Service, name: SnapshotName,
    force: Annotated[bool, typer.Option(
        "--force", help="Restore even though the migration files changed since it was taken."
    )] = False,
) -> None:
    """Put SERVICE's database and Redis keys back to snapshot NAME (others untouched)."""
    from devenv.cli import snapshot as verbs

    verbs.restore(_stack(ctx), _console(ctx), service=service, name=name, force=force)


@snapshot_app.command("list")
def snapshot_list(ctx: typer.Context, json_: Json = False) -> None:
    """The snapshots of this project: service, name, when taken, size, Redis keys."""
    from devenv.cli import snapshot as verbs

    verbs.list_(_stack(ctx), _console(ctx), as_json=json_)


@snapshot_app.command("rm")
def snapshot_rm(ctx: typer.Context, service: Service, name: SnapshotName) -> None:
    """Delete snapshot NAME of SERVICE (its database copy and Redis keys)."""
    from devenv.cli import snapshot as verbs

    verbs.remove(_stack(ctx), _console(ctx), service=service, name=name)


@db_app.command("dump")
def db_dump(
    ctx: typer.Context,
    service: Service,
    schema_only: Annotated[bool, typer.Option("--schema-only", help="The schema, no data.")
                           ] = False,
    data_only: Annotated[bool, typer.Option("--data-only", help="The data, no schema.")
                         ] = False,
    output: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "-o", "--output", help="Write to this file (default: stdout).", show_default=False)
    ] = None,
) -> None:
    """pg_dump of SERVICE's database with the server's own pg_dump (the container's when the
    host has none or an older one), as the service's role."""
    if schema_only and data_only:
        ctx.fail("--schema-only and --data-only exclude each other")
    from devenv.cli import dump as verbs

    verbs.dump(_stack(ctx), _console(ctx), service=service, output=output,
               mode="schema" if schema_only else "data" if data_only else "all")


@db_app.command("diff")
def db_diff(ctx: typer.Context, service: Service) -> None:
    """How SERVICE's live schema differs from a fresh migrate of its files (a unified diff);
    exit 1 when it does, 0 when not."""
    from devenv.cli import dump as verbs

    raise typer.Exit(verbs.diff(_stack(ctx), _console(ctx), service=service))


# -- end of snapshots, dump and diff -------------------------------------------------------------


# --- serve-tests: IntegreSQL's v1 API for suites in any language (issue 31) ---------------


@app.command("serve-tests")
def serve_tests(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free one; "
                                      "the URL is printed on stdout).")] = 5000,
    host: Annotated[str, typer.Option("--host", help="Address to bind; beyond loopback only "
                                      "with a token.")] = "127.0.0.1",
    token: Annotated[Optional[str], typer.Option(  # noqa: UP045 - typer needs Optional
        "--token", envvar="DEVENV_TESTS_TOKEN", show_default=False,
        help="Secret a client must send (Authorization: Bearer, or http://host:port/TOKEN).")
    ] = None,
    service: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--service", show_default=False,
        help="Whose role owns the templates clients initialise (default: the only service "
        "with a database).")] = None,
    prefetch: Annotated[int, typer.Option("--prefetch", help="Test databases made ahead "
                                          "per template.")] = 4,
    reclaim_after: Annotated[int, typer.Option(
        "--reclaim-after", help="Test databases in use per template past which the oldest "
        "idle one is reclaimed (a crashed suite's).")] = 64,
) -> None:
    """Serve IntegreSQL's v1 API over the running stack: per-test databases for Go, Node,
    Java, .NET... suites, and each service's golden template as hash devenv-<service>."""
    from devenv.cli import servetests

    servetests.serve(_stack(ctx), _console(ctx), host=host, port=port, token=token,
                     service=service, prefetch=prefetch, reclaim_after=reclaim_after)


# --- end serve-tests -----------------------------------------------------------------------


def _global_quiet(args: list[str]) -> list[str]:
    """`-q/--quiet` is global, but people type it after the command (`devenv up -q`):
    move it in front. Arguments after `--` (passed to psql...) are left alone."""
    end = args.index("--") if "--" in args else len(args)
    quiet = [a for a in args[:end] if a in ("-q", "--quiet")]
    if not quiet:
        return args
    return ["-q"] + [a for a in args[:end] if a not in ("-q", "--quiet")] + args[end:]


def _exit(code: int) -> None:
    """Leave without the interpreter's teardown (measured 60-90 ms: collecting typer, psycopg
    and redis-py module by module). Every command has finished its work and closed what it
    opened by now; devenv registers no atexit handler, so flushing is all that is left."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`devenv ... | head`)
            stream.flush()
    os._exit(code)


def main() -> None:
    """Console-script entry: map every outcome to a documented exit code."""
    try:
        _main()
    except SystemExit as done:
        code = done.code
        if code is not None and not isinstance(code, int):
            print(code, file=sys.stderr)  # what sys.exit("message") prints
            code = 1
        _exit(code or 0)


def _main() -> None:
    try:
        code = app(args=_global_quiet(sys.argv[1:]), prog_name="devenv", standalone_mode=False)
    except DevenvError as exc:
        sys.stderr.write(exc.report())
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        # What a half-done `up` left (containers created, not started; a step not run) is
        # what the next `up` finishes: it is idempotent. `down` removes it instead.
        print("interrupted: run the command again to finish (`devenv up` takes over what was "
              "started), or `devenv down` to stop what is there", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        psycopg = sys.modules.get("psycopg")
        if psycopg is not None and isinstance(exc, psycopg.OperationalError):
            print(f"error: database connection failed: {exc}".rstrip(), file=sys.stderr)
            print(f"hint: {STACK_DOWN_HINT}", file=sys.stderr)
            sys.exit(1)
        code = getattr(exc, "exit_code", None)
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(code, int):
            show()  # a usage error: bad option or argument (exit 2)
            sys.exit(code)
        traceback.print_exc()
        print("devenv hit an unexpected error (a bug): please report it with the output above.",
              file=sys.stderr)
        sys.exit(3)
    sys.exit(code if isinstance(code, int) else 0)
