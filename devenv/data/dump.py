"""`devenv db dump` and `devenv db diff`: a service's database with the server's own pg_dump.

pg_dump refuses a server newer than itself ("aborting because of server version mismatch"),
so the host's is used only when its major is at least the server's; otherwise the one in the
server's container, over its loopback (`docker exec`). It runs as the service's own role, which
owns its database and so can read all of it, unless something in the database is not readable
by that role (an extension's configuration table owned by the superuser, a table a migration
made as another role): then as the server's admin, and the note says why. The password goes in
PGPASSWORD, never on a command line or in the output.

`db diff` compares the live schema with the service's golden template, which the template build
makes from the migration files alone (devenv.data.golden, keyed by their content, so it is
always the files as they are now): it dumps a clone of it (a template takes no connections)
and drops the clone however the diff ends.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from typing import IO, Literal

from devenv.data import clones
from devenv.engine.context import Context, no_database
from devenv.errors import STACK_DOWN_HINT, DevenvError
from devenv.model import facts
from devenv.model.extensions import ONE_DATABASE
from devenv.model.stack import ADMIN_USER, ServiceSpec

Mode = Literal["all", "schema", "data"]
_MAJOR = re.compile(r"\(PostgreSQL\) (\d+)")

# What pg_dump reads data from (user tables, sequences, extensions' configuration tables) that
# the service's role cannot SELECT: pg_dump would fail on it ("permission denied").
_UNREADABLE = """
SELECT c.oid::regclass::text FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm', 'S')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
  AND NOT pg_catalog.has_table_privilege(%s, c.oid, 'SELECT')
  AND (NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                   WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                     AND d.deptype = 'e')
       OR c.oid IN (SELECT unnest(extconfig) FROM pg_catalog.pg_extension
                    WHERE extconfig IS NOT NULL))
ORDER BY 1
"""


class ReaderGone(DevenvError):
    """`devenv db dump app | head`: the pipe closed before the end, as the reader wanted."""


@dataclass(frozen=True)
class Dumper:
    """Which pg_dump, as whom: `note` says it in words (never a password)."""

    container: str | None  # None: the host's pg_dump
    user: str
    note: str


def host_major() -> int | None:
    """The host's pg_dump major version; None when there is none."""
    if shutil.which("pg_dump") is None:
        return None
    done = subprocess.run(["pg_dump", "--version"], capture_output=True, text=True,
                          check=False)
    found = _MAJOR.search(done.stdout)
    return int(found.group(1)) if found else None


def use_host(host: int | None, server: int) -> bool:
    """The host's pg_dump dumps a server of its own major or older, never a newer one."""
    return host is not None and host >= server


def choose(ctx: Context, svc: ServiceSpec, database: str) -> Dumper:
    assert svc.server is not None and svc.role is not None
    server = ctx.stack.servers[svc.server]
    with ctx.admin_session(server, database) as conn:
        major = conn.info.server_version // 10000
        unreadable = [str(r[0]) for r in conn.execute(_UNREADABLE, (svc.role,))]
    host = host_major()
    notes = []
    container = None
    if use_host(host, major):
        notes.append(f"the host's pg_dump {host}")
    else:
        found = ctx.docker.by_server().get(server.name)
        if found is None or found.state != "running":
            raise DevenvError(f"server '{server.name}' is not running", hint=STACK_DOWN_HINT)
        container = found.name
        why = "the host has none" if host is None else f"the host's is {host}"
        notes.append(f"pg_dump {major} of container {container} ({why})")
    user = svc.role
    if unreadable:
        user = ADMIN_USER
        shown = ", ".join(unreadable[:3]) + (", ..." if len(unreadable) > 3 else "")
        notes.append(f"as {ADMIN_USER}: role {svc.role} cannot read {len(unreadable)} "
                     f"table(s) of {database} ({shown})")
    else:
        notes.append(f"as {svc.role}")
    return Dumper(container, user, ", ".join(notes))


