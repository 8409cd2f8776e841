"""Reconcile a PostgreSQL server with the manifest: roles, databases, extensions, grants.

Run as the admin over psycopg, every identifier quoted with psycopg.sql. It reads the catalog
first and issues a statement only for what differs, so a second `up` issues no DDL at all;
the returned list of actions says what was changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from devenv.errors import DevenvError
from devenv.model.extensions import (
    ONE_DATABASE,
    OWN_SCHEMA,
    USAGE_SCHEMA,
    built_image,
    missing,
)
from devenv.model.scram import make_secret, matches
from devenv.model.secrets import Secrets
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
    return [replace(r, password=secrets.get(server.name, r.name))
            for r in role_shapes(stack, server)]


def role_shapes(stack: Stack, server: ServerSpec) -> list[RoleSpec]:
    """The roles devenv manages on a server, with their attributes and memberships (no
    passwords: what the isolation check compares with the catalog)."""
    services = services_on(stack, server)
    owners = tuple(s.role for s in services if s.role)
    roles = [RoleSpec(r, "") for r in owners]
    if stack.migration_role:
        roles.append(RoleSpec(stack.migration_role, "", member_of=owners))
    if stack.admin_role:
        roles.append(RoleSpec(stack.admin_role, "", createdb=True, createrole=True,
                              member_of=owners))
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
                     roles_made: Callable[[], object] | None = None,
                     dry: bool = False) -> list[str]:
    """Bring one server in line with the manifest; return the actions taken.

    `deadline` (time.monotonic()) bounds the whole of it, `up --timeout`: every connection and
    statement gets what is left, so a lock held by someone else cannot hang `up`.
    `roles_made` is called once the roles are: what needs only them (a template build) can
    start beside the databases, extensions and grants.

    `dry` (`devenv plan`): the same statements, decided by the same catalog reads, run in
    transactions that are rolled back, so the actions are those `up` would take. Only what
    cannot run in a transaction is listed instead of run: CREATE DATABASE, and what follows
    in a database (or for a role) that does not exist yet (`fresh_database`).
    """
    try:
        return _reconcile(ctx, server, deadline, roles_made, dry=dry)
    except psycopg.errors.QueryCanceled:
        raise DevenvError(f"provisioning server '{server.name}' did not finish in time (a "
                          "statement waited past the deadline, e.g. on another session's lock)",
                          hint="`devenv up --timeout SECONDS` waits longer; `devenv logs "
                          f"{server.name}` shows what the server was doing") from None


def _reconcile(ctx: Context, server: ServerSpec, deadline: float | None,
               roles_made: Callable[[], object] | None, *, dry: bool) -> list[str]:
    stack, secrets = ctx.stack, ctx.secrets
    actions: list[str] = []
    absent: set[str] = set()  # dry: databases that do not exist yet
    with ctx.admin_session(server, deadline=deadline) as conn, _undone(conn, dry=dry):
        check_extensions(conn, stack, server)
        roles = roles_for(stack, server, secrets)
        existing = _existing_roles(conn, [r.name for r in roles]) if dry else set()
        actions += _roles(conn, roles)
        actions += repair_roles(conn, role_drift(conn, stack, server))
        services = services_on(stack, server)
        managed = {r.name for r in roles}
        inheritors = {r.name for r in roles if r.member_of}
        actions += admin_database_access(conn, stack)
        if roles_made is not None:
            roles_made()
        for svc in services:
            readers = sorted(o.role for o in services if svc.name in o.reads and o.role)
            done = _database(conn, svc, readers, managed - inheritors, dry=dry)
            if done is None:
                assert svc.database is not None
                absent.add(svc.database)
                actions += fresh_database(svc, readers)
            else:
                actions += done
    for svc in services:
        assert svc.database is not None and svc.role is not None
        readers = sorted(o.role for o in services if svc.name in o.reads and o.role)
        if (not svc.extensions and not readers) or svc.database in absent:
            continue
        with ctx.admin_session(server, svc.database, deadline=deadline) as conn, \
                _undone(conn, dry=dry):
            if dry:  # made in the first transaction, rolled back since: made again, as there
                for role in sorted({svc.role, *readers} - existing):
                    conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
            actions += create_extensions(conn, svc, svc.database)
            actions += grant_reads(conn, svc.role, readers, database=svc.database)
    return actions


@contextmanager
def _undone(conn: Conn, *, dry: bool) -> Iterator[None]:
    """`dry`: everything inside runs in one transaction that is then rolled back."""
    if not dry:
        yield
        return
    with conn.transaction(force_rollback=True):
        yield


def _existing_roles(conn: Conn, names: list[str]) -> set[str]:
    return {str(r[0]) for r in conn.execute(
        "SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY(%s)", (names,))}


def fresh_server(stack: Stack, server: ServerSpec, secrets: Secrets) -> list[str]:
    """What provisioning does on a server with no data yet (`devenv plan`), in its words."""
    roles = roles_for(stack, server, secrets)
    actions = [f"created role {r.name}" for r in roles]
    actions += [f"granted {g} to {r.name}" for r in roles for g in r.member_of]
    shared = [r for r in (stack.migration_role, stack.admin_role) if r is not None]
    actions.append("revoked PUBLIC access to database postgres")
    actions += [f"granted CONNECT on postgres to {r}" for r in shared]
    services = services_on(stack, server)
    for svc in services:
        actions += fresh_database(svc, sorted(o.role for o in services
                                              if svc.name in o.reads and o.role))
    return actions


def fresh_database(svc: ServiceSpec, readers: list[str]) -> list[str]:
    """What provisioning does in a service database that does not exist yet (`devenv plan`
    cannot run it: CREATE DATABASE is not transactional), in provisioning's own words."""
    assert svc.database is not None
    db = svc.database
    actions = [f"created database {db}", f"revoked PUBLIC access to database {db}"]
    actions += [f"granted CONNECT on {db} to {r}" for r in readers]
    actions += [f"created extension {e} in {db}" for e in svc.extensions]
    for reader in readers:
        actions += [f"granted SELECT on future tables of {db} to {reader}",
                    f"granted USAGE on future schemas of {db} to {reader}"]
    return actions


