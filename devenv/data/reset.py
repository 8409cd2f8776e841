"""`devenv reset SERVICE`: the service's data back to its migrated and seeded state, alone.

Only that service is touched: its pooled connections are killed in PgBouncer (then resumed,
so its app reconnects; its read-only entry once the replicas replayed the reset), its database
is dropped and cloned from the golden template, its grants re-applied, and only keys under its
Redis prefix are unlinked (SCAN + UNLINK).

Dropping the database ends every session on it, also other services' (a `reads` reader) and
people's (psql): the reset names them, so a reader's "terminating connection due to
administrator command" is never a mystery.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

import psycopg
from psycopg import sql

from devenv.console import Console
from devenv.data import golden, keys, spares
from devenv.engine import pools, provision, replication
from devenv.engine.context import Context, attach, select
from devenv.engine.migrate import migrate_service
from devenv.errors import STACK_DOWN_HINT, DevenvError, last_line
from devenv.model.replicas import readonly_entry
from devenv.model.stack import ServiceSpec, Stack


def reset(stack: Stack, console: Console, *, names: list[str], all_: bool, hard: bool,
          refill: bool = True) -> list[ServiceSpec]:
    """Reset the services; the ones reset. `refill` False: the caller makes the next spares
    (the standby does, in process) instead of a detached `python -m devenv.spares`."""
    if not names and not all_:
        raise DevenvError("name the services to reset, or pass --all",
                          hint=f"services: {', '.join(stack.services)}")
    services = select(stack, [] if all_ else names)
    if all_:
        services = [s for s in services if s.database or s.redis]
    empty = [s.name for s in services if s.database is None and s.redis is None]
    if empty:  # checked before any service is touched
        raise DevenvError(f"service(s) {', '.join(empty)} have no database and no Redis: "
                          "nothing to reset")
    ctx = attach(stack, console)
    for svc in services:
        started = time.perf_counter()
        closed: list[str] = []
        if svc.database is not None:
            if hard:
                reset_hard(ctx, svc, closed=closed)
            else:
                reset_database(ctx, svc, closed=closed)
        removed = _unlink_keys(ctx, svc) if svc.redis else 0  # after its database part only
        what = "rebuilt from migrations and seeds" if hard else "restored from its template"
        if svc.server is not None and stack.servers[svc.server].replicas:
            # back only when the replicas read the same: a test after a reset sees it there too.
            # paused_pool waited for what happened under it; --hard migrates after it
            if hard:
                replication.wait_replayed(ctx, stack.servers[svc.server], skip_paused=True)
            what += f", replayed by {svc.server}'s replicas"
        redis = f", {removed} Redis key(s) removed" if svc.redis else ""
        console.say(f"{svc.name}: {what}{redis} "
                    f"({(time.perf_counter() - started) * 1000:.0f} ms)")
        if closed:
            console.say(f"  closed {len(closed)} session(s) on {svc.database}: "
                        f"{', '.join(closed)}")
    if refill and not hard:
        spares.refill_in_background(stack, services)
    return services


def _unlink_keys(ctx: Context, svc: ServiceSpec) -> int:
    assert svc.redis is not None
    try:
        return keys.unlink_prefix_at(ctx.redis_admin_url(ctx.stack.servers[svc.redis]),
                                     svc.key_prefix)
    except Exception as exc:  # redis.RedisError and its socket errors
        raise DevenvError(f"cannot clear Redis keys of '{svc.name}' ({last_line(exc)})",
                          hint=STACK_DOWN_HINT) from None


def _console(ctx: Context, svc: ServiceSpec) -> psycopg.Connection[Any] | None:
    """A session on the admin console of the service's PgBouncer (None without one)."""
    if svc.pgbouncer is None or svc.database is None:
        return None
    bouncer = ctx.stack.servers[svc.pgbouncer]
    return ctx.console_session(bouncer)


@contextmanager
def paused_pool(ctx: Context, svc: ServiceSpec,
                console: psycopg.Connection[Any] | None = None) -> Iterator[None]:
    """KILL drops the pooled connections of this database only and pauses it; RESUME after.

    With replicas, it returns once they have replayed what was done under it, pooled or not;
    the `<database>_readonly` entry is KILLed too and resumed only then: a pooled read in
    between would reach the replica's old database and be ended by the replay of its drop."""
    assert svc.database is not None and svc.server is not None
    server = ctx.stack.servers[svc.server]
    console = console or _console(ctx, svc)
    if console is None:
        yield
        if server.replicas:  # reached only when the block ended without an error
            replication.wait_replayed(ctx, server, skip_paused=True)
        return
    readonly = [readonly_entry(svc.database)] if server.replicas else []
    # The admin console speaks the simple query protocol only.
    with console, _ended_by_signals():
        for entry in (*readonly, svc.database):  # read-only first: nothing to resume if absent
            try:
                console.execute(sql.SQL("KILL {}").format(sql.Identifier(entry)), prepare=False)
            except psycopg.Error as exc:
                if entry == svc.database:
                    raise
                raise DevenvError(f"PgBouncer has no entry '{entry}' for {svc.name}'s replicas "
                                  f"({last_line(exc)}): it runs a config from before "
                                  f"`replicas:` was set", hint="`devenv up` restarts it with "
                                  "the current one; nothing was reset") from None
        done = False
        try:
            yield
            done = True
        finally:
            console.execute(sql.SQL("RESUME {}").format(sql.Identifier(svc.database)),
                            prepare=False)
            try:
                if readonly and done:
                    replication.wait_replayed(ctx, server, skip_paused=True)
            finally:
                for entry in readonly:
                    console.execute(sql.SQL("RESUME {}").format(sql.Identifier(entry)),
                                    prepare=False)


