"""`devenv doctor`: what stands between this machine and a working `devenv up`, with fixes.

Each check says ok / warn / FAIL in one line and how to fix it; any FAIL exits 1.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from devenv.console import Console
from devenv.engine import pools, ports, replicahealth, scripts
from devenv.engine.context import attach
from devenv.engine.docker import Docker
from devenv.engine.provision import isolation_drift
from devenv.errors import DevenvError
from devenv.model.stack import Stack
from devenv.store import generated, passwords, state

# What the generated compose files need: healthchecks with start_period (API 1.29), file
# secrets (bind-mounted read-only; any Compose v2) and `build:` for servers with extensions built
# in. They avoid start_interval (Engine >= 25) and configs.content (Compose >= 2.23) on purpose:
# the ACL and userlist are secrets anyway (password hashes), so they travel as file secrets.
MIN_ENGINE = (20, 10)
MIN_COMPOSE = (2, 0)
DISK_FAIL = 512 * 1024**2
DISK_WARN = 2 * 1024**3


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, warn, fail
    detail: str
    fix: str = ""


def _run(command: list[str]) -> tuple[int, str]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    text = done.stdout if done.returncode == 0 else (done.stderr or done.stdout)
    return done.returncode, text.strip()


def _version(text: str) -> tuple[int, ...]:
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(p) for p in found.groups() if p is not None) if found else ()


def checks(stack: Stack) -> list[Check]:
    out: list[Check] = []
    if shutil.which("docker") is None:
        out.append(Check("docker installed", "fail", "no `docker` command on PATH",
                         "install Docker Engine (or Docker Desktop)"))
        return out + _local_checks(stack)
    out.append(Check("docker installed", "ok", shutil.which("docker") or ""))
    code, engine = _run(["docker", "version", "--format", "{{.Server.Version}}"])
    if code != 0:
        out.append(Check("daemon answering", "fail", engine.splitlines()[-1] if engine else "",
                         "start Docker (`sudo systemctl start docker`, or Docker Desktop)"))
        return out + _local_checks(stack)
    version = _version(engine)
    out.append(Check("daemon answering", "ok", f"Engine {engine}"))
    if version and version < MIN_ENGINE:
        out.append(Check("engine features", "fail", f"Engine {engine} is older than "
                         f"{'.'.join(map(str, MIN_ENGINE))}", "upgrade Docker Engine"))
    else:
        note = "file secrets; start_interval not used, so older engines work too"
        out.append(Check("engine features", "ok", f"healthchecks with start_period; {note}"))
    code, compose = _run(["docker", "compose", "version", "--short"])
    if code != 0 or _version(compose) < MIN_COMPOSE:
        out.append(Check("compose v2", "fail", compose.splitlines()[-1] if compose else
                         "`docker compose` is missing", "install the Compose v2 plugin "
                         "(docker-compose-plugin); docker-compose v1 is not supported"))
    else:
        out.append(Check("compose v2", "ok", f"Compose {compose} (secrets as files, build: for "
                         "extensions; configs.content not needed)"))
    out += _images(stack)
    out += _ports(stack)
    out += _isolation(stack)
    out += _pools(stack)
    out += _scripts(stack)
    out += _replicas(stack)
    code, root = _run(["docker", "info", "--format", "{{.DockerRootDir}}"])
    out.append(_disk(Path(root) if code == 0 and Path(root).exists() else Path("/")))
    return out + _local_checks(stack)


def _images(stack: Stack) -> list[Check]:
    wanted = sorted({s.image for s in stack.servers.values()})
    missing = [i for i in wanted if _run(["docker", "image", "inspect", i])[0] != 0]
    out = []
    if not missing:
        out.append(Check("images present", "ok", ", ".join(wanted)))
    else:
        out.append(Check("images present", "warn", f"not on this machine: {', '.join(missing)}",
                         "`devenv up` pulls them (needs the registry), or `docker load` them"))
    recorded = state.load(stack).majors
    moved = [f"{s.name} ({recorded[s.name]} -> {s.pg_major})" for s in stack.servers.values()
             if s.is_database and s.pg_major and recorded.get(s.name, s.pg_major) != s.pg_major]
    if moved:
        out.append(Check("PostgreSQL majors", "fail", "a data volume holds another major than "
                         f"its image runs: {', '.join(moved)}",
                         "pin the old major's image in the manifest, or `devenv down --volumes`"
                         " (data lost), or dump and restore; `devenv up` explains"))
    return out


def _ports(stack: Stack) -> list[Check]:
    out = []
    docker = Docker(stack)
    try:
        ours = docker.by_server()
        others = [c for c in docker.containers(all_projects=True) if c.project != stack.project]
        chosen = ports.assign_auto(stack, state.load(stack).ports)
        ports.check_free(stack, list(stack.servers.values()), chosen, ours, others)
        out.append(Check("host ports free", "ok", "all servers' ports are free or ours"))
    except DevenvError as exc:
        out.append(Check("host ports free", "fail", exc.message.replace("\n", "; "),
                         exc.hint or ""))
    exposed = [s.name for s in stack.servers.values() if s.bind not in ("127.0.0.1", "::1")]
    if exposed:
        out.append(Check("ports on loopback", "warn",
                         f"published beyond this machine: {', '.join(exposed)}",
                         "set `bind: 127.0.0.1` unless other machines must connect"))
    else:
        out.append(Check("ports on loopback", "ok", "every port is bound to 127.0.0.1"))
    return out


def _disk(path: Path) -> Check:
    free = shutil.disk_usage(path).free
    text = f"{free / 1024**3:.1f} GiB free under {path}"
    if free < DISK_FAIL:
        return Check("disk space", "fail", text, "free some space (`docker system prune`)")
    if free < DISK_WARN:
        return Check("disk space", "warn", text, "`docker system prune` frees old images")
    return Check("disk space", "ok", text)


def _isolation(stack: Stack) -> list[Check]:
    """The isolation `up` set up, on each running database server (one catalog query each)."""
    running = {name for name, c in Docker(stack).by_server().items() if c.state == "running"}
    servers = [s for s in stack.servers.values() if s.is_database and s.name in running]
    if not servers:
        return []
    try:
        ctx = attach(stack, Console(quiet=True))
        found = []
        for server in servers:
            with ctx.admin_session(server) as conn:
                found += [f"{server.name}: {d}" for d in isolation_drift(conn, stack, server)]
    except DevenvError as exc:
        return [Check("service isolation", "warn", f"not checked: {exc.message}")]
    if found:
        return [Check("service isolation", "fail", "; ".join(found),
                      "`devenv up` repairs it (a migration granted what it should not)")]
    return [Check("service isolation", "ok", "each service database reachable only by its "
                  "owner and readers; the postgres database by none")]


def _pools(stack: Stack) -> list[Check]:
    """Each running PgBouncer's entries: none left paused by a killed reset."""
    running = {name for name, c in Docker(stack).by_server().items() if c.state == "running"}
    bouncers = [s for s in stack.servers.values() if s.kind == "pgbouncer" and s.name in running]
    if not bouncers:
        return []
    try:
        ctx = attach(stack, Console(quiet=True))
        found = [n for b in bouncers for n in pools.left_paused(ctx, b, resume=False)]
    except DevenvError as exc:
        return [Check("pgbouncer entries", "warn", f"not checked: {exc.message}")]
    if found:
        return [Check("pgbouncer entries", "fail", "; ".join(found),
                      "`devenv up` resumes them")]
    return [Check("pgbouncer entries", "ok", "none paused")]


