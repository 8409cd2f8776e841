"""Connection facts of a service and the variables of its .env file (pure).

Names are stable and documented in README and .env.example: DATABASE_URL (through PgBouncer
when the service is pooled), DATABASE_DIRECT_URL, PG* (always direct, for libpq tools and
migration runners), REDIS_URL, REDIS_KEY_PREFIX, <OTHER>_DATABASE_URL per `reads` entry, and
with replicas DATABASE_READONLY_URL (through PgBouncer when pooled), DATABASE_READONLY_DIRECT_URL
and PG*_READONLY (direct).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import asdict, dataclass
from urllib.parse import quote, urlencode

from devenv.errors import DevenvError
from devenv.model.replicas import readonly_entry, replica_port, replicas_of
from devenv.model.secrets import Secrets
from devenv.model.stack import ServerSpec, ServiceSpec, Stack
from devenv.model.templates import TemplateProblem, render_user


def host_of(server: ServerSpec) -> str:
    """Where a process on this machine reaches the server: the bind address, or loopback."""
    return "127.0.0.1" if server.bind in ("0.0.0.0", "::", "") else server.bind


def port_of(server: ServerSpec, ports: dict[str, int]) -> int:
    if server.port is not None:
        return server.port
    try:
        return ports[server.name]
    except KeyError:
        raise DevenvError(f"server '{server.name}' has port: auto and no port was chosen yet",
                          hint="run `devenv up`") from None


def pg_url(user: str, password: str, host: str, port: int, database: str) -> str:
    return pg_multi_url(user, password, [(host, port)], database)


def pg_multi_url(user: str, password: str, hosts: list[tuple[str, int]], database: str,
                 params: dict[str, str] | None = None) -> str:
    """A libpq URL with one or more `host:port` (libpq 10+ tries them in order; IPv6 hosts in
    brackets) and optional query parameters: each part quoted on its own, never spliced."""
    netloc = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in hosts)
    query = f"?{urlencode(params)}" if params else ""
    return (f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{netloc}/"
            f"{quote(database, safe='')}{query}")


@dataclass(frozen=True)
class DbFacts:
    host: str
    port: int
    name: str
    user: str
    password: str
    url: str
    direct_url: str
    pooled: bool


@dataclass(frozen=True)
class RedisFacts:
    host: str
    port: int
    user: str
    password: str
    url: str
    prefix: str


def db_facts(stack: Stack, svc: ServiceSpec, secrets: Secrets, ports: dict[str, int],
             *, database: str | None = None) -> DbFacts | None:
    if svc.server is None or svc.role is None or svc.database is None:
        return None
    server = stack.servers[svc.server]
    password = secrets.get(server.name, svc.role)
    name = database or svc.database
    host, port = host_of(server), port_of(server, ports)
    direct = pg_url(svc.role, password, host, port, name)
    url = direct
    if svc.pgbouncer and database is None:
        pool = stack.servers[svc.pgbouncer]
        url = pg_url(svc.role, password, host_of(pool), port_of(pool, ports), name)
    return DbFacts(host, port, name, svc.role, password, url, direct, url != direct)


def replica_endpoints(server: ServerSpec, ports: dict[str, int]) -> list[tuple[str, int]]:
    """(host, port) of each read replica of a server: the manifest's ports, or chosen by
    `up` (`auto`)."""
    out = []
    for replica in replicas_of(server):
        port = replica_port(replica, ports)
        if port is None:
            raise DevenvError(f"replica '{replica.name}' has no port yet", hint="run `devenv up`")
        out.append((host_of(server), port))
    return out


def readonly_vars(stack: Stack, svc: ServiceSpec, secrets: Secrets, ports: dict[str, int],
                  *, database: str | None = None) -> dict[str, str]:
    """The service's role and database on its server's replicas.

    DATABASE_READONLY_DIRECT_URL and PG*_READONLY reach the replicas themselves; several
    replicas make one libpq multi-host URL that prefers a standby
    (target_session_attrs=prefer-standby, libpq 14+), so drivers that support it spread reads.
    DATABASE_READONLY_URL is that direct URL, or for a pooled service the PgBouncer entry
    `<database>_readonly` (which spreads over the replicas itself); a clone (`database`) has no
    PgBouncer entry, so its read-only URL is direct, like its DATABASE_URL."""
    if svc.server is None or svc.role is None or svc.database is None:
        return {}
    server = stack.servers[svc.server]
    if not server.replicas:
        return {}
    hosts = replica_endpoints(server, ports)
    password = secrets.get(server.name, svc.role)
    name = database or svc.database
    params = {"target_session_attrs": "prefer-standby"} if len(hosts) > 1 else None
    direct = pg_multi_url(svc.role, password, hosts, name, params)
    url = direct
    if svc.pgbouncer and database is None:
        pool = stack.servers[svc.pgbouncer]
        url = pg_url(svc.role, password, host_of(pool), port_of(pool, ports),
                     readonly_entry(name))
    return {"DATABASE_READONLY_URL": url,
            "DATABASE_READONLY_DIRECT_URL": direct,
            "PGHOST_READONLY": ",".join(h for h, _ in hosts),
            "PGPORT_READONLY": ",".join(str(p) for _, p in hosts)}


PEOPLE_ROLES = ("admin", "migration")


def role_facts(stack: Stack, svc: ServiceSpec, secrets: Secrets, ports: dict[str, int],
               role: str) -> DbFacts:
    """The manifest's `roles.admin` or `roles.migration` on a service's database, direct to the
    server: PgBouncer's userlist holds only service roles, and these are for people and
    migration tools, which want a session of their own anyway."""
    name = {"admin": stack.admin_role, "migration": stack.migration_role}[role]
    if name is None:
        raise DevenvError(f"{stack.manifest_name} declares no {role} role",
                          hint=f"add `roles: {{{role}: NAME}}` to {stack.manifest_name} and "
                          "run `devenv up`")
    if svc.server is None or svc.database is None:
        raise DevenvError(f"service '{svc.name}' has no database",
                          hint=f"add `postgres: true` to services.{svc.name}")
    server = stack.servers[svc.server]
    password = secrets.get(server.name, name)
    host, port = host_of(server), port_of(server, ports)
    url = pg_url(name, password, host, port, svc.database)
    return DbFacts(host, port, svc.database, name, password, url, url, False)


def database_service(stack: Stack, name: str | None) -> ServiceSpec:
    """The service named, or the first one with a database (for --role without SERVICE)."""
    if name is not None:
        if name not in stack.services:
            raise DevenvError(f"no service named '{name}' in {stack.manifest_name} "
                              f"(services: {', '.join(stack.services)})")
        return stack.services[name]
    for svc in stack.services.values():
        if svc.database is not None:
            return svc
    raise DevenvError(f"no service of {stack.manifest_name} has a database",
                      hint="add `postgres: true` to a service")


def role_env_vars(db: DbFacts) -> dict[str, str]:
    """What `devenv env --role ...` prints: the URL and libpq's variables, nothing else (the
    service's Redis user and templates belong to the service, not to this role)."""
    return {"DATABASE_URL": db.url, "PGHOST": db.host, "PGPORT": str(db.port),
            "PGDATABASE": db.name, "PGUSER": db.user, "PGPASSWORD": db.password}


