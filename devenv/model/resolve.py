"""Resolve a parsed manifest into a `Stack`: every default filled in, every reference checked.

Pure: computed from the manifest alone, no Docker, no sockets, no clock, no file writes.
"""

from __future__ import annotations

from pathlib import Path

from devenv.errors import DevenvError
from devenv.model import extensions
from devenv.model import manifest as m
from devenv.model.extensions import IMPLIED_PRELOAD
from devenv.model.images import data_mount, major_from_tag
from devenv.model.kinds import KINDS, kinds_of
from devenv.model.kinds.pgbouncer import CONSOLE_USER
from devenv.model.kinds.postgres import Postgres
from devenv.model.replicas import READONLY_SUFFIX, REPLICATION_ROLE, replicas_of
from devenv.model.stack import (
    ADMIN_USER,
    EXTENSION_NAME,
    LEDGER_SCHEMA,
    PRELOAD,
    STATE_DIR,
    MigrationsSpec,
    Pool,
    ServerSpec,
    ServiceSpec,
    Stack,
)
from devenv.model.templates import TemplateProblem, render_user
from devenv.model.yamlio import KeyPath


def load_stack(path: Path, *, display: str | None = None) -> Stack:
    manifest, located = m.load(path, display=display)
    return resolve(manifest, located, root=path.parent.resolve())


def resolve(manifest: m.Manifest, located: m.Located, *, root: Path) -> Stack:
    return _Resolver(manifest, located, root).run()


