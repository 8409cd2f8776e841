"""Golden templates and clones: a service's migrated and seeded state, copied in milliseconds.

For each service devenv keeps a template database holding the state `up` would produce, named
after a hash of everything that shapes it (migration and seed files, extensions, image). Reset
and per-test databases are `CREATE DATABASE ... TEMPLATE` away from it (~15 ms on PG 17)
instead of replaying migrations (seconds). The template is marked IS_TEMPLATE with connections
disallowed: on TimescaleDB the background scheduler would otherwise hold a connection to it and
block every clone (timescale/timescaledb#4048).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from devenv.engine.context import Context, no_database
from devenv.engine.migrate import migrate_service
from devenv.engine.provision import create_extensions, database_access, grant_reads
from devenv.errors import DevenvError
from devenv.migrations import lock
from devenv.model.extensions import ONE_DATABASE
from devenv.model.stack import ServiceSpec

TEMPLATE_MARK = "devenv:template:"
CLONE_MARK = "devenv:clone:"
SPARE_MARK = "devenv:spare:"
FORMAT = "1"  # bump when the way templates are built changes
Conn = psycopg.Connection[tuple[object, ...]]


# Never part of a template's key: a checkout's own state, not its migrations' (a `command`
# migration's cwd is often the project root, where these change on every run or differ per clone).
_NOT_HASHED = frozenset({"__pycache__", "node_modules"})


def _files(folder: Path, skip: frozenset[Path]) -> list[Path]:
    found = []
    for top, dirs, files in os.walk(folder):  # pruned: never walks into .git or node_modules
        here = Path(top)
        dirs[:] = [d for d in dirs if not _ignored(d) and here / d not in skip]
        found += [here / f for f in files if not _ignored(f) and here / f not in skip]
    return sorted(found)


def _ignored(name: str) -> bool:
    return name.startswith(".") or name in _NOT_HASHED


def template_hash(ctx: Context, svc: ServiceSpec) -> str:
    """Everything that shapes the migrated and seeded state of the service's database.

    The key is content, never place: the migration and seed files' bytes and their paths
    relative to the project, the image, the extensions. Two checkouts of one repo (a second
    clone, a `git worktree`) on the same server share a template instead of building it twice,
    and a checkout moved elsewhere keeps its own. What a checkout holds besides its migrations
    is left out: dot-folders and dot-files (.git, .devenv, .venv, .env), caches, devenv's
    generated compose folder and the services' env files, all of which sit under the project
    root that a `command` migration's cwd usually is.
    """
    root = ctx.stack.root
    digest = hashlib.sha256(f"{FORMAT}\0{svc.extensions}\0".encode())
    assert svc.server is not None
    digest.update(ctx.stack.servers[svc.server].image.encode() + b"\0")
    spec = svc.migrations
    folders = []
    if spec is not None and spec.command is not None:
        digest.update(spec.command.encode() + b"\0")
        folders.append(root / spec.cwd)
    elif spec is not None and spec.path is not None:
        folders.append(root / spec.path)
    if svc.seeds is not None:
        folders.append(root / svc.seeds)
    skip = frozenset([root / ctx.stack.compose_dir, root / ctx.stack.state_dir,
                      *(root / s.env_file for s in ctx.stack.services.values())])
    for folder in folders:
        for path in _files(folder, skip):
            # relpath, not relative_to: a monorepo's folder may sit outside the project
            digest.update(os.path.relpath(path, root).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def template_name(svc: ServiceSpec, digest: str) -> str:
    assert svc.database is not None
    return f"{svc.database[:40]}_tpl_{digest}"


def digest_of(template: str) -> str:
    return template.rsplit("_", 1)[-1]


def admin_session(ctx: Context, svc: ServiceSpec) -> Conn:
    """An admin session on the server holding the service's database."""
    if svc.server is None:
        raise no_database(svc)
    return ctx.admin_session(svc.server)


def readers(ctx: Context, svc: ServiceSpec) -> list[str]:
    return sorted(o.role for o in ctx.stack.services.values()
                  if svc.name in o.reads and o.role and o.server == svc.server)


