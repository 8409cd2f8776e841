"""Reconcile a PostgreSQL server with the manifest: roles, databases, extensions, grants.

Run as the admin over psycopg, every identifier quoted with psycopg.sql. It reads the catalog
first and issues a statement only for what differs, so a second `up` issues no DDL at all;
the returned list of actions says what was changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from devenv.errors import DevenvError
from devenv.model.credentials import Secrets
from devenv.model.extensions import (
    ONE_DATABASE,
    OWN_SCHEMA,
    USAGE_SCHEMA,
    built_image,
    missing,
)
from devenv.model.scram import make_secret, matches
from devenv.model.stack import ADMIN_USER, ServerSpec, ServiceSpec, Stack

if TYPE_CHECKING:
    from devenv.engine.context import Context

Conn = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True)
class RoleSpec:
    name: str
    password: str
    createdb: bool = False
    createrole: bool = False
    member_of: tuple[str, ...] = ()


def services_on(stack: Stack, server: ServerSpec) -> list[ServiceSpec]:
    return [s for s in stack.services.values() if s.server == server.name and s.database]


def roles_for(stack: Stack, server: ServerSpec, secrets: Secrets) -> list[RoleSpec]:
    services = services_on(stack, server)
    owners = tuple(s.role for s in services if s.role)
    roles = [RoleSpec(r, secrets.get(server.name, r)) for r in owners]
    if stack.migration_role:
        roles.append(RoleSpec(stack.migration_role, secrets.get(server.name, stack.migration_role),
                              member_of=owners))
    if stack.admin_role:
        roles.append(RoleSpec(stack.admin_role, secrets.get(server.name, stack.admin_role),
                              createdb=True, createrole=True, member_of=owners))
    return roles


def check_extensions(conn: Conn, stack: Stack, server: ServerSpec) -> None:
    """Fail before any change when the image lacks a requested extension."""
    available = [str(r[0]) for r in conn.execute("SELECT name FROM pg_available_extensions")]
    problems = missing(stack, server, available, f"available on server '{server.name}' (image "
                       f"{built_image(stack, server) or server.image})")
    if problems:
        raise DevenvError("\n".join(problems),
                          hint="use an image that ships it (set `image:` on the server) or "
                          f"remove it from {stack.manifest_name}; no role, database or "
                          "extension was changed")


def reconcile_server(ctx: Context, server: ServerSpec, *, deadline: float | None = None,
                     roles_made: Callable[[], object] | None = None) -> list[str]:
    """Bring one server in line with the manifest; return the actions taken.

    `deadline` (time.monotonic()) bounds the whole of it, `up --timeout`: every connection and
    statement gets what is left, so a lock held by someone else cannot hang `up`.
    `roles_made` is called once the roles are: what needs only them (a template build) can
    start beside the databases, extensions and grants.
    """
    try:
        return _reconcile(ctx, server, deadline, roles_made)
    except psycopg.errors.QueryCanceled:
        raise DevenvError(f"provisioning server '{server.name}' did not finish in time (a "
                          "statement waited past the deadline, e.g. on another session's lock)",
                          hint="`devenv up --timeout SECONDS` waits longer; `devenv logs "
                          f"{server.name}` shows what the server was doing") from None


def _reconcile(ctx: Context, server: ServerSpec, deadline: float | None,
               roles_made: Callable[[], object] | None) -> list[str]:
    stack, secrets = ctx.stack, ctx.secrets
    actions: list[str] = []
    with ctx.admin_session(server, deadline=deadline) as conn:
        check_extensions(conn, stack, server)
        roles = roles_for(stack, server, secrets)
        actions += _roles(conn, roles)
        services = services_on(stack, server)
        managed = {r.name for r in roles}
        inheritors = {r.name for r in roles if r.member_of}
        actions += admin_database_access(conn, stack)
        if roles_made is not None:
            roles_made()
        for svc in services:
            readers = sorted(o.role for o in services if svc.name in o.reads and o.role)
            actions += _database(conn, svc, readers, managed - inheritors)
    for svc in services:
        assert svc.database is not None and svc.role is not None
        readers = sorted(o.role for o in services if svc.name in o.reads and o.role)
        if not svc.extensions and not readers:
            continue
        with ctx.admin_session(server, svc.database, deadline=deadline) as conn:
            actions += create_extensions(conn, svc, svc.database)
            actions += grant_reads(conn, svc.role, readers, database=svc.database)
    return actions


def _roles(conn: Conn, roles: list[RoleSpec]) -> list[str]:
    rows = conn.execute(
        "SELECT rolname, rolpassword, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin "
        "FROM pg_authid WHERE rolname = ANY(%s)", ([r.name for r in roles],)
    ).fetchall()
    current = {str(r[0]): r for r in rows}
    actions = []
    for role in roles:
        ident = sql.Identifier(role.name)
        attrs = sql.SQL(
            "LOGIN NOSUPERUSER {} {}".format(
                "CREATEDB" if role.createdb else "NOCREATEDB",
                "CREATEROLE" if role.createrole else "NOCREATEROLE",
            )
        )
        row = current.get(role.name)
        if row is None:
            conn.execute(sql.SQL("CREATE ROLE {} {} PASSWORD {}").format(
                ident, attrs, sql.Literal(scram_secret(role))))
            actions.append(f"created role {role.name}")
        else:
            if (row[2], row[3], row[4], row[5]) != (False, role.createdb, role.createrole, True):
                conn.execute(sql.SQL("ALTER ROLE {} {}").format(ident, attrs))
                actions.append(f"reset attributes of role {role.name}")
            if not matches(role.password, row[1] if isinstance(row[1], str) else None):
                conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    ident, sql.Literal(scram_secret(role))))
                actions.append(f"set password of role {role.name}")
        if role.member_of:
            have = {str(r[0]) for r in conn.execute(
                "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s", (role.name,))}
            for group in role.member_of:
                if group not in have:
                    conn.execute(sql.SQL("GRANT {} TO {}").format(
                        sql.Identifier(group), ident))
                    actions.append(f"granted {group} to {role.name}")
    return actions


def scram_secret(role: RoleSpec) -> str:
    """Hashed on the client: the plain password never reaches the server, so no server log
    can show it, whatever log_statement says."""
    return make_secret(role.password)


def _database(conn: Conn, svc: ServiceSpec, readers: list[str],
              service_roles: Iterable[str]) -> list[str]:
    assert svc.database is not None and svc.role is not None
    db, owner = sql.Identifier(svc.database), sql.Identifier(svc.role)
    actions = []
    row = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                       (svc.database,)).fetchone()
    if row is None:
        # template0: the TimescaleDB image puts its extension in template1, and a service
        # should get only the extensions it asks for.
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(db, owner))
        actions.append(f"created database {svc.database}")
    elif row[0] != svc.role:
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, owner))
        actions.append(f"set owner of database {svc.database} to {svc.role}")
    actions += database_access(conn, svc.database, readers, service_roles)
    return actions


def admin_database_access(conn: Conn, stack: Stack) -> list[str]:
    """Services have no business in the `postgres` database, where devenv takes its template
    and reset locks (issue 14: a service holding one there made `reset` of another hang).
    Only the admin, and the stack's migration and admin roles, may connect to it: the same
    rule as a service database, with those two roles as its readers."""
    shared = [r for r in (stack.migration_role, stack.admin_role) if r is not None]
    services = {s.role for s in stack.services.values() if s.role}
    return database_access(conn, "postgres", shared, services)


def isolation_drift(conn: Conn, stack: Stack, server: ServerSpec) -> list[str]:
    """What breaks the isolation `up` set up, in one catalog query: a service database (or
    `postgres`) that PUBLIC or a service role not among its readers may connect to.

    A service can open its own database with `GRANT CONNECT ... TO PUBLIC` in a migration;
    `up` re-checks this on every run (warm ones too) and repairs it.
    """
    services = services_on(stack, server)
    allowed = {s.database: {s.role, *(o.role for o in services if s.name in o.reads)}
               for s in services}
    roles = {s.role for s in services if s.role}
    rows = conn.execute(
        "SELECT d.datname, coalesce(r.rolname, 'PUBLIC') FROM pg_database d, "
        "aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a "
        "LEFT JOIN pg_roles r ON r.oid = a.grantee "
        "WHERE a.privilege_type IN ('CONNECT', 'TEMPORARY') AND d.datname = ANY(%s)",
        (["postgres", *allowed],)).fetchall()
    found = []
    for database, grantee in dict.fromkeys((str(d), str(g)) for d, g in rows):
        if grantee == "PUBLIC" or (grantee in roles and grantee not in allowed.get(database,
                                                                                   set())):
            found.append(f"{grantee} may connect to database {database}")
    return found


def repair_isolation(conn: Conn, stack: Stack, server: ServerSpec) -> list[str]:
    """Put the isolation back (the same statements as provisioning); the actions taken."""
    services = services_on(stack, server)
    roles = {s.role for s in services if s.role}
    actions = admin_database_access(conn, stack)
    for svc in services:
        assert svc.database is not None
        readers = sorted(o.role for o in services if svc.name in o.reads and o.role)
        actions += database_access(conn, svc.database, readers, roles)
    return actions


def database_access(conn: Conn, database: str, readers: list[str],
                    service_roles: Iterable[str]) -> list[str]:
    """Only the owner and its readers may connect: not PUBLIC, not other services."""
    db = sql.Identifier(database)
    actions = []
    public = conn.execute(
        "SELECT has_database_privilege('public', %s, 'CONNECT') "
        "OR has_database_privilege('public', %s, 'TEMPORARY')", (database, database)
    ).fetchone()
    if public and public[0]:
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
        actions.append(f"revoked PUBLIC access to database {database}")
    acl = conn.execute(
        "SELECT r.rolname FROM pg_database d, aclexplode(d.datacl) a JOIN pg_roles r "
        "ON r.oid = a.grantee WHERE d.datname = %s AND a.privilege_type = 'CONNECT'",
        (database,)).fetchall()
    explicit = {str(r[0]) for r in acl}
    for reader in readers:
        if reader not in explicit:
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                db, sql.Identifier(reader)))
            actions.append(f"granted CONNECT on {database} to {reader}")
    owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                         (database,)).fetchone()
    for role in sorted(explicit & set(service_roles)):
        if owner and role != owner[0] and role not in readers:
            conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM {}").format(
                db, sql.Identifier(role)))
            actions.append(f"revoked CONNECT on {database} from {role}")
    return actions


def create_extensions(conn: Conn, svc: ServiceSpec, database: str) -> list[str]:
    """The one way a service's extensions are made, in its database or in a copy of it (the
    template: clones and resets inherit what it holds). `conn` is an admin session on
    `database`. Each goes into a named schema (never wherever a search_path points): its own
    fixed one, the schema the service's role owns for it (OWN_SCHEMA), or public. What the
    service must reach besides the extension's functions is granted to its role.

    One-database extensions (pg_cron) exist only in the service's own database: a template
    or clone is skipped, and a reset creates them again.
    """
    assert svc.role is not None
    have = {str(r[0]) for r in conn.execute("SELECT extname FROM pg_catalog.pg_extension")}
    actions = []
    role = sql.Identifier(svc.role)
    for ext in svc.extensions:
        if ext in ONE_DATABASE and database != svc.database:
            continue
        if ext in have:
            actions += _schema_usage(conn, ext, svc.role, database)
            actions += _launcher_path(conn, ext, database)
            continue
        fixed = conn.execute(
            "SELECT schema FROM pg_catalog.pg_available_extension_versions v JOIN "
            "pg_catalog.pg_available_extensions a ON a.name = v.name "
            "AND a.default_version = v.version WHERE v.name = %s", (ext,)).fetchone()
        own = OWN_SCHEMA.get(ext)
        if fixed is not None and fixed[0] is not None:
            # its control file's schema wins under CASCADE; SCHEMA public is for what CASCADE
            # installs with it, which would otherwise go to the first schema of an admin
            # session's search_path: pg_catalog (Context.admin_connect)
            target: sql.Composable = sql.SQL(" SCHEMA public")
        elif own is not None:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                sql.Identifier(own), role))
            target = sql.SQL(" SCHEMA {}").format(sql.Identifier(own))
        else:
            target = sql.SQL(" SCHEMA public")
        conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}{} CASCADE").format(
            sql.Identifier(ext), target))
        if own is not None:
            s = sql.Identifier(own)
            for what in ("TABLES", "SEQUENCES"):
                conn.execute(sql.SQL("GRANT ALL ON ALL {} IN SCHEMA {} TO {}").format(
                    sql.SQL(what), s, role))
            for what in ("FUNCTIONS", "PROCEDURES"):
                conn.execute(sql.SQL("GRANT EXECUTE ON ALL {} IN SCHEMA {} TO {}").format(
                    sql.SQL(what), s, role))
        actions.append(f"created extension {ext} in {database}")
        _schema_usage(conn, ext, svc.role, database)
        _launcher_path(conn, ext, database)
    return actions


# pg_cron's launcher is a background worker logged in as the bootstrap superuser (the admin)
# in cron.database_name, the service's own database: with the search_path the service gives
# its database (ALTER DATABASE ... SET search_path = public, pg_catalog) its statements
# (`update cron.job_run_details ... where status in (...)`) ran the service's operators as the
# superuser (issue 27 item 18). A setting for the admin in that database wins over the
# database's own, and only a superuser can change it.
LAUNCHER_PATH = "search_path=pg_catalog, pg_temp"


def _launcher_path(conn: Conn, ext: str, database: str) -> list[str]:
    if ext not in ONE_DATABASE:
        return []
    row = conn.execute(
        "SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s "
        "JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.setdatabase "
        "WHERE d.datname OPERATOR(pg_catalog.=) %s "
        "AND s.setrole OPERATOR(pg_catalog.=) %s::pg_catalog.regrole",
        (database, ADMIN_USER)).fetchone()
    if row is not None and isinstance(row[0], list) and LAUNCHER_PATH in row[0]:
        return []
    conn.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} SET search_path = pg_catalog, pg_temp")
                 .format(sql.Identifier(ADMIN_USER), sql.Identifier(database)))
    return [f"set the admin's search_path in {database} (pg_cron's launcher runs there)"]


def _schema_usage(conn: Conn, ext: str, role: str, database: str) -> list[str]:
    """USAGE on the extension's schema for the service's role (pg_cron: `cron`), granted again
    when missing: a volume made before devenv granted it, or a REVOKE, left pg_cron unusable
    by the service (issue 27 item 18)."""
    schema = USAGE_SCHEMA.get(ext)
    if schema is None:
        return []
    row = conn.execute("SELECT pg_catalog.has_schema_privilege(%s, %s, 'USAGE')",
                       (role, schema)).fetchone()
    if row is not None and row[0]:
        return []
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
        sql.Identifier(schema), sql.Identifier(role)))
    return [f"granted USAGE on schema {schema} in {database} to {role}"]


def grant_reads(conn: Conn, owner: str, readers: list[str], *, database: str) -> list[str]:
    """SELECT for readers on the owner's tables, now and (default privileges) later."""
    actions = []
    for reader in readers:
        r, o = sql.Identifier(reader), sql.Identifier(owner)
        schemas = [str(row[0]) for row in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE (nspowner = %s::regrole "
            "OR nspname = 'public') AND NOT has_schema_privilege(%s, oid, 'USAGE')",
            (owner, reader))]
        for schema in schemas:
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(schema), r))
            actions.append(f"granted USAGE on schema {schema} in {database} to {reader}")
        tables = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relowner = %s::regrole "
            "AND NOT has_table_privilege(%s, c.oid, 'SELECT')", (owner, reader)).fetchone()
        if tables and int(str(tables[0])) > 0:
            for schema in _owned_schemas(conn, owner):
                conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
                    sql.Identifier(schema), r))
            actions.append(f"granted SELECT on existing tables of {database} to {reader}")
        defaults = {str(row[0]) for row in conn.execute(
            "SELECT d.defaclobjtype FROM pg_default_acl d, aclexplode(d.defaclacl) a "
            "WHERE d.defaclrole = %s::regrole AND d.defaclnamespace = 0 "
            "AND a.grantee = %s::regrole", (owner, reader))}
        if "r" not in defaults:
            conn.execute(sql.SQL(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} GRANT SELECT ON TABLES TO {}").format(o, r))
            actions.append(f"granted SELECT on future tables of {database} to {reader}")
        if "n" not in defaults:
            conn.execute(sql.SQL(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} GRANT USAGE ON SCHEMAS TO {}").format(o, r))
            actions.append(f"granted USAGE on future schemas of {database} to {reader}")
    return actions


def _owned_schemas(conn: Conn, owner: str) -> list[str]:
    return [str(row[0]) for row in conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspowner = %s::regrole OR nspname = 'public'",
        (owner,))]