def _roles(conn: Conn, roles: list[RoleSpec]) -> list[str]:
    rows = conn.execute(
        "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(%s)",
        ([r.name for r in roles],)
    ).fetchall()
    current = {str(r[0]): r for r in rows}
    actions = []
    for role in roles:
        ident = sql.Identifier(role.name)
        attrs = sql.SQL(" ").join(sql.SQL(k if v else f"NO{k}")
                                  for k, v in _attributes(role).items())
        row = current.get(role.name)
        if row is None:
            conn.execute(sql.SQL("CREATE ROLE {} {} PASSWORD {}").format(
                ident, attrs, sql.Literal(scram_secret(role))))
            actions.append(f"created role {role.name}")
        else:
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


def _attributes(role: RoleSpec) -> dict[str, bool]:
    """What a managed role may be: the manifest's attributes, nothing more."""
    return {"LOGIN": True, "SUPERUSER": False, "CREATEDB": role.createdb,
            "CREATEROLE": role.createrole, "REPLICATION": False, "BYPASSRLS": False}


_COLUMNS = {"LOGIN": "rolcanlogin", "SUPERUSER": "rolsuper", "CREATEDB": "rolcreatedb",
            "CREATEROLE": "rolcreaterole", "REPLICATION": "rolreplication",
            "BYPASSRLS": "rolbypassrls"}


@dataclass(frozen=True)
class RoleDrift:
    found: str  # "role a is SUPERUSER"
    done: str  # "removed SUPERUSER from role a"
    statement: sql.Composed


