"""Clones: throwaway databases copied from a service's golden template.

Made by `devenv db clone` and the pytest plugin; each carries the comment `devenv:clone:<service>`
(plus `:<owner>`, e.g. `pytest-<pid>`, so a janitor can find those of a killed run), and only
databases with that comment and a clone's name shape are ever dropped.
"""

from __future__ import annotations

import re
import secrets as random
from collections.abc import Callable

from devenv.data.golden import (
    CLONE_MARK,
    Conn,
    admin_session,
    borrowed,
    copy_from_template,
    drop_database,
    ensure_template,
    marked,
)
from devenv.engine.context import Context, no_database
from devenv.errors import DevenvError
from devenv.model.stack import CLONE_TABLESPACE, ServiceSpec, size_bytes

_CLONE_NAME = re.compile(r"^[a-z0-9_]+_c[0-9a-f]{8}$")


class NoSuchClone(DevenvError):
    """Dropping a clone that is already gone (a janitor or a restart's repair was first)."""


def clone(ctx: Context, svc: ServiceSpec, *, tag: str = "", owner: str = "",
          conn: Conn | None = None, template: str | None = None) -> str:
    """A fresh database cloned from the service's template; returns its name.

    `owner` (e.g. `pytest:<pid>`) lets a janitor find clones left by a killed run; `conn`
    and `template` let a caller making many clones reuse one admin session.
    """
    if svc.database is None:
        raise no_database(svc)
    template = template or ensure_template(ctx, svc, say=False)
    tag = re.sub(r"[^a-z0-9_]", "", tag.lower())[:10]
    base = f"{svc.database[:36]}_{tag}" if tag else svc.database[:40]
    comment = f"{CLONE_MARK}{svc.name}" + (f":{owner}" if owner else "")
    with admin_session(ctx, svc) if conn is None else borrowed(conn) as admin:
        for _ in range(5):
            name = f"{base}_c{random.token_hex(4)}"
            # one round trip: is the name free, is there an in-memory tablespace (engine/clonespace)
            row = admin.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = %s), "
                "EXISTS (SELECT 1 FROM pg_tablespace WHERE spcname = %s)",
                (name, CLONE_TABLESPACE)).fetchone()
            assert row is not None
            if not row[0]:
                copy_from_template(admin, ctx, svc, template, name, comment=comment,
                                   tablespace=CLONE_TABLESPACE if row[1] else None)
                return name
    raise DevenvError("could not find a free clone name")  # pragma: no cover


def check_room(ctx: Context, svc: ServiceSpec, template: str, at_once: int, *,
               conn: Conn) -> None:
    """Fail before the first test when `at_once` clones of the template cannot fit in the
    server's in-memory tablespace, rather than on the Nth test with a full tmpfs."""
    assert svc.server is not None
    server = ctx.stack.servers[svc.server]
    row = conn.execute(
        "SELECT pg_database_size(%s), EXISTS (SELECT 1 FROM pg_tablespace WHERE spcname = %s)",
        (template, CLONE_TABLESPACE)).fetchone()
    assert row is not None
    size, in_memory = int(str(row[0])), bool(row[1])
    cap = size_bytes(server.clone_memory)
    if in_memory and size * at_once > cap:
        mib = -(-size * at_once // (1 << 20))
        raise DevenvError(
            f"{at_once} clones of {svc.name}'s template ({size >> 20} MiB each) at once need "
            f"{mib} MiB, more than servers.{server.name}.clone_memory ({server.clone_memory})",
            hint=f"set servers.{server.name}.clone_memory to at least {mib}m in "
            f"{ctx.stack.manifest_name} (then `devenv up`), or lower the plugin's prefetch")


def drop_clone(ctx: Context, svc: ServiceSpec, name: str, *, conn: Conn | None = None) -> None:
    with admin_session(ctx, svc) if conn is None else borrowed(conn) as admin:
        _drop_clone(admin, name)


def _drop_clone(conn: Conn, name: str) -> None:
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        (name,)).fetchone()
    if row is None:
        raise NoSuchClone(f"no database named '{name}'", hint="`devenv db list` shows clones")
    if not (isinstance(row[0], str) and row[0].startswith(CLONE_MARK)
            and _CLONE_NAME.match(name)):
        raise DevenvError(f"'{name}' is not a devenv clone: refusing to drop it",
                          hint="`devenv db drop` only drops databases made by `devenv db clone`")
    drop_database(conn, name)  # another janitor may drop it while this waits for its lock


def list_clones(ctx: Context) -> list[tuple[str, str, str]]:
    """(server, database, comment after the mark: `service[:owner]`) of every clone."""
    out = []
    for server in ctx.stack.servers.values():
        if not server.is_database:
            continue
        try:
            conn = ctx.admin_session(server)
        except DevenvError:  # a server that is down has no clones to list
            continue
        with conn:
            for name, comment in marked(conn, CLONE_MARK):
                out.append((server.name, name, comment[len(CLONE_MARK):]))
    return out


def prune(ctx: Context, *, keep: Callable[[str], bool] | None = None) -> list[str]:
    """Drop every clone, or those whose `service[:owner]` tag `keep` does not want to keep."""
    dropped = []
    for server, name, tag in list_clones(ctx):
        if keep is not None and keep(tag):
            continue
        with ctx.admin_session(server) as conn:
            try:
                _drop_clone(conn, name)
            except DevenvError:
                continue  # another janitor (an xdist worker) dropped it first
        dropped.append(name)
    return dropped