def dump(ctx: Context, svc: ServiceSpec, out: IO[bytes], *, mode: Mode = "all",
         database: str | None = None, dumper: Dumper | None = None,
         exclude: tuple[str, ...] = ()) -> Dumper:
    """pg_dump of the service's database (or `database`, a copy of it) into `out`, without
    the schemas `exclude`."""
    if svc.database is None or svc.server is None or svc.role is None:
        raise no_database(svc)
    name = database or svc.database
    dumper = dumper or choose(ctx, svc, name)
    server = ctx.stack.servers[svc.server]
    password = ctx.secrets.get(server.name, dumper.user)
    flags = {"all": [], "schema": ["--schema-only"], "data": ["--data-only"]}[mode]
    if dumper.container is None:
        env = {"PGHOST": facts.host_of(server), "PGPORT": str(facts.port_of(server, ctx.ports))}
    else:  # the container's own loopback
        env = {"PGHOST": "127.0.0.1", "PGPORT": str(server.container_port)}
    env.update({"PGUSER": dumper.user, "PGDATABASE": name, "PGPASSWORD": password})
    args = ["pg_dump", "--no-password", *flags, *(f"--exclude-schema={n}" for n in exclude)]
    if dumper.container is None:
        done = subprocess.run(args, stdout=out, stderr=subprocess.PIPE, check=False,
                              env={**os.environ, **env})
        code, err = done.returncode, done.stderr.decode(errors="replace")
    else:
        code, err = ctx.docker.exec_to(dumper.container, args, env, out)
    if code in (-signal.SIGPIPE, 128 + signal.SIGPIPE):
        raise ReaderGone(f"the reader of the dump of {name} closed it")
    if code != 0:
        lines = [line for line in err.strip().splitlines() if line.strip()]
        raise DevenvError(f"pg_dump of {name} ({dumper.note}) failed: "
                          f"{lines[-1] if lines else f'exit {code}'}",
                          hint=f"`devenv logs {server.name}` shows the server's side")
    return dumper


def schema_text(ctx: Context, svc: ServiceSpec, database: str | None = None) -> list[str]:
    """The schema of the service's database (or of `database`, a copy of it) as
    `comparable` lines."""
    schemas = () if database else _one_database_schemas(ctx, svc)
    with tempfile.TemporaryFile() as out:
        dump(ctx, svc, out, mode="schema", database=database, exclude=schemas)
        out.seek(0)
        return comparable(out.read().decode(), schemas)


def comparable(text: str, schemas: tuple[str, ...] = ()) -> list[str]:
    """pg_dump's schema without what differs between two dumps of one schema: comments and
    blank lines, SET lines, pg_dump's per-dump `\\restrict` key (PostgreSQL 17.6+), and the
    extensions that live in the service's own database only (pg_cron: never in a template,
    devenv.engine.provision.create_extensions) with their `schemas`: pg_dump keeps an
    extension schema's changed privileges (the GRANT USAGE ON SCHEMA cron that provisioning
    gives the service's role) even with --exclude-schema."""
    theirs = re.compile("|".join([*(rf"\bSCHEMA {re.escape(n)}\b|\b{re.escape(n)}\."
                                    for n in schemas),
                                  *(rf"EXTENSION (IF NOT EXISTS )?{re.escape(e)}\b"
                                    for e in sorted(ONE_DATABASE))]) or "(?!)")
    lines = []
    for line in text.splitlines():
        if (not line.strip() or line.startswith("--") or line.startswith("SET ")
                or line.startswith("SELECT pg_catalog.set_config(")
                or line.startswith(("\\restrict", "\\unrestrict")) or theirs.search(line)):
            continue
        lines.append(line)
    return lines


def _one_database_schemas(ctx: Context, svc: ServiceSpec) -> tuple[str, ...]:
    """The schemas that one-database extensions made in the service's database (pg_cron's
    `cron`, with the USAGE the service's role was granted on it): never in a template."""
    assert svc.server is not None and svc.database is not None
    with ctx.admin_session(svc.server, svc.database) as conn:
        rows = conn.execute(
            "SELECT n.nspname FROM pg_catalog.pg_namespace n "
            "JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_namespace'::regclass "
            "AND d.objid = n.oid AND d.deptype = 'e' "
            "JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid "
            "WHERE e.extname = ANY(%s) ORDER BY 1", (sorted(ONE_DATABASE),)).fetchall()
    return tuple(str(r[0]) for r in rows)


def diff(ctx: Context, svc: ServiceSpec) -> list[str]:
    """A unified diff from the schema the files make to the live one; empty when equal."""
    if svc.database is None:
        raise no_database(svc)
    scratch = clones.clone(ctx, svc, tag="diff", owner="db-diff")
    try:
        fresh = schema_text(ctx, svc, scratch)
    finally:
        with contextlib.suppress(clones.NoSuchClone):  # a janitor was first: gone either way
            clones.drop_clone(ctx, svc, scratch)
    live = schema_text(ctx, svc)
    return list(difflib.unified_diff(fresh, live, fromfile=f"{svc.name} (from its files)",
                                     tofile=f"{svc.name} (live {svc.database})", lineterm=""))