def role_drift(conn: Conn, stack: Stack, server: ServerSpec) -> list[RoleDrift]:
    """Role attributes and memberships beyond the manifest's, in one catalog query: a managed
    role that is SUPERUSER, CREATEROLE, REPLICATION, BYPASSRLS (or CREATEDB unless it is
    `roles.admin`), a member of a pg_* role (pg_read_all_data, pg_execute_server_program, ...)
    or of another managed role it should not be, and any role but the admin that is SUPERUSER
    (a service that was superuser once can have made itself one more). Issue 27: a service
    made superuser stayed one through every `up`, and nothing said so."""
    shapes = {r.name: r for r in role_shapes(stack, server)}
    rows = conn.execute(
        "SELECT r.rolname, " + ", ".join(f"r.{c}" for c in _COLUMNS.values()) + ", g.rolname, "
        "pg_catalog.pg_get_userbyid(m.grantor) FROM pg_catalog.pg_roles r "
        "LEFT JOIN pg_catalog.pg_auth_members m ON m.member = r.oid "
        "LEFT JOIN pg_catalog.pg_roles g ON g.oid = m.roleid "
        "WHERE r.rolname = ANY(%s) OR (r.rolsuper AND r.rolname <> current_user) "
        "ORDER BY r.rolname, g.rolname", (list(shapes),)).fetchall()
    found: list[RoleDrift] = []
    seen: set[str] = set()
    for row in rows:
        name, group, grantor = str(row[0]), row[-2], row[-1]
        ident = sql.Identifier(name)
        shape = shapes.get(name)
        if name not in seen:
            seen.add(name)
            have = dict(zip(_COLUMNS, row[1:-2], strict=True))
            want = _attributes(shape) if shape else {"SUPERUSER": False}
            for attr, wanted in want.items():
                if bool(have[attr]) == wanted:
                    continue
                unmanaged = "" if shape else " (a role devenv does not manage)"
                found.append(RoleDrift(
                    f"role {name} is {attr}{unmanaged}" if not wanted else
                    f"role {name} lacks {attr}",
                    f"removed {attr} from role {name}" if not wanted else
                    f"gave {attr} back to role {name}",
                    sql.SQL("ALTER ROLE {} {}").format(
                        ident, sql.SQL(attr if wanted else f"NO{attr}"))))
        if shape is None or group is None:
            continue
        group = str(group)
        if group in shape.member_of or not (group.startswith("pg_") or group in shapes):
            continue
        # 16+ records who granted it, and only that grantor's grant is revoked
        by = sql.SQL("") if grantor is None or conn.info.server_version < 160000 else \
            sql.SQL(" GRANTED BY {}").format(sql.Identifier(str(grantor)))
        found.append(RoleDrift(f"role {name} is a member of {group}",
                               f"revoked {group} from role {name}",
                               sql.SQL("REVOKE {} FROM {}{}").format(
                                   sql.Identifier(group), ident, by)))
    return found


def repair_roles(conn: Conn, drift: list[RoleDrift]) -> list[str]:
    for d in drift:
        conn.execute(d.statement)
    return [d.done for d in drift]


def scram_secret(role: RoleSpec) -> str:
    """Hashed on the client: the plain password never reaches the server, so no server log
    can show it, whatever log_statement says."""
    return make_secret(role.password)


def _database(conn: Conn, svc: ServiceSpec, readers: list[str],
              service_roles: Iterable[str], *, dry: bool = False) -> list[str] | None:
    """The actions taken; None (only when `dry`) for a database that does not exist."""
    assert svc.database is not None and svc.role is not None
    db, owner = sql.Identifier(svc.database), sql.Identifier(svc.role)
    actions = []
    row = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_catalog.pg_database "
                       "WHERE datname = %s", (svc.database,)).fetchone()
    if row is None and dry:
        return None
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
    """What breaks the isolation `up` set up, in two catalog queries: a service database (or
    `postgres`) that PUBLIC or a service role not among its readers may connect to, and a
    role with more rights than the manifest gives it (`role_drift`).

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
    return found + [d.found for d in role_drift(conn, stack, server)]


def repair_isolation(conn: Conn, stack: Stack, server: ServerSpec) -> list[str]:
    """Put the isolation back (the same statements as provisioning); the actions taken."""
    services = services_on(stack, server)
    roles = {s.role for s in services if s.role}
    actions = repair_roles(conn, role_drift(conn, stack, server))
    actions += admin_database_access(conn, stack)
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


MONITOR_ROLE = "pg_monitor"


def monitor_access(conn: Conn, database: str) -> list[str]:
    """CONNECT for pg_monitor on a service database PUBLIC may not connect to: in the
    cluster, CNPG's metrics exporter runs its queries as `cnpg_metrics_exporter`, a member of
    pg_monitor with INHERIT (cloudnative-pg pkg/management/postgres/metrics_exporter_role.go,
    v1.30.0), by default in the Cluster's initdb database, the first service's
    (docs/src/monitoring.md, which asks for exactly this grant where CONNECT was revoked from
    PUBLIC). Granted to the predefined role, which exists on every server: the exporter role
    only from CNPG 1.30, and only once the instance manager has made it."""
    allowed = conn.execute("SELECT has_database_privilege(%s, %s, 'CONNECT')",
                           (MONITOR_ROLE, database)).fetchone()
    if allowed and allowed[0]:
        return []
    conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
        sql.Identifier(database), sql.Identifier(MONITOR_ROLE)))
    return [f"granted CONNECT on {database} to {MONITOR_ROLE} (CNPG's metrics exporter)"]


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