def redis_facts(stack: Stack, svc: ServiceSpec, secrets: Secrets,
                ports: dict[str, int]) -> RedisFacts | None:
    if svc.redis is None:
        return None
    server = stack.servers[svc.redis]
    password = secrets.get(server.name, svc.name)
    host, port = host_of(server), port_of(server, ports)
    url = f"redis://{quote(svc.name, safe='')}:{quote(password, safe='')}@{host}:{port}/0"
    return RedisFacts(host, port, svc.name, password, url, svc.key_prefix)


def env_vars(stack: Stack, svc: ServiceSpec, secrets: Secrets, ports: dict[str, int],
             *, database: str | None = None, templates: bool = True,
             readonly: dict[str, str] | None = None) -> dict[str, str]:
    """The service's variables; `database` points them at another database (a clone).

    `templates=False`: devenv's own variables only, without rendering the manifest's `env:`
    templates (jinja2's import and compile, ~70 ms: `up`'s summary shows only the URLs).
    `readonly`: the read-only variables where they are not the local replicas (the Kubernetes
    export's CNPG Services and Pooler), before the templates see them."""
    out: dict[str, str] = {}
    db = db_facts(stack, svc, secrets, ports, database=database)
    if db is not None:
        out.update(
            DATABASE_URL=db.url,
            DATABASE_DIRECT_URL=db.direct_url,
            PGHOST=db.host,
            PGPORT=str(db.port),
            PGDATABASE=db.name,
            PGUSER=db.user,
            PGPASSWORD=db.password,
        )
        for other in svc.reads:
            target = stack.services[other]
            assert target.database is not None
            read = db_facts(stack, svc, secrets, ports, database=target.database)
            assert read is not None
            out[f"{other.upper()}_DATABASE_URL"] = read.direct_url
        out.update(readonly if readonly is not None
                   else readonly_vars(stack, svc, secrets, ports, database=database))
    redis = redis_facts(stack, svc, secrets, ports)
    if redis is not None:
        out.update(REDIS_URL=redis.url, REDIS_KEY_PREFIX=redis.prefix)
    if not templates:
        return out
    context = {
        "service": svc.name,
        "project": stack.project,
        "environment": stack.environment,
        "db": asdict(db) if db else None,
        "redis": asdict(redis) if redis else None,
        "env": dict(out),
    }
    for name, template in svc.env:
        try:
            out[name] = render_user(template, context)
        except TemplateProblem as exc:
            raise DevenvError(
                f"{stack.source}: services.{svc.name}.env.{name}: template error: {exc}",
                hint="templates see: service, project, environment, db.{host,port,name,user,"
                "password,url,direct_url,pooled}, redis.{host,port,user,password,url,prefix}, env",
            ) from None
    return out


_PLAIN = re.compile(r"^[A-Za-z0-9_./:@%+,=-]*$")


def _dotenv_value(value: str) -> str:
    if _PLAIN.match(value):
        return value
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("$", "\\$"))
    return f'"{escaped}"'


def format_env(variables: dict[str, str], fmt: str, *, header: str = "") -> str:
    if fmt == "json":
        return json.dumps(variables, indent=2) + "\n"
    if fmt == "shell":
        return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in variables.items())
    return header + "".join(f"{k}={_dotenv_value(v)}\n" for k, v in variables.items())