def marked(conn: Conn, mark: str) -> list[tuple[str, str]]:
    """(database, comment) of every database whose comment starts with `mark`."""
    rows = conn.execute(
        "SELECT d.datname, shobj_description(d.oid, 'pg_database') FROM pg_database d "
        "WHERE shobj_description(d.oid, 'pg_database') LIKE %s", (mark + "%",)).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def ensure_template(ctx: Context, svc: ServiceSpec, *, say: bool = True,
                    conn: Conn | None = None) -> str:
    """The current template's name, building it (and dropping stale ones) when needed.

    The common case, a ready template, costs one query on `conn` (or a new admin session).
    """
    digest = template_hash(ctx, svc)
    name = template_name(svc, digest)
    mark = f"{TEMPLATE_MARK}{svc.name}:"
    with admin_session(ctx, svc) if conn is None else borrowed(conn) as admin:
        if _is_ready(admin, name, f"{mark}{digest}:ready"):
            return name
        return _build(ctx, svc, admin, name, mark, digest, say=say)


TEMPLATE_WAIT_S = 600.0  # a build runs every migration of the service
RESET_WAIT_S = 120.0


@contextmanager
def advisory_lock(conn: Conn, key: str, *, wait_s: float, what: str) -> Iterator[None]:
    """An advisory lock on `hashtext(key)` held for the block, waited for at most `wait_s`
    (the one deadline-and-holder mechanism of devenv.migrations.lock)."""
    row = conn.execute("SELECT hashtext(%s)", (key,)).fetchone()
    assert row is not None
    number = int(str(row[0]))
    lock.wait_for(conn, number, wait_s=wait_s, what=what)
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (number,))


@contextmanager
def borrowed(conn: Conn) -> Iterator[Conn]:
    """A caller's session where a function would otherwise open (and close) its own."""
    yield conn


def ready_template(conn: Conn, ctx: Context, svc: ServiceSpec) -> str | None:
    """The current template's name if it is built, without building it."""
    digest = template_hash(ctx, svc)
    name = template_name(svc, digest)
    return name if _is_ready(conn, name, f"{TEMPLATE_MARK}{svc.name}:{digest}:ready") else None


def _is_ready(conn: Conn, name: str, comment: str) -> bool:
    return conn.execute(
        "SELECT 1 FROM pg_database WHERE datname = %s "
        "AND shobj_description(oid, 'pg_database') = %s", (name, comment)).fetchone() is not None


def _build(ctx: Context, svc: ServiceSpec, conn: Conn, name: str, mark: str, digest: str, *,
           say: bool) -> str:
    # Several test workers may ask at once: one builds, the others wait and reuse it.
    with advisory_lock(conn, mark, wait_s=TEMPLATE_WAIT_S,
                       what=f"the template of {svc.name} (another process is building it)"):
        existing = {db: comment for db, comment in marked(conn, mark)}
        if existing.get(name) == f"{mark}{digest}:ready":
            return name
        if name in existing:  # a build that did not finish
            _drop(conn, name)
        for left in _unmarked(conn, svc):  # one killed before it could even mark it
            _drop(conn, left)
        assert svc.role is not None
        if say:
            ctx.console.say(f"  {svc.name}: building template {name}")
        ident = sql.Identifier(name)
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
            ident, sql.Identifier(svc.role)))
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            ident, sql.Literal(f"{mark}{digest}:building")))
        # closed to the service's readers: nothing of theirs can hold a lock the build waits
        # on (issue 27); database grants are not copied to clones anyway, which get their own
        database_access(conn, name, [], [])
        _extensions(ctx, svc, name)
        try:
            migrate_service(ctx, svc, database=name, quiet=True)
        except DevenvError as exc:
            raise template_failed(svc, name, exc) from None
        assert svc.server is not None
        with ctx.admin_session(svc.server, name) as db:
            grant_reads(db, svc.role, readers(ctx, svc), database=name)
        conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true "
                             "ALLOW_CONNECTIONS false").format(ident))
        _disconnect(conn, name)
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            ident, sql.Literal(f"{mark}{digest}:ready")))
        for old in existing:
            if old != name:
                _drop(conn, old)
        drop_marked(conn, f"{SPARE_MARK}{svc.name}:")  # spares: copies of the old template
        return name


def _unmarked(conn: Conn, svc: ServiceSpec) -> list[str]:
    """The service's template databases without a comment: a build killed between its CREATE
    DATABASE and its COMMENT left one, and every later build then failed on the name
    (DuplicateDatabase, issue 27). Only a build makes these names, under the lock held here."""
    prefix = template_name(svc, "")
    rows = conn.execute(
        "SELECT datname FROM pg_catalog.pg_database WHERE starts_with(datname, %s) "
        "AND pg_catalog.shobj_description(oid, 'pg_database') IS NULL", (prefix,)).fetchall()
    return [str(r[0]) for r in rows
            if re.fullmatch(re.escape(prefix) + "[0-9a-f]{12}", str(r[0]))]