class _Resolver:
    def __init__(self, manifest: m.Manifest, located: m.Located, root: Path) -> None:
        self.mf = manifest
        self.at = located
        self.root = root
        self.problems: list[str] = []
        self.kinds: dict[str, str] = {name: s.kind for name, s in manifest.servers.items()}
        self.targets: dict[str, str | None] = {}

    def fail(self, path: KeyPath, text: str) -> None:
        self.problems.append(self.at.message(path, text))

    def run(self) -> Stack:
        self._implicit_servers()
        self._pgbouncer_targets()
        services = {name: self._service(name, svc) for name, svc in self.mf.services.items()}
        self._unique_names(services)
        self._reserved(services)
        self._paths(services)
        servers = self._servers(services)
        self._replica_names(servers)
        self._extensions(servers, services)
        if self.problems:
            raise DevenvError(
                "\n".join(self.problems), hint=f"fix {self.at.source}; no file was changed"
            )
        return Stack(
            project=self.mf.project,
            environment=self.mf.environment,
            root=self.root,
            source=self.at.source,
            compose_dir=Path(self.mf.compose_dir),
            servers=servers,
            services=services,
            migration_role=self.mf.roles.migration,
            admin_role=self.mf.roles.admin,
            naming_database=self.mf.naming.database,
            naming_role=self.mf.naming.role,
            env_example=None if self.mf.env_example is False else Path(self.mf.env_example),
            port_base=self.mf.ports.base if self.mf.ports else None,
        )

    # -- servers -------------------------------------------------------------------------
    def _of_kind(self, *kinds: str) -> list[str]:
        return [name for name, kind in self.kinds.items() if kind in kinds]

    def _implicit_servers(self) -> None:
        """A service saying `postgres: true` or `redis: true` gets a server without declaring it."""
        wants_pg = any(s.postgres is True for s in self.mf.services.values())
        if wants_pg and not self._of_kind(*kinds_of("postgres")):
            self.kinds.setdefault("postgres", "postgres")
        if any(s.redis is True for s in self.mf.services.values()) and \
                not self._of_kind(*kinds_of("redis")):
            self.kinds.setdefault("redis", "redis")

    def _pgbouncer_targets(self) -> None:
        """An optional `target` restricts a PgBouncer to one server's databases."""
        for name, server in self.mf.servers.items():
            if not isinstance(server, m.PgBouncerServer):
                continue
            self.targets[name] = None
            if server.target is None:
                continue
            path = ("servers", name, "target")
            if server.target not in self.kinds:
                self.fail(path, f"no server named '{server.target}' ({self._listing()})")
            elif self.kinds[server.target] not in kinds_of("postgres"):
                self.fail(path, f"'{server.target}' is a {self.kinds[server.target]} server; "
                          "PgBouncer pools a postgres or timescaledb server")
            else:
                self.targets[name] = server.target

    def _listing(self, *kinds: str) -> str:
        names = self._of_kind(*kinds) if kinds else list(self.kinds)
        label = "/".join(kinds) + " servers" if kinds else "servers"
        return f"{label}: " + (", ".join(names) if names else "none")

    def _pick(self, path: KeyPath, ref: bool | str, kinds: tuple[str, ...],
              what: str) -> str | None:
        if ref is False:
            return None
        if ref is True:
            found = self._of_kind(*kinds)
            if len(found) == 1:
                return found[0]
            if not found:
                # The implicit server's name is taken by a server of another kind.
                self.fail(path, f"no {what} server, and '{path[-1]}' names a "
                          f"{self.kinds[str(path[-1])]} server; declare a {what} server "
                          "under 'servers' and name it here")
                return None
            self.fail(path, f"several {what} servers ({', '.join(found)}): name one, "
                      f"e.g. '{path[-1]}: {found[0]}'")
            return None
        if ref not in self.kinds:
            self.fail(path, f"no server named '{ref}' ({self._listing(*kinds)})")
            return None
        if self.kinds[ref] not in kinds:
            self.fail(path, f"'{ref}' is a {self.kinds[ref]} server, not a {what} server "
                      f"({self._listing(*kinds)})")
            return None
        return ref

    def _servers(self, services: dict[str, ServiceSpec]) -> dict[str, ServerSpec]:
        used: dict[int, str] = {}  # host port -> "server 'x'" / "replica 'x-replica-1'"
        for name, server in self.mf.servers.items():
            taken: list[tuple[KeyPath, object, str]] = [
                (("servers", name, "port"), server.port, f"server '{name}'")]
            if isinstance(server, m.PostgresServer):
                taken += [(("servers", name, "replicas", i, "port"), replica.port,
                           f"replica '{name}-replica-{i + 1}'")
                          for i, replica in enumerate(server.replicas)]
            for path, fixed, who in taken:
                if not isinstance(fixed, int):
                    continue  # auto, or the kind's default (counted up past these below)
                if fixed in used:
                    replica = who.startswith("replica ") or used[fixed].startswith("replica ")
                    each = "server and replica" if replica else "server"
                    self.fail(path, f"host port {fixed} is already used by {used[fixed]}; "
                              f"give each {each} its own port")
                used.setdefault(fixed, who)
        out: dict[str, ServerSpec] = {}
        for name, kind in self.kinds.items():
            declared = self.mf.servers.get(name)
            port: int | None
            if (declared is not None and declared.port == "auto") or (
                    self.mf.ports is not None and (declared is None or declared.port is None)):
                port = None  # chosen once by `up` (from ports.base when set) and kept
            elif declared is not None and isinstance(declared.port, int):
                port = declared.port
            else:
                port = KINDS[kind].port
                while port in used:
                    port += 1
                used[port] = f"server '{name}'"
            image = (declared.image if declared else None) or KINDS[kind].image
            common = {
                "name": name,
                "kind": kind,
                "family": KINDS[kind].family,
                "image": image,
                "port": port,
                "bind": declared.bind if declared else "127.0.0.1",
                "container_port": KINDS[kind].port,
            }
            if KINDS[kind].family == "postgres":
                assert declared is None or isinstance(declared, m.PostgresServer)
                major = major_from_tag(image)
                given = declared.data_dir if declared else None
                out[name] = ServerSpec(
                    **common,  # type: ignore[arg-type]
                    settings=tuple(sorted((k, _setting(v)) for k, v in
                                          (declared.settings if declared else {}).items())),
                    data_dir=given or data_mount(major),
                    data_dir_given=given is not None,
                    storage=declared.storage if declared else "volume",
                    clone_memory=declared.clone_memory if declared else "512m",
                    tmpfs_size=declared.tmpfs_size if declared else "2g",
                    preload=self._preload(name, kind, services),
                    pg_major=major,
                    replicas=len(declared.replicas) if declared else 0,
                    replica_ports=tuple(None if r.port == "auto" else r.port
                                        for r in declared.replicas) if declared else (),
                    replica_delay=declared.replica_delay if declared else None,
                )
            elif KINDS[kind].family == "redis":
                redis = declared if isinstance(declared, m.RedisServer) else None
                out[name] = ServerSpec(**common,  # type: ignore[arg-type]
                                       persistence=redis.persistence if redis else "aof",
                                       search=redis.search if redis else False)
            else:
                assert isinstance(declared, m.PgBouncerServer) or declared is None
                pool = declared or m.PgBouncerServer(kind="pgbouncer")
                out[name] = ServerSpec(
                    **common,  # type: ignore[arg-type]
                    target=self.targets.get(name),
                    pool=Pool(pool.pool_mode, pool.default_pool_size, pool.min_pool_size,
                              pool.reserve_pool_size, pool.max_client_conn),
                )
        return out

    def _replica_names(self, servers: dict[str, ServerSpec]) -> None:
        for server in servers.values():
            for replica in replicas_of(server):
                if replica.name in servers:
                    self.fail(("servers", server.name, "replicas"), f"replica "
                              f"'{replica.name}' would have the name of server '{replica.name}'; "
                              "rename that server")

    def _preload(self, server: str, kind: str, services: dict[str, ServiceSpec]) -> tuple[str, ...]:
        family = KINDS[kind]
        wanted = set(family.preload) if isinstance(family, Postgres) else set()
        for svc in services.values():
            if svc.server == server:
                wanted.update(e for e in svc.extensions if e in PRELOAD)
                for ext in svc.extensions:
                    wanted.update(IMPLIED_PRELOAD.get(ext, ()))
        return tuple(lib for lib in PRELOAD if lib in wanted)

    def _extensions(self, servers: dict[str, ServerSpec],
                    services: dict[str, ServiceSpec]) -> None:
        """Every listed extension can exist in the image its server will run (shipped, or built
        in by devenv) and may be where it is listed. Checked here, before any file is written
        or container touched; an image devenv does not know is checked on the image itself
        before it starts (devenv.engine.images.check_contents)."""
        holder: dict[tuple[str, str], str] = {}  # (server, one-database extension) -> service
        for name, svc in self.mf.services.items():
            spec = services[name]
            if spec.server is None or spec.server not in servers:
                continue
            server = servers[spec.server]
            offered = extensions.offered(server.image)
            for index, ext in enumerate(svc.extensions):
                path: KeyPath = ("services", name, "extensions", index)
                if not EXTENSION_NAME.match(ext):
                    continue  # said by _service
                if offered is not None and ext not in offered:
                    self.fail(path, _not_offered(ext, server, offered))
                    continue
                if ext in extensions.ONE_DATABASE:
                    first = holder.setdefault((server.name, ext), name)
                    if first != name:
                        self.fail(path, f"{ext} lives in one database per server "
                                  f"(cron.database_name) and services.{first} already has it "
                                  f"on server '{server.name}'; list it in one service only, "
                                  "or give this service a server of its own")

    # -- services ------------------------------------------------------------------------
    def _service(self, name: str, svc: m.Service) -> ServiceSpec:
        base: KeyPath = ("services", name)
        server = self._pick((*base, "postgres"), svc.postgres, kinds_of("postgres"), "postgres")
        has_db = svc.postgres is not False
        database = role = None
        if has_db:
            database = svc.database or self._pattern("database", name)
            role = svc.role or self._pattern("role", name)
        else:
            for key in ("database", "role", "extensions", "pgbouncer", "reads", "migrations"):
                if getattr(svc, key):
                    self.fail((*base, key), "the service has no database; add 'postgres: true'")
        for index, ext in enumerate(svc.extensions):
            if not EXTENSION_NAME.match(ext):
                self.fail((*base, "extensions", index), f"{ext!r} is not an extension name")
        pool = self._pool(name, svc, server) if has_db and svc.pgbouncer is not False else None
        redis = self._pick((*base, "redis"), svc.redis, kinds_of("redis"), "redis/valkey")
        self._check_reads(name, svc)
        self._check_templates(name, svc)
        mig = svc.migrations or m.Migrations()
        migrations = None
        if has_db:
            migrations = MigrationsSpec(
                path=None if mig.command else Path(mig.path or f"migrations/{name}"),
                command=mig.command,
                cwd=Path(mig.cwd),
                out_of_order=mig.out_of_order,
                explicit=svc.migrations is not None,
            )
        return ServiceSpec(
            name=name,
            server=server,
            database=database,
            role=role,
            extensions=tuple(dict.fromkeys(svc.extensions)),
            pgbouncer=pool,
            reads=tuple(svc.reads),
            redis=redis,
            migrations=migrations,
            seeds=Path(svc.seeds or f"seeds/{name}") if has_db else None,
            seeds_explicit=svc.seeds is not None,
            env_file=Path(svc.env_file or f"{STATE_DIR}/env/{name}.env"),
            env=tuple(svc.env.items()),
        )

    def _pattern(self, which: str, service: str) -> str | None:
        pattern = getattr(self.mf.naming, which)
        try:
            value = str(pattern).format(
                service=service, project=self.mf.project.replace("-", "_"),
                environment=self.mf.environment,
            )
            return m.check_identifier(value)
        except (KeyError, IndexError, AttributeError, ValueError) as exc:
            known = "placeholders: {service}, {project}, {environment}"
            if isinstance(exc, KeyError):
                text = f"unknown placeholder '{{{exc.args[0]}}}'; {known}"
            elif isinstance(exc, IndexError | AttributeError):
                text = f"{pattern!r} is not a valid pattern; {known}"
            else:
                text = str(exc)
            message = self.at.message(("naming", which), text)
            if message not in self.problems:
                self.problems.append(message)
            return None

    def _pool(self, name: str, svc: m.Service, server: str | None) -> str | None:
        path: KeyPath = ("services", name, "pgbouncer")
        if svc.pgbouncer is True:
            pools = [p for p, t in self.targets.items() if t in (None, server)]
            if len(pools) == 1:
                return pools[0]
            if len(pools) > 1:
                self.fail(path, f"several pgbouncer servers ({', '.join(pools)}): name one")
                return None
            self.kinds.setdefault("pgbouncer", "pgbouncer")
            if self.kinds["pgbouncer"] != "pgbouncer":
                self.fail(path, "no pgbouncer server, and 'pgbouncer' names another server")
                return None
            self.targets["pgbouncer"] = None
            return "pgbouncer"
        ref = str(svc.pgbouncer)
        if ref not in self.kinds:
            self.fail(path, f"no server named '{ref}' ({self._listing('pgbouncer')})")
        elif self.kinds[ref] != "pgbouncer":
            self.fail(path, f"'{ref}' is a {self.kinds[ref]} server, not a pgbouncer server "
                      f"({self._listing('pgbouncer')})")
        elif server is not None and self.targets.get(ref) not in (None, server):
            self.fail(path, f"'{ref}' pools only server '{self.targets[ref]}', but the "
                      f"service's database is on '{server}'")
        else:
            return ref
        return None

    def _check_reads(self, name: str, svc: m.Service) -> None:
        for index, other in enumerate(svc.reads):
            path: KeyPath = ("services", name, "reads", index)
            target = self.mf.services.get(other)
            if target is None:
                names = ", ".join(s for s in self.mf.services if s != name) or "none"
                self.fail(path, f"no service named '{other}' (services: {names})")
            elif other == name:
                self.fail(path, "a service always reads its own database")
            elif target.postgres is False:
                self.fail(path, f"service '{other}' has no database")

    def _check_templates(self, name: str, svc: m.Service) -> None:
        """Render each template against placeholder facts: a typo fails here, not at `up`."""
        db = dict.fromkeys(("host", "name", "user", "password", "url", "direct_url"), "x")
        redis = dict.fromkeys(("host", "user", "password", "url", "prefix"), "x")
        context = {
            "service": name, "project": self.mf.project, "environment": self.mf.environment,
            "db": {**db, "port": 5432, "pooled": False} if svc.postgres is not False else None,
            "redis": {**redis, "port": 6379} if svc.redis is not False else None,
            "env": {},
        }
        for key, template in svc.env.items():
            try:
                render_user(template, context)
            except TemplateProblem as exc:
                seen = "" if exc.syntax else (" (templates see service, project, environment, "
                                              "db.*, redis.*, env)")
                self.fail(("services", name, "env", key), f"template error: {exc}{seen}")

    def _unique_names(self, services: dict[str, ServiceSpec]) -> None:
        seen: dict[tuple[str, str, str], str] = {}
        for svc in services.values():
            if svc.server is None:
                continue
            for what, value in (("database", svc.database), ("role", svc.role)):
                if value is None:
                    continue
                key = (svc.server, what, value)
                if key in seen:
                    self.fail(("services", svc.name, what), f"{what} '{value}' is also used by "
                              f"service '{seen[key]}' on server '{svc.server}'")
                seen.setdefault(key, svc.name)
                if value == LEDGER_SCHEMA and what == "role":
                    # Its "$user" schema would be the ledger's schema, first in its search_path.
                    self.fail(("services", svc.name, what), f"'{LEDGER_SCHEMA}' is the schema "
                              "of devenv's migration ledger; give the role another name")
        # reads across servers are impossible: one server cannot read another's database
        for svc in services.values():
            for index, other in enumerate(svc.reads):
                target = services.get(other)
                if target and target.server and svc.server and target.server != svc.server:
                    self.fail(("services", svc.name, "reads", index),
                              f"'{other}' is on server '{target.server}', '{svc.name}' on "
                              f"'{svc.server}'; reads need both databases on one server")


    # -- names PostgreSQL or devenv keep for themselves (issue 14) ---------------------------
    def _reserved(self, services: dict[str, ServiceSpec]) -> None:
        databases = {s.database: s.name for s in services.values() if s.database}
        for svc in services.values():
            given = self.mf.services[svc.name]
            path = self._derived(svc.name, "database", given.database)
            if svc.database in RESERVED_DATABASES:
                self.fail(path, f"'{svc.database}' is PostgreSQL's own database; give the "
                          "service a database of its own")
            elif svc.database == CONSOLE_DATABASE:
                self.fail(path, f"'{svc.database}' is PgBouncer's admin console; give the "
                          "service another database name")
            elif svc.database and svc.database.endswith(READONLY_SUFFIX) and (
                    owner := databases.get(svc.database.removesuffix(READONLY_SUFFIX))):
                self.fail(path, f"'{svc.database}' is the name of the PgBouncer entry for the "
                          f"reads of service '{owner}' on its server's replicas "
                          f"(`<database>{READONLY_SUFFIX}`); give the database another name")
            if svc.role is not None and (problem := reserved_role(svc.role)):
                self.fail(self._derived(svc.name, "role", given.role), problem)
            if svc.redis is not None and svc.name in RESERVED_REDIS_USERS:
                self.fail(("services", svc.name), f"'{svc.name}' is Redis's own admin user, "
                          "and a service's ACL user takes the service's name (Redis would stop "
                          "with \"Duplicate user\"); rename the service")
        roles = self.mf.roles
        service_roles = {s.role: s.name for s in services.values() if s.role}
        for which in ("migration", "admin"):
            name = getattr(roles, which)
            if name is None:
                continue
            if problem := reserved_role(name):
                self.fail(("roles", which), problem)
            elif name in service_roles:
                self.fail(("roles", which), f"'{name}' is also the role of service "
                          f"'{service_roles[name]}'; the {which} role must be a role of its own")
        if roles.migration is not None and roles.migration == roles.admin:
            self.fail(("roles", "admin"), f"'{roles.admin}' is also roles.migration; the two "
                      "have different rights (CREATEDB, CREATEROLE): name them differently")

    def _derived(self, service: str, what: str, given: str | None) -> KeyPath:
        """Where a service's database or role name comes from: its own key, the naming
        pattern, or (no pattern in the manifest: `{service}`) the service's name."""
        if given:
            return ("services", service, what)
        if what in self.mf.naming.model_fields_set:
            return ("naming", what)
        return ("services", service)

    # -- where devenv writes: inside the project, never over a file it did not make -----------
    def _paths(self, services: dict[str, ServiceSpec]) -> None:
        manifest = (self.root / Path(self.at.source).name).resolve()
        state = (self.root / STATE_DIR).resolve()
        compose = self._inside(("compose_dir",), Path(self.mf.compose_dir), "compose_dir")
        if compose is not None and (compose == self.root.resolve() or compose == state
                                    or compose.is_relative_to(state)):
            self.fail(("compose_dir",), f"'{self.mf.compose_dir}' would mix generated compose "
                      "files with the project's own or devenv's private ones; use a folder of "
                      "its own such as 'compose'")
        seen: dict[Path, str] = {}
        read = self._read_folders(services)
        if self.mf.env_example is not False:
            example = self._inside(("env_example",), Path(self.mf.env_example), "env_example")
            if example is not None and (example == manifest or example.is_relative_to(state)
                                        or (compose is not None
                                            and example.is_relative_to(compose))):
                self.fail(("env_example",), f"'{self.mf.env_example}' is a file or folder "
                          "devenv reads or generates; use '.env.example'")
            elif example is not None:
                seen[example] = "env_example"
        for svc in services.values():
            path = ("services", svc.name, "env_file")
            target = self._inside(path, svc.env_file, "env_file")
            if target is None:
                continue
            holder = next(((shown, what) for folder, shown, what in read
                           if target.is_relative_to(folder)), None)
            if target == manifest or (compose is not None and target.is_relative_to(compose)) \
                    or (target.parent == state and target.name in STATE_FILES):
                self.fail(path, f"'{svc.env_file}' is a file devenv reads or generates; "
                          f"use e.g. '{STATE_DIR}/env/{svc.name}.env'")
            elif holder is not None:
                shown, what = holder
                self.fail(path, f"'{svc.env_file}' is inside {what} ('{shown}'): its "
                          "passwords would be run or loaded as one of its files, or shipped "
                          f"with them; use e.g. '{STATE_DIR}/env/{svc.name}.env'")
            elif target in seen:
                self.fail(path, f"'{svc.env_file}' is also " + (
                    "env_example" if seen[target] == "env_example" else
                    f"the env_file of service '{seen[target]}'"))
            seen.setdefault(target, svc.name)

    def _read_folders(self, services: dict[str, ServiceSpec]
                      ) -> list[tuple[Path, Path, str]]:
        """Folders devenv reads files from as migrations or seeds (any file there may be run:
        b's .env written as migrations/a/V9__env.sql became a's migration, issue 27 item 16),
        and a migration command's working directory when it is not the project itself (the
        Kubernetes export copies it into the migrate image)."""
        root = self.root.resolve()
        state = (root / STATE_DIR).resolve()
        folders: list[tuple[Path, Path, str]] = []
        for svc in services.values():
            mig = svc.migrations
            found: list[tuple[KeyPath, Path, str]] = []
            if mig is not None and mig.path is not None:
                found.append((("services", svc.name, "migrations"), mig.path,
                              f"the migrations folder of service '{svc.name}'"))
            if mig is not None and mig.command is not None and (root / mig.cwd).resolve() != root:
                found.append((("services", svc.name, "migrations", "cwd"), mig.cwd,
                              f"the working directory of the migration command of service "
                              f"'{svc.name}'"))
            if svc.seeds is not None:
                found.append((("services", svc.name, "seeds"), svc.seeds,
                              f"the seeds folder of service '{svc.name}'"))
            for key, folder, what in found:
                target = (root / folder).resolve()
                if target == state or target.is_relative_to(state):
                    # the env files and passwords live there: any file may be run or shipped
                    self.fail(key, f"'{folder}' is inside {STATE_DIR}/, devenv's private folder "
                              "(local passwords); keep migrations and seeds in a folder of "
                              "their own")
                else:
                    folders.append((target, folder, what))
        return folders

    def _inside(self, path: KeyPath, value: Path, what: str) -> Path | None:
        """`value` resolved against the project; None (and a problem) when it leaves it."""
        root = self.root.resolve()
        target = (root / value).resolve()
        if value.is_absolute() or not target.is_relative_to(root):
            self.fail(path, f"'{value}' is outside the project: devenv writes only under "
                      f"{root.name}/ (a relative path such as '{STATE_DIR}/env/x.env')")
            return None
        return target