def _scripts(stack: Stack) -> list[Check]:
    """Each running Redis: not kept busy by a script (it would answer BUSY to everyone)."""
    running = {name for name, c in Docker(stack).by_server().items() if c.state == "running"}
    servers = [s for s in stack.servers.values() if s.kind in ("redis", "valkey")
               and s.name in running]
    if not servers:
        return []
    try:
        ctx = attach(stack, Console(quiet=True))
        found = [b for s in servers if (b := scripts.busy(ctx, s)) is not None]
    except DevenvError as exc:
        return [Check("redis scripts", "warn", f"not checked: {exc.message}")]
    if found:
        return [Check("redis scripts", "fail", "; ".join(b.describe() for b in found),
                      "; ".join(b.hint() for b in found))]
    return [Check("redis scripts", "ok", "no script keeps a server busy")]


def _replicas(stack: Stack) -> list[Check]:
    """Each read replica of a running primary: streaming from *this* primary, or what broke
    (slot missing, primary recreated under it, promoted, WAL gone, down) and the fix."""
    running = {name for name, c in Docker(stack).by_server().items() if c.state == "running"}
    primaries = [s for s in stack.servers.values() if s.replicas and s.name in running]
    if not primaries:
        return []
    out = []
    try:
        ctx = attach(stack, Console(quiet=True))
        for server in primaries:
            for d in replicahealth.diagnose(ctx, server):
                status = "ok" if d.kind == "streaming" else "warn" if d.kind in (
                    "paused", "connecting") else "fail"
                out.append(Check(f"replica {d.replica.name}", status, d.detail, d.fix))
    except DevenvError as exc:
        return [Check("replicas", "warn", f"not checked: {exc.message}")]
    return out