def template_failed(svc: ServiceSpec, name: str, exc: DevenvError) -> DevenvError:
    """A migration or seed failed in the template, not in the service's database: the
    runner's "still at version N, run `devenv migrate`" would point at the wrong one."""
    return DevenvError(
        f"building the template of {svc.name} ({name}, a fresh database migrated and seeded "
        f"from the files) failed: {exc.message}",
        hint=f"{svc.name}'s own database {svc.database} was not touched. Fix the file; the "
        f"next `devenv reset {svc.name}` (or test) builds the template again from scratch")


def _extensions(ctx: Context, svc: ServiceSpec, database: str) -> None:
    if not svc.extensions:
        return
    assert svc.server is not None
    with ctx.admin_session(svc.server, database) as conn:
        create_extensions(conn, svc, database)


def own_database_extensions(ctx: Context, svc: ServiceSpec) -> None:
    """After the service's database was put back from its template: the extensions that live
    in one database per server (pg_cron), which a template cannot hold."""
    if svc.server is None or svc.database is None or not ONE_DATABASE & set(svc.extensions):
        return
    with ctx.admin_session(svc.server, svc.database) as conn:
        create_extensions(conn, svc, svc.database)


def _disconnect(conn: Conn, name: str) -> None:
    """End sessions still on a template (TimescaleDB's scheduler joins new databases)."""
    conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))


def drop_marked(conn: Conn, mark: str) -> None:
    for db, _ in marked(conn, mark):
        drop_database(conn, db)


def drop_database(conn: Conn, name: str) -> None:
    """Drop it even with sessions open (they are ended); IF EXISTS: another may be first."""
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _drop(conn: Conn, name: str) -> None:
    conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(sql.Identifier(name)))
    drop_database(conn, name)


# In the clones' tmpfs tablespace FILE_COPY beats PostgreSQL 15+'s default WAL_LOG: WAL_LOG
# writes the whole template into the WAL, which is on the volume, while FILE_COPY copies files
# within memory (its checkpoint is cheap with fsync off). Measured on the 2-core VM, 25 clones
# of a small template, 4 interleaved rounds: p90 25-31 ms against 38-63 ms (one round tied).
# DEVENV_CLONE_STRATEGY=wal_log lets bench/fixture.py measure the other.
CLONE_STRATEGY = os.environ.get("DEVENV_CLONE_STRATEGY", "file_copy")


def copy_from_template(conn: Conn, ctx: Context, svc: ServiceSpec, template: str,
                       name: str, *, comment: str | None, allow_connections: bool = True,
                       tablespace: str | None = None) -> None:
    """CREATE DATABASE name from the template, owned and granted like the service's own.

    `tablespace`: where the copy goes (the clones' in-memory one); when it is full, the error
    names the manifest's cap.
    """
    assert svc.role is not None
    ident = sql.Identifier(name)
    create = sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}{}{}{}").format(
        ident, sql.Identifier(template), sql.Identifier(svc.role),
        sql.SQL("" if allow_connections else " ALLOW_CONNECTIONS false"),
        sql.SQL("") if tablespace is None else sql.SQL(" TABLESPACE {}").format(
            sql.Identifier(tablespace)),
        sql.SQL(f" STRATEGY {CLONE_STRATEGY}" if tablespace and CLONE_STRATEGY
                and conn.info.server_version >= 150000 else ""))  # STRATEGY is new in 15
    for attempt in range(20):
        try:
            conn.execute(create)
            break
        except psycopg.errors.DiskFull as exc:
            if tablespace is None:
                raise
            raise memory_full(ctx, svc, exc) from None
        except psycopg.errors.ObjectInUse:
            # A background worker that connected before ALLOW_CONNECTIONS false took effect.
            if attempt == 19:
                raise
            _disconnect(conn, template)
            time.sleep(0.05)
    if comment is not None:
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(ident, sql.Literal(comment)))
    # Database-level ACLs are not copied from a template; table grants and defaults are.
    database_access(conn, name, readers(ctx, svc), [])


def memory_full(ctx: Context, svc: ServiceSpec, exc: BaseException) -> DevenvError:
    assert svc.server is not None
    server = ctx.stack.servers[svc.server]
    return DevenvError(
        f"the clones' memory of server '{server.name}' is full: servers.{server.name}."
        f"clone_memory caps it at {server.clone_memory} ({str(exc).strip().splitlines()[0]})",
        hint=f"raise servers.{server.name}.clone_memory in {ctx.stack.manifest_name} (then "
        "`devenv up`), drop clones you no longer need (`devenv db prune`), or lower the "
        "plugin's prefetch")
