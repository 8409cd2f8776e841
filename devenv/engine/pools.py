"""PgBouncer entries a reset left paused: found and resumed by `up`, reported by `doctor`.

A reset KILLs the service's pooled entries (which pauses them) and RESUMEs them when it ends.
A reset killed with SIGKILL (or a machine that slept mid-reset) never does: every pooled query
of that service then waits, and `up`'s own probe through PgBouncer waited 125 s and blamed the
settings (issue 27). An entry is resumed only under the service's reset lock, so a reset that
is running keeps its pause.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg import sql

from devenv.model.replicas import readonly_entry
from devenv.model.stack import ServerSpec, ServiceSpec

if TYPE_CHECKING:
    import psycopg

    from devenv.engine.context import Context


def reset_lock(svc: ServiceSpec) -> str:
    """The advisory lock (`hashtext` of it, in the admin database) every reset of the service
    holds from before it pauses the pool until after it resumes it."""
    return f"devenv:reset:{svc.name}"


def paused(console: psycopg.Connection[Any]) -> list[str]:
    """The paused entries of one PgBouncer, from its admin console's SHOW DATABASES."""
    cursor = console.execute("SHOW DATABASES", prepare=False)
    columns = [c.name for c in cursor.description or []]
    if "paused" not in columns:  # a PgBouncer older than 1.12 does not say
        return []
    name, flag = columns.index("name"), columns.index("paused")
    return [str(row[name]) for row in cursor.fetchall() if str(row[flag]) == "1"]


def owner(ctx: Context, bouncer: ServerSpec, entry: str) -> ServiceSpec | None:
    """The pooled service an entry (its database, or its `<database>_readonly`) belongs to."""
    for svc in ctx.stack.services.values():
        if svc.pgbouncer == bouncer.name and svc.database is not None and entry in (
                svc.database, readonly_entry(svc.database)):
            return svc
    return None


def left_paused(ctx: Context, bouncer: ServerSpec, *, resume: bool) -> list[str]:
    """What a killed reset left paused on `bouncer` (an entry whose service is being reset
    right now is not: that reset resumes its own), as lines that say what was found and, with
    `resume`, that it was resumed (under the service's reset lock, so no reset starts between).
    """
    notes = []
    with ctx.console_session(bouncer) as console:
        for entry in paused(console):
            svc = owner(ctx, bouncer, entry)
            who = f"{svc.name}'s entry {entry}" if svc else f"entry {entry}"
            note = (f"PgBouncer '{bouncer.name}': {who} is paused (a `devenv reset` that was "
                    "killed leaves it so: its pooled queries wait)")
            resumed = "; resumed it" if resume else ""
            if svc is None or svc.server is None:
                if resume:
                    _resume(console, entry)
                notes.append(note + resumed)
                continue
            with ctx.admin_session(svc.server) as conn:
                row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                                   (reset_lock(svc),)).fetchone()
                if not (row and row[0]):
                    continue  # a reset is running
                if resume:
                    _resume(console, entry)
            notes.append(note + resumed)
    return notes


def _resume(console: psycopg.Connection[Any], entry: str) -> None:
    console.execute(sql.SQL("RESUME {}").format(sql.Identifier(entry)), prepare=False)