def _local_checks(stack: Stack) -> list[Check]:
    out = []
    state_dir = stack.root / stack.state_dir
    try:
        found = passwords.load(state_dir)
        if found is None:
            out.append(Check(".devenv/ state", "ok", "not created yet (`devenv up` creates it)"))
        else:
            loose = [p.name for p in [state_dir, *state_dir.rglob("*")]
                     if p.exists() and stat.S_IMODE(p.stat().st_mode) & 0o077]
            out.append(Check(".devenv/ state", "warn" if loose else "ok",
                             f"readable by others: {', '.join(loose)}" if loose else
                             "readable, private (0600/0700)",
                             f"chmod -R go-rwx {state_dir}" if loose else ""))
    except DevenvError as exc:
        out.append(Check(".devenv/ state", "fail", exc.message, exc.hint or ""))
    out.append(_freshness(stack))
    return out


def _freshness(stack: Stack) -> Check:
    """A file that differs is stale; one that does not exist yet is only not generated (right
    after `devenv init`, which is no problem: `up` writes it)."""
    differing = generated.stale(stack)
    missing = [p for p in differing if not (stack.root / p).exists()]
    stale = [p for p in differing if p not in missing]
    name = "generated files fresh"
    if stale:
        absent = f"; not generated yet: {', '.join(map(str, missing))}" if missing else ""
        return Check(name, "warn", f"stale: {', '.join(map(str, stale))}{absent}",
                     "run `devenv generate` (or `devenv up`) and commit")
    if missing:
        return Check(name, "ok", f"not generated yet: {', '.join(map(str, missing))} (run "
                     "`devenv up` or `devenv generate`)")
    return Check(name, "ok", f"{stack.compose_dir}/ matches {stack.manifest_name}")


def doctor(stack: Stack, console: Console, *, as_json: bool) -> None:
    results = checks(stack)
    if as_json:
        console.result(json.dumps([asdict(c) for c in results], indent=2))
    else:
        for c in results:
            mark = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}[c.status]
            console.result(f"{mark}  {c.name}: {c.detail}")
            if c.fix:
                console.result(f"      fix: {c.fix}")
    failed = [c.name for c in results if c.status == "fail"]
    if failed:
        raise DevenvError(f"doctor: {len(failed)} problem(s), each with its fix above: "
                          f"{', '.join(failed)}")


