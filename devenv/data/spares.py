"""Spare databases: the next reset's copy of the template, made before anyone asks for it.

A clone is a few hundred new files (one per catalog relation and fork). Where creating a file
is slow (virtualised ext4, Docker Desktop's VM disk: 0.3-0.9 ms each, measured) that is
100-400 ms, most of a reset. So a reset swaps in a spare made earlier (DROP + RENAME: no file
is created), and a detached process makes the next spare after the CLI has returned, as
`git gc --auto` does its work; it then stands by to run the next reset (devenv.data.standby). No
spare (the first reset, a rebuilt template, a reset right after another) only means cloning
as before. `DEVENV_SPARES=0` turns the refill off.

A spare is `<database>_spare_<template hash>` with the comment `devenv:spare:<service>:<hash>`,
created with connections disallowed (TimescaleDB's scheduler would otherwise join it and block
the rename), owned and granted like the service's database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

import devenv
from devenv import switches
from devenv.console import Console
from devenv.data import golden
from devenv.data.golden import SPARE_MARK
from devenv.engine.context import Context, attach
from devenv.engine.provision import database_access
from devenv.errors import last_line
from devenv.masking import mask
from devenv.model.stack import ServiceSpec, Stack
from devenv.store import stackcache
from devenv.store.files import ensure_private_dir

LOG_FILE = "spares.log"
LOG_LIMIT = 256 * 1024


def spare_name(svc: ServiceSpec, template: str) -> str:
    assert svc.database is not None
    return f"{svc.database[:40]}_spare_{golden.digest_of(template)}"


def _mark(svc: ServiceSpec, template: str) -> str:
    return f"{SPARE_MARK}{svc.name}:{golden.digest_of(template)}"


def _exists(conn: golden.Conn, svc: ServiceSpec, template: str) -> bool:
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        (spare_name(svc, template),)).fetchone()
    return row is not None and row[0] == _mark(svc, template)


def _lock(svc: ServiceSpec) -> str:
    return f"{SPARE_MARK}{svc.name}"


def ready(conn: golden.Conn, svc: ServiceSpec, template: str, *, wait_ms: int = 5000) -> bool:
    """Whether a spare is ready, first waiting for a refill that is making one right now.

    The refill holds an advisory lock while it clones: finishing its clone is quicker than
    starting another one beside it (two resets a second apart).
    """
    if _exists(conn, svc, template):
        return True
    key = _lock(svc)
    free = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()
    if not (free and free[0]):
        conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{wait_ms}ms")))
        try:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
        except psycopg.errors.LockNotAvailable:
            return False
        finally:
            conn.execute("RESET lock_timeout")
    conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
    return _exists(conn, svc, template)


def take(conn: golden.Conn, ctx: Context, svc: ServiceSpec, template: str) -> bool:
    """Rename the spare `ready()` found to the service's database (already dropped); False
    if it is gone since."""
    assert svc.database is not None
    name = spare_name(svc, template)
    target = sql.Identifier(svc.database)
    try:
        with conn.transaction():
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(name), target))
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(target))
            conn.execute(sql.SQL("COMMENT ON DATABASE {} IS NULL").format(target))
    except (psycopg.errors.InvalidCatalogName, psycopg.errors.DuplicateDatabase):
        return False  # a concurrent reset took it first
    # Readers may have changed since the spare was made (database ACLs are per database).
    database_access(conn, svc.database, golden.readers(ctx, svc), [])
    return True


MADE, THERE, FOREIGN, RACED = ("spare ready", "spare already there",
                               "spare left out: a database of that name is not devenv's",
                               "spare made by another refill")


def make(conn: golden.Conn, ctx: Context, svc: ServiceSpec, template: str) -> str:
    """Create the service's spare if it is missing; drop spares of older templates. What
    happened, for the log: MADE, THERE, FOREIGN or RACED."""
    with golden.advisory_lock(conn, _lock(svc), wait_s=golden.RESET_WAIT_S,
                              what=f"the spare of {svc.name}"):
        return _make(conn, ctx, svc, template)


def _make(conn: golden.Conn, ctx: Context, svc: ServiceSpec, template: str) -> str:
    name, mark = spare_name(svc, template), _mark(svc, template)
    rows = conn.execute(
        "SELECT d.datname, shobj_description(d.oid, 'pg_database'), pg_get_userbyid(d.datdba) "
        "FROM pg_database d WHERE d.datname = %s "
        "OR shobj_description(d.oid, 'pg_database') LIKE %s",
        (name, f"{SPARE_MARK}{svc.name}:%")).fetchall()
    ready, foreign = False, False
    for db, comment, owner in rows:
        if db == name and comment == mark:
            ready = True
        elif (isinstance(comment, str) and comment.startswith(f"{SPARE_MARK}{svc.name}:")) or (
                db == name and comment is None and owner == svc.role):
            # Ours: a spare of an older template, or this name left without its comment by
            # a process killed between CREATE and COMMENT (a service role cannot create
            # databases, so only devenv made it).
            golden.drop_database(conn, str(db))
        else:
            foreign = True  # a database of someone else's with this name: never touch it
    if foreign:
        return FOREIGN
    if ready:
        return THERE
    try:
        golden.copy_from_template(conn, ctx, svc, template, name, comment=mark,
                                  allow_connections=False)
    except psycopg.errors.DuplicateDatabase:
        return RACED
    return MADE


def enabled() -> bool:
    return switches.on("DEVENV_SPARES")


def refill_in_background(stack: Stack, services: list[ServiceSpec]) -> None:
    """Start a detached `python -m devenv.data.standbyd` that makes the services' next spares,
    then stands by for the next reset.

    Its output goes to .devenv/spares.log, never to the caller's stdout/stderr: a caller that
    captures the CLI's output (a test, a script) must not wait for it.
    """
    names = [s.name for s in services if s.database is not None]
    if not names or not enabled():
        return
    state = stack.root / stack.state_dir
    ensure_private_dir(state)
    log_path = state / LOG_FILE
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    if log_path.exists() and log_path.stat().st_size > LOG_LIMIT:
        flags |= os.O_TRUNC  # a line per reset: keep it from growing for ever
    fd = os.open(log_path, flags, 0o600)
    with os.fdopen(fd, "ab") as log:
        # The launch time lets its standby refuse to serve code edited while it was loading.
        _start("devenv.data.standbyd", str(stack.root / stack.manifest_name),
               str(time.time_ns()), *names, log=log.fileno(), cwd=stack.root)


def _start(module: str, *args: str, log: int, cwd: Path) -> None:
    """The same interpreter running one of devenv's modules, detached, its output in `log`.

    devenv's own directory goes first on the child's PYTHONPATH, so the child finds the devenv
    that started it however that one was imported (installed, editable, or a checkout).
    """
    env = dict(os.environ)
    home = str(Path(devenv.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (home, env.get("PYTHONPATH", "")) if p)
    subprocess.Popen([sys.executable, "-m", module, *args], stdin=subprocess.DEVNULL,
                     stdout=log, stderr=log, cwd=cwd, env=env, start_new_session=True)


def refill(manifest: Path, names: list[str]) -> int:
    """A spare per service, each made on its own admin session; 1 if any failed, else 0."""
    stack = stackcache.load(manifest)
    ctx = attach(stack, Console(quiet=True))
    failed = 0
    for name in names:
        svc = stack.services.get(name)
        if svc is None or svc.database is None:
            continue
        try:
            with golden.admin_session(ctx, svc) as conn:
                template = golden.ready_template(conn, ctx, svc)
                outcome = "no template yet" if template is None else make(conn, ctx, svc,
                                                                             template)
            log(f"{name}: {outcome}")
        except Exception as exc:  # logged: the next reset clones instead
            failed += 1
            log(f"{name}: no spare: {last_line(exc)}")
    return 1 if failed else 0


def log(text: str) -> None:
    """A line of .devenv/spares.log (the detached process's stdout), timestamped, known
    passwords masked as in every other output."""
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {mask(text)}", flush=True)
