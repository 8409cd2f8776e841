"""`devenv up` and `down`: the executor that turns a Stack into a running, provisioned stack.

Order of `up`: generate files -> start the servers the chosen services need -> wait until each
answers its protocol -> provision (roles, databases, extensions, grants) -> migrate and seed ->
probe every service with its own credentials -> write .env files. A warm `up` whose generated
files are unchanged and whose containers are healthy skips straight to the probes.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from psycopg import sql

from devenv.console import Console
from devenv.engine import (
    clonespace,
    images,
    pools,
    probes,
    provision,
    replicahealth,
    replication,
    scripts,
    start,
)
from devenv.engine import migrate as migrate_step
from devenv.engine.context import Context, attach, needed_servers, parallel, select
from devenv.engine.docker import ContainerState
from devenv.errors import DevenvError
from devenv.masking import mask, mask_url
from devenv.migrations.state import DriftError
from devenv.model import facts
from devenv.model.replicas import all_replicas
from devenv.model.scram import make_secret
from devenv.model.stack import ADMIN_USER, COMPOSE_ENV, ServerSpec, ServiceSpec, Stack
from devenv.store import passwords, state
from devenv.store.files import write_private
from devenv.store.stackcache import code_fingerprint

DEFAULT_DEADLINE = 120.0


def disk_fingerprint(stack: Stack, services: list[ServiceSpec]) -> str:
    """A hash of everything a cold `up` derives the stack from, read from disk only.

    The manifest, devenv's code, the passwords and ports in .devenv/, the generated files
    and the .env files: when none changed since the last good `up`, rendering, compose and
    provisioning would all be no-ops, so a warm `up` skips them.
    """
    root = stack.root
    paths = [root / stack.manifest_name, root / stack.state_dir / passwords.SECRETS_FILE]
    compose_dir = root / stack.compose_dir
    if compose_dir.is_dir():
        paths += sorted(p for p in compose_dir.rglob("*") if p.is_file())
    secret_dir = root / stack.state_dir / "secrets"
    if secret_dir.is_dir():
        paths += sorted(p for p in secret_dir.rglob("*") if p.is_file())
    paths.append(root / stack.state_dir / COMPOSE_ENV)
    paths += [root / s.env_file for s in services]
    digest = hashlib.sha256(f"{code_fingerprint()}\0{[s.name for s in services]}\0".encode())
    for path in paths:
        try:
            content = path.read_bytes()
        except OSError:
            content = b"\0missing"
        digest.update(str(path).encode() + b"\0" + content + b"\0")
    return digest.hexdigest()


def up(stack: Stack, console: Console, *, names: list[str], deadline_s: float = DEFAULT_DEADLINE,
       migrate: bool = True, resync: bool = False,
       provisioned: Callable[[Context], object] | None = None,
       launched: start.Launch | None = None) -> Context:
    """Bring the services' servers up; `provisioned`: work that needs the database servers'
    roles and nothing else (the pytest plugin's template build). A cold `up` starts it on a
    thread of its own as soon as every server has them, beside the databases, grants, the
    replicas' catch-up, the credential checks and the env files, and finishes it before
    returning; a warm one runs it last.

    `launched`: start.launch of these `names`, its containers being started. This `up` takes
    over its project lock and goes on from there (the pytest plugin's cold start).
    """
    started = time.perf_counter()
    services = select(stack, names)
    servers = needed_servers(stack, services)
    if launched is not None and (launched.names != names or migrate or resync):
        launched.abandon()
        launched = None
    if launched is None:
        start.refuse_foreign_env_files(stack, services)
    ahead: list[Future[object]] = []
    lock = launched.lock if launched is not None else state.ProjectLock.take(stack)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            current = state.load(stack)
            warm_ctx = None if resync or launched is not None else _warm_context(
                stack, console, services, servers, current, migrate=migrate)
            ctx, todo = warm_ctx if warm_ctx is not None else (None, None)
            warm = ctx is not None
            if ctx is None:
                then = (None if provisioned is None else
                        lambda c: ahead.append(pool.submit(provisioned, c)))
                ctx = _cold(stack, console, services, servers, then, deadline_s=deadline_s,
                            migrate=migrate, resync=resync, launched=launched)
            if migrate:
                migrate_step.run(ctx, services, todo)
            if not warm:
                _write_env_files(ctx, services)
                current = state.load(stack)
                current.fingerprint = disk_fingerprint(stack, services)
                current.covers = [s.name for s in services]
                current.verified.update(_verified(ctx, servers))
                state.save(stack, current)
            for future in ahead:
                future.result()
            if warm and provisioned is not None:
                provisioned(ctx)
    finally:
        lock.release()
    _summary(ctx, services, time.perf_counter() - started, warm=warm)
    return ctx


def _cold(stack: Stack, console: Console, services: list[ServiceSpec],
          servers: list[ServerSpec], then: Callable[[Context], None] | None, *,
          deadline_s: float, migrate: bool, resync: bool,
          launched: start.Launch | None) -> Context:
    """Start (or take over `launched`'s start), wait, provision, check credentials."""
    deadline = time.monotonic() + deadline_s
    if launched is not None:
        ctx = launched.context(console)
    else:
        if migrate:  # a bad folder fails before any password, file or container is made
            migrate_step.check_folders(stack, services)
        if not resync:
            start.refuse_lost_state(stack)
        ctx = start.begin(stack, console, servers)
    _await_servers(ctx, servers, deadline, resync=resync)
    _provision(ctx, servers, deadline, None if then is None else lambda: then(ctx),
               resync=resync)
    with contextlib.suppress(DevenvError):  # one not answering yet was just started: unpaused
        _resume_pools(ctx, servers)
    with console.step("Checking every service's credentials"):
        _probe_services(ctx, services, deadline=deadline)
    return ctx


def _resume_pools(ctx: Context, servers: list[ServerSpec]) -> None:
    """Resume the PgBouncer entries a killed `devenv reset` left paused, saying so."""
    bouncers = [s for s in servers if s.kind == "pgbouncer"]
    for notes in parallel([lambda b=b: pools.left_paused(ctx, b, resume=True)  # type: ignore[misc]
                           for b in bouncers]):
        for note in notes:
            ctx.console.warn(note)


def _warm_context(stack: Stack, console: Console, services: list[ServiceSpec],
                  servers: list[ServerSpec], current: state.State, *, migrate: bool
                  ) -> tuple[Context, list[ServiceSpec] | None] | None:
    """(Context, services with migrations or seeds to run) when the stack is exactly as the
    last good `up` left it, else None.

    "Exactly": the same manifest, passwords, ports and generated files on disk (one hash),
    every needed container running and healthy (one API call), and every service able to
    connect (through PgBouncer where pooled; directly by the migration check). Redis ACL
    users are not probed here: they come from the env file the hash covers, and compose's
    healthcheck pings Redis.
    """
    if not current.fingerprint or not _covered(stack, services, current):
        return None
    ctx = attach(stack, console)
    containers = ctx.docker.by_server()
    if not all(_healthy(containers.get(s.name)) for s in servers):
        return None
    if not all(_healthy(containers.get(r.name)) for r in all_replicas(servers)):
        return None
    try:  # before the probes: a pooled probe of a paused entry waits for ever
        _resume_pools(ctx, servers)
    except DevenvError:
        return None
    if not _probe_services(ctx, services, quick=True, direct=not migrate):
        return None
    # healthy is not enough for a replica: one that lost its slot or its primary still answers
    if not all(replicahealth.streaming(ctx, s) for s in servers if s.replicas):
        return None
    # The isolation re-check runs beside the migration survey: both are a query per server.
    if not migrate:
        _keep_isolation(ctx, servers)
        return ctx, None
    try:
        todo, _ = parallel([lambda: migrate_step.outstanding_services(ctx, services),
                            lambda: _keep_isolation(ctx, servers)])
        return ctx, todo
    except DriftError:
        raise  # the stack is fine, the files are not: a cold `up` would refuse the same way
    except DevenvError:
        return None


def _covered(stack: Stack, services: list[ServiceSpec], current: state.State) -> bool:
    """The last good `up` was of these services or more, and nothing on disk changed since.

    A state written before `covers` existed has the fingerprint of unknown services: it is
    checked against these, as it was then.
    """
    covered = ([stack.services[n] for n in current.covers if n in stack.services]
               if current.covers else services)
    if not {s.name for s in services} <= {s.name for s in covered}:
        return False
    return current.fingerprint == disk_fingerprint(stack, covered)


def _keep_isolation(ctx: Context, servers: list[ServerSpec]) -> None:
    """One catalog query per server on a warm `up`: a migration that ran `GRANT CONNECT ...
    TO PUBLIC` (or to another service) is undone and said, never silently kept."""
    def check(server: ServerSpec) -> tuple[list[str], list[str], list[str]]:
        with ctx.admin_session(server) as conn:
            drift = provision.isolation_drift(conn, ctx.stack, server)
            repaired = provision.repair_isolation(conn, ctx.stack, server) if drift else []
            # a restart (Docker's, the host's) keeps the container healthy, empties its tmpfs
            return drift, repaired, clonespace.ensure(conn, server)

    databases = [s for s in servers if s.is_database]
    for server, (drift, actions, space) in zip(databases, parallel(
            [lambda s=s: check(s) for s in databases]), strict=True):  # type: ignore[misc]
        if drift:
            ctx.console.warn(f"server '{server.name}': isolation had drifted ({'; '.join(drift)})"
                             f"; repaired: {', '.join(actions)}")
        for action in space:
            ctx.console.say(f"  {action}")


def _verified(ctx: Context, servers: list[ServerSpec]) -> dict[str, state.Verified]:
    """Every server this `up` connected to itself, by container: what `ps` and `status` show
    beside Docker's health, which says `starting` until its first healthcheck (5 s) runs. A
    warm `up` keeps the record of the cold one (same containers, nothing written)."""
    now = time.time()
    containers = ctx.docker.by_server()
    # a replica too: `up` waited until it answered as a service and replayed the primary
    names = [s.name for s in servers] + [r.name for r in all_replicas(servers)]
    return {name: state.Verified(c.id, now) for name in names
            if (c := containers.get(name)) is not None}


def _healthy(container: ContainerState | None) -> bool:
    """Running and not failing its healthcheck. "starting" (no verdict yet, for one interval
    after a start) passes: the warm path's own connections are the verdict."""
    return container is not None and container.state == "running" and container.health in (
        "healthy", "starting", "")


def _await_servers(ctx: Context, servers: list[ServerSpec], deadline: float, *,
                   resync: bool) -> None:
    """Started: now answering (after `--resync-passwords` has set the admin's password)."""
    servers = [ctx.stack.servers[s.name] for s in servers]  # with the images' own facts
    if resync:
        with ctx.console.step("Setting the passwords of .devenv/ on the servers"):
            parallel([lambda s=s: _resync_admin(ctx, s, deadline)  # type: ignore[misc]
                       for s in servers if s.is_database])
    with ctx.console.step("Waiting for the servers to answer"):
        parallel([lambda s=s: _wait_server(ctx, s, deadline)  # type: ignore[misc]
                   for s in servers if not s.is_pooler])
    images.record_majors(ctx.stack, servers)


def _resync_admin(ctx: Context, server: ServerSpec, deadline: float) -> None:
    """The admin password over the local socket; service roles follow in provisioning."""
    # Hashed here, so the password never appears in the server's log.
    hashed = make_secret(ctx.secrets.get(server.name, ADMIN_USER))
    statement = sql.SQL("ALTER ROLE {} PASSWORD {};\n").format(
        sql.Identifier(ADMIN_USER), sql.Literal(hashed))
    script = statement.as_string(None)
    probes.retry_until(deadline, lambda: ctx.docker.psql_admin(server.name, script))


def _wait_server(ctx: Context, server: ServerSpec, deadline: float) -> None:
    if server.is_database:
        looked: list[bool] = []
        check: Callable[[], None] = lambda: _admin_ok(ctx, server, looked)  # noqa: E731
    else:
        check = lambda: _redis_ok(ctx, server)  # noqa: E731
    _with_diagnosis(ctx, server, deadline, check, "as the admin")


def _redis_ok(ctx: Context, server: ServerSpec) -> None:
    """PING as the admin; a BUSY reply is a script of a service, not a setting: said at once."""
    try:
        probes.redis_ok(ctx.redis_admin_url(server))
    except Exception as exc:
        found = scripts.busy_from(ctx, server, str(exc))
        if found is not None:
            raise DevenvError(found.describe(), hint=found.hint()) from None
        raise


def _admin_ok(ctx: Context, server: ServerSpec, looked: list[bool]) -> None:
    try:
        with ctx.admin_connect(server) as conn:  # psycopg's errors: _with_diagnosis reads them
            conn.execute("SELECT 1")
    except Exception as exc:
        if "no pg_hba.conf entry" in str(exc) and not looked:
            looked.append(True)
            _finish_init(ctx, server)
        raise


# The official entrypoint's step right after initdb: connections from outside the container,
# with the password initdb already set. A first start that stops between the two (a bad
# setting in servers.X.settings fails the entrypoint's `postgres -C`) leaves a volume that
# every later start takes as initialised: it answered "no pg_hba.conf entry" for ever, and up
# waited its whole timeout (issue 27).
HOST_RULE = "host all all all scram-sha-256"
_FINISH_INIT = ('f="$PGDATA/pg_hba.conf"; '
                'if grep -Eq "^[[:space:]]*host[[:space:]]+all[[:space:]]+all[[:space:]]+all'
                '([[:space:]]|$)" "$f"; then echo complete; exit 0; fi; '
                'printf "\\n%s\\n" "$1" >> "$f" && pg_ctl -D "$PGDATA" reload >/dev/null '
                '&& echo finished')


def _finish_init(ctx: Context, server: ServerSpec) -> None:
    """Finish a half-initialised data volume (initdb ran, its pg_hba.conf has no rule for
    connections from outside the container), saying so; nothing when it has one."""
    try:
        done = ctx.docker.exec_as_postgres(server.name, ["sh", "-c", _FINISH_INIT, "sh",
                                                         HOST_RULE])
    except DevenvError:
        return  # not running: the wait's own diagnosis says why
    if done.strip() == "finished":
        ctx.console.warn(f"server '{server.name}': its data volume was half initialised (initdb "
                         "ran, then the first start stopped before the image allowed "
                         "connections from outside the container); finished it: added "
                         f"`{HOST_RULE}` to pg_hba.conf")


GONE = ("exited", "dead", "restarting", "removing")
# A refused connection to a starting server costs ~1 ms: polling every 25 ms (not the default
# backoff's 500 ms) takes ~0.2 s off a cold start that waits for initdb. Whether the container
# died is asked of the Engine less often: that is a container listing, not a refused connect.
SERVER_POLL_S = 0.025
ALIVE_CHECK_S = 0.5


def _with_diagnosis(ctx: Context, server: ServerSpec, deadline: float,
                    check: Callable[[], None], who: str) -> None:
    """Retry `check` until the deadline, but stop within ALIVE_CHECK_S when the container
    died: a server that exits or restarts while `up` waits is reported with its log now, not
    at --timeout."""
    next_look = time.monotonic() + ALIVE_CHECK_S

    def check_alive() -> None:
        nonlocal next_look
        try:
            check()
        except Exception as exc:
            if time.monotonic() < next_look:
                raise
            next_look = time.monotonic() + ALIVE_CHECK_S
            container = ctx.docker.by_server().get(server.name)
            if container is None or container.state in GONE:
                state = container.state if container else "removed"
                raise not_ready(ctx, server, f"its container {state} while devenv waited for "
                                f"it to answer {who}", exc, gone=True) from None
            raise

    try:
        probes.retry_until(deadline, check_alive, longest_wait=SERVER_POLL_S)
    except DevenvError:
        raise
    except Exception as exc:
        raise not_ready(ctx, server, f"{who}: {_first_line(exc)}", exc) from None


def not_ready(ctx: Context, server: ServerSpec, detail: str, exc: BaseException, *,
              gone: bool = False) -> DevenvError:
    text = str(exc)
    container = ctx.docker.by_server().get(server.name)
    status = f"{container.state}, {container.health or 'no healthcheck'}" if container else \
        "no container"
    tail = mask(ctx.docker.logs_tail(server.name, 20), ctx.secrets.all())
    if gone:
        hint = (f"the last log lines above say why it stopped; fix that in servers.{server.name} "
                f"of {ctx.stack.manifest_name} (or its image), then `devenv up` again")
    elif "password authentication failed" in text or "WRONGPASS" in text:
        hint = ("the server's data volume was initialised with other passwords (was .devenv/ "
                "deleted or replaced?). `devenv up --resync-passwords` sets the passwords in "
                ".devenv/ on the running server and keeps the data")
    else:
        hint = (f"`devenv logs {server.name}` shows the whole log; a bad setting in "
                f"servers.{server.name} of {ctx.stack.manifest_name} is the usual cause")
    return DevenvError(
        f"server '{server.name}' is not ready ({detail})\ncontainer: {status}\n"
        f"last log lines:\n{tail}", hint=hint)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return mask_url(lines[0] if lines else type(exc).__name__)


def _provision(ctx: Context, servers: list[ServerSpec], deadline: float,
               then: Callable[[], None] | None = None, *, resync: bool = False) -> None:
    """Roles, databases, grants, the clones' tablespace, then the replicas; `then()` as soon
    as every server has its roles."""
    databases = [s for s in servers if s.is_database]
    if not databases:
        if then is not None:
            then()
        return
    roles_made = None if then is None else _after_all(len(databases), then)
    with ctx.console.step("Provisioning roles, databases, extensions and grants"):
        results = parallel([
            lambda s=s: provision.reconcile_server(  # type: ignore[misc]
                ctx, s, deadline=deadline, roles_made=roles_made)
            for s in databases])
    for server, actions in zip(databases, results, strict=True):
        for action in actions:  # named: `revoked PUBLIC access to database postgres` is each's
            ctx.console.say(f"  {server.name}: {action}")
    for actions in parallel([lambda s=s: _clone_space(ctx, s)  # type: ignore[misc]
                             for s in databases]):
        for action in actions:
            ctx.console.say(f"  {action}")
    primaries = [s for s in databases if s.replicas]
    if not primaries:
        return
    # diagnosed before prepare_primary re-creates missing slots: a missing slot is only
    # harmless while the primary still has the WAL the replica needs
    found = parallel([lambda s=s: replicahealth.diagnose(ctx, s)  # type: ignore[misc]
                      for s in primaries])
    for actions in parallel([lambda s=s: replication.prepare_primary(ctx, s)  # type: ignore[misc]
                             for s in primaries]):
        for action in actions:
            ctx.console.say(f"  {action}")
    if resync:
        with ctx.console.step("Pointing the replicas at their primaries with the new password"):
            repointed = parallel([lambda s=s: replication.repoint_replicas(  # type: ignore[misc]
                ctx, s, deadline) for s in primaries])
        for actions in repointed:
            for action in actions:
                ctx.console.say(f"  {action}")
    repaired = _repair_replicas(ctx, [d for group in found for d in group])
    with ctx.console.step("Waiting for the replicas to catch up"):
        notes = parallel([lambda s=s: replication.wait_all(  # type: ignore[misc]
            ctx, s, deadline, _with_diagnosis) for s in primaries])
        for diagnosis in repaired:
            replicahealth.wait_streaming(ctx, ctx.stack.servers[diagnosis.replica.primary],
                                         diagnosis.replica, deadline)
    for note in (n for group in notes for n in group):
        ctx.console.warn(note)


def _repair_replicas(ctx: Context, diagnoses: list[replicahealth.Diagnosis]
                     ) -> list[replicahealth.Diagnosis]:
    """Re-clone each replica only a new clone repairs: its container and its own volume go,
    never its primary's. One whose slot was missing (re-created by prepare_primary since)
    keeps its data. Returns the repaired ones: `up` waits until they stream."""
    repaired = [d for d in diagnoses if d.reclone or d.kind == "slot missing"]
    for diagnosis in repaired:
        ctx.console.warn(diagnosis.detail)
    broken = [d for d in repaired if d.reclone]
    if not broken:
        return repaired
    with ctx.console.step(f"Re-cloning {', '.join(d.replica.name for d in broken)}"):
        for diagnosis in broken:
            server = ctx.stack.servers[diagnosis.replica.primary]
            replicahealth.reclone(ctx, server, diagnosis.replica)
    for diagnosis in broken:
        ctx.console.say(f"  re-cloned replica '{diagnosis.replica.name}' "
                        f"({replicahealth.reason(diagnosis)})")
    return repaired


def _after_all(count: int, then: Callable[[], None]) -> Callable[[], None]:
    """A callback that runs `then` on its `count`th call (from any thread), once."""
    lock = threading.Lock()
    left = count

    def called() -> None:
        nonlocal left
        with lock:
            left -= 1
            ready = left == 0
        if ready:
            then()
    return called


def _clone_space(ctx: Context, server: ServerSpec) -> list[str]:
    with ctx.admin_session(server) as conn:
        return clonespace.ensure(conn, server)


def _probe_services(ctx: Context, services: list[ServiceSpec], *, quick: bool = False,
                    deadline: float | None = None, direct: bool = True) -> bool:
    """Connect as every service, with the credentials of its .env file.

    quick=True answers whether everything already works (the warm path): a pooled service is
    checked through PgBouncer only (which logs in to the server as the same role), and a
    direct connection only when `direct` (the migration check makes one anyway). Otherwise
    failures retry until the deadline and then explain themselves.
    """
    checks: list[tuple[ServerSpec, str, Callable[[], None]]] = []
    for svc in services:
        db = facts.db_facts(ctx.stack, svc, ctx.secrets, ctx.ports)
        if db is None:
            pass
        elif not quick or (direct and not db.pooled):
            assert svc.server is not None
            checks.append((ctx.stack.servers[svc.server], f"as {svc.role} on {svc.database}",
                           lambda u=db.direct_url: probes.postgres_ok(u)))  # type: ignore[misc]
        if db is not None and db.pooled:
            assert svc.pgbouncer is not None
            checks.append((ctx.stack.servers[svc.pgbouncer],
                           f"as {svc.role} on {svc.database} through PgBouncer",
                           lambda u=db.url: probes.postgres_ok(u)))  # type: ignore[misc]
        readonly = {} if quick else facts.readonly_vars(ctx.stack, svc, ctx.secrets, ctx.ports)
        if readonly.get("DATABASE_READONLY_URL") != readonly.get("DATABASE_READONLY_DIRECT_URL"):
            assert svc.pgbouncer is not None  # a pooled read-only entry, on the replicas
            checks.append((ctx.stack.servers[svc.pgbouncer],
                           f"as {svc.role} on {svc.database}'s replicas through PgBouncer",
                           lambda u=readonly["DATABASE_READONLY_URL"]: probes.postgres_ok(u)))  # type: ignore[misc]
        redis = facts.redis_facts(ctx.stack, svc, ctx.secrets, ctx.ports)
        if redis is not None and not quick:
            assert svc.redis is not None
            checks.append((ctx.stack.servers[svc.redis], f"PING as ACL user {svc.name}",
                           lambda u=redis.url: probes.redis_ok(u)))  # type: ignore[misc]
    if quick:
        try:
            parallel([check for _, _, check in checks])
        except Exception:
            return False
        return True
    assert deadline is not None
    parallel([lambda s=s, w=w, c=c: _with_diagnosis(ctx, s, deadline, c, w)  # type: ignore[misc]
               for s, w, c in checks])
    return True


def _write_env_files(ctx: Context, services: list[ServiceSpec]) -> None:
    for svc in services:
        write_private(ctx.stack.root / svc.env_file, env_file_text(ctx, svc))


def env_file_text(ctx: Context, svc: ServiceSpec) -> str:
    variables = facts.env_vars(ctx.stack, svc, ctx.secrets, ctx.ports)
    header = (f"{start.ENV_HEADER} '{svc.name}' from "
              f"{ctx.stack.manifest_name}. Private: do not commit.\n")
    return facts.format_env(variables, "dotenv", header=header)


def _summary(ctx: Context, services: list[ServiceSpec], seconds: float, *, warm: bool) -> None:
    console = ctx.console
    if console.quiet:
        return
    what = "up to date" if warm else "up"
    console.say(f"{ctx.stack.project} is {what} ({seconds:.2f}s)")
    for svc in services:
        variables = facts.env_vars(ctx.stack, svc, ctx.secrets, ctx.ports, templates=False)
        parts = [svc.name]
        if "DATABASE_URL" in variables:
            parts.append(f"database {svc.database}")
        console.say("  " + ", ".join(parts))
        for key in ("DATABASE_URL", "DATABASE_READONLY_URL", "REDIS_URL"):
            if key in variables:
                console.say(f"    {key}={mask_url(variables[key])}")
        console.say(f"    env file: {svc.env_file}")