# PostgreSQL's own databases: a service owning one takes over the server (template1 is copied
# into every new database; postgres is where the admin and devenv's locks live).
RESERVED_DATABASES = ("postgres", "template0", "template1")
# Role names PostgreSQL refuses or gives a meaning of its own (pg_* are predefined roles).
RESERVED_ROLES = ("postgres", "public", "none", "current_user", "current_role", "session_user")
# PgBouncer's admin console is a database of this name on every PgBouncer.
CONSOLE_DATABASE = "pgbouncer"
# Redis's own admin user; a service's ACL user is named after the service.
RESERVED_REDIS_USERS = ("default",)
# devenv's private files in .devenv/ that no env_file may replace.
STATE_FILES = ("secrets.json", "state.json", "stack.cache", "compose.env", "lock",
               "standby.sock", "standby.lock", "spares.log")


def _not_offered(ext: str, server: ServerSpec, offered: frozenset[str]) -> str:
    """Why `ext` cannot be on `server`, and what to set instead."""
    image = server.image
    if extensions.timescale_image(image) and ext in extensions.PACKAGES:
        return (f"extension '{ext}' is not in image {image} (Alpine: devenv cannot add "
                f"packages to it). For timescaledb and {ext} in one database, put this service on "
                "a `kind: postgres` server and list timescaledb among its extensions: devenv "
                "builds both into the official image (TimescaleDB's Apache-2 edition); or set "
                f"servers.{server.name}.image to an image that ships {ext}")
    close = extensions.close_matches(ext, offered)
    near = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    built = ("" if close or not extensions.extensible(image) else
             f" (devenv builds in: {', '.join(sorted(extensions.PACKAGES))}; contrib is in it)")
    return f"extension '{ext}' is not in image {image} and devenv cannot build it in{near}{built}"


def reserved_role(name: str) -> str | None:
    if name == ADMIN_USER:
        return f"'{name}' is the admin role"
    if name == CONSOLE_USER:
        return (f"'{name}' is PgBouncer's admin console user (its password would open the "
                "console: SHOW USERS, PAUSE); choose another name")
    if name == REPLICATION_ROLE:
        return f"'{name}' is the role devenv's read replicas stream as"
    if name in RESERVED_ROLES or name.startswith("pg_"):
        return (f"'{name}' is reserved by PostgreSQL (predefined roles start with 'pg_'); "
                "choose another name")
    return None


def _setting(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)