@contextmanager
def _ended_by_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) end a paused reset as Ctrl-C does: through the
    `finally` that resumes the pool. SIGKILL cannot be caught: `up` and `doctor` find what it
    left paused (devenv.engine.pools)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def sessions(conn: psycopg.Connection[Any], ctx: Context, svc: ServiceSpec) -> list[str]:
    """Who has a session on the service's database, as a person reads it: a service by name
    (`billing (reads auth)` for a reader; `auth (psql)` when its client named itself), anyone
    else by the client's application_name (psql), else by role."""
    assert svc.database is not None
    by_role = {s.role: s for s in ctx.stack.services.values() if s.role}
    rows = conn.execute("SELECT usename, application_name FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid() ORDER BY backend_start",
                        (svc.database,)).fetchall()
    out = []
    for user, application in rows:
        owner = by_role.get(user)
        if owner is None:
            out.append(str(application or user))
            continue
        notes = [f"reads {svc.name}"] if svc.name in owner.reads else []
        notes += [str(application)] if application else []
        out.append(f"{owner.name} ({', '.join(notes)})" if notes else owner.name)
    return out


def reset_database(ctx: Context, svc: ServiceSpec, *, closed: list[str] | None = None,
                   source: str | None = None) -> bool:
    """Drop the database and put the template's state back; True if a spare was swapped in.
    `closed` receives who had a session on it (ended by the drop). `source`: another template
    to copy instead of the golden one (a snapshot, devenv.data.snapshots; never a spare)."""
    assert svc.database is not None
    with ExitStack() as opened, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_console, ctx, svc)  # both logins (SCRAM) at once
        opened.callback(_close_when_done, pending)
        conn = opened.enter_context(golden.admin_session(ctx, svc))
        # Two resets of one service at once: the second waits for the first (issue 14).
        opened.enter_context(_one_at_a_time(conn, svc))
        console = pending.result()
        template = source or golden.ensure_template(ctx, svc, conn=conn)
        spare = False if source else spares.ready(conn, svc, template)  # before pausing the pool
        with paused_pool(ctx, svc, console):
            if closed is not None:
                closed += sessions(conn, ctx, svc)
            golden.drop_database(conn, svc.database)
            swapped = bool(spare and spares.take(conn, ctx, svc, template))
            if not swapped:
                golden.copy_from_template(conn, ctx, svc, template, svc.database, comment=None)
            golden.own_database_extensions(ctx, svc)
            return swapped


def _one_at_a_time(conn: psycopg.Connection[Any], svc: ServiceSpec
                   ) -> AbstractContextManager[None]:
    return golden.advisory_lock(conn, pools.reset_lock(svc), wait_s=golden.RESET_WAIT_S,
                                what=f"another reset of {svc.name}")


one_at_a_time = _one_at_a_time  # also a snapshot's save and restore (devenv.data.snapshots)


def _close_when_done(pending: Future[psycopg.Connection[Any] | None]) -> None:
    """Close the console session however the reset ended (closing twice is harmless)."""
    if pending.exception() is None and (console := pending.result()) is not None:
        console.close()


def reset_hard(ctx: Context, svc: ServiceSpec, *, closed: list[str] | None = None) -> None:
    """Drop, re-provision, migrate and seed from the files, without the template.

    The service's reset lock comes first and is held to the end, as a plain reset's is:
    paused before it, a `--hard` beside a plain reset of the same service was resumed by the
    other's RESUME, failed on its own ("not paused") and left the database empty (issue 27).
    """
    assert svc.database is not None and svc.server is not None
    server = ctx.stack.servers[svc.server]
    with golden.admin_session(ctx, svc) as conn, _one_at_a_time(conn, svc), \
            paused_pool(ctx, svc):
        if closed is not None:
            closed += sessions(conn, ctx, svc)
        golden.drop_database(conn, svc.database)
        provision.reconcile_server(ctx, server)
        migrate_service(ctx, svc, quiet=True)
