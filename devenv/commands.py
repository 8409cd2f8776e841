"""The verbs, as plain functions over a manifest path and a console (the CLI calls these)."""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from pathlib import Path

from devenv import secrets
from devenv.console import Console
from devenv.errors import DevenvError
from devenv.files import write_atomic, write_private, write_private_bytes
from devenv.stack import STATE_DIR, Stack, as_manifest, load_stack

GITIGNORE_LINES = (".devenv/",)


CACHE_FILE = "stack.cache"


def load(file: Path) -> Stack:
    """The resolved stack, from .devenv/stack.cache when the manifest is byte-for-byte the same.

    Parsing and validating the manifest costs pydantic, jinja2 and YAML imports (about a
    third of a warm `up`); the cache skips them. It is keyed by devenv's version, the path and
    the manifest's bytes, written only after a successful resolve, and private like the rest
    of .devenv/.
    """
    display = _display(file)
    try:
        raw = file.read_bytes()
    except OSError:
        return load_stack(file, display=display)  # reports the missing file properly
    from devenv import __version__

    key = hashlib.sha256(f"{__version__}\0{display}\0{file.resolve()}\0".encode() + raw).digest()
    cache = file.resolve().parent / STATE_DIR / CACHE_FILE
    try:
        cached_key, stack = pickle.loads(cache.read_bytes())
        if cached_key == key and isinstance(stack, Stack):
            return stack
    except Exception:  # any unreadable cache is just a miss
        pass
    stack = load_stack(file, display=display)
    if cache.parent.is_dir():
        write_private_bytes(cache, pickle.dumps((key, stack)))
    return stack


def _display(file: Path) -> str:
    """Show the manifest path as the user would type it."""
    try:
        return str(file.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(file)


def stale_files(stack: Stack) -> list[Path]:
    from devenv import render

    stale = []
    for rel, text in render.compose_files(stack).items():
        path = stack.root / rel
        try:
            current = path.read_text()
        except (FileNotFoundError, UnicodeDecodeError):
            current = None
        if current != text:
            stale.append(rel)
    return stale


def write_generated(stack: Stack, ports: dict[str, int] | None = None) -> list[Path]:
    """Write compose files and private state files; return those that changed."""
    from devenv import render

    creds = secrets.ensure(stack)
    changed = [rel for rel, text in render.compose_files(stack).items()
               if write_atomic(stack.root / rel, text)]
    for rel, text in render.state_files(stack, creds, ports or {}).items():
        if write_private(stack.root / rel, text):
            changed.append(rel)
    return changed


def generate(file: Path, *, check: bool, console: Console) -> None:
    stack = load(file)
    if check:
        stale = stale_files(stack)
        if stale:
            names = ", ".join(str(p) for p in stale)
            raise DevenvError(f"generated files are stale: {names}",
                              hint="run `devenv generate` and commit the result")
        console.say(f"{stack.compose_dir}/ is up to date with {stack.manifest_name}")
        return
    changed = write_generated(stack)
    for rel in changed:
        console.say(f"wrote {rel}")
    if not changed:
        console.say("nothing to do: generated files are up to date")


def config(file: Path, *, console: Console) -> None:
    from devenv import yamlio

    console.result(yamlio.dump(as_manifest(load(file))).rstrip())


def schema() -> None:
    from devenv.manifest import Manifest

    print(json.dumps(Manifest.model_json_schema(), indent=2))


INIT_MANIFEST = """\
# devenv.yaml: the services of this project and what each needs.
# Every field is in the README (`devenv schema` prints the JSON Schema for editors).
project: {project}
services:
  {service}:
    postgres: true        # its own database and login role on a shared PostgreSQL
    redis: true           # its own Redis ACL user, keys prefixed '{service}:'
    # extensions: [citext, pgcrypto]
    # migrations: migrations/{service}   (the default; Flyway, golang-migrate or dbmate files)
    # seeds: seeds/{service}             (the default; *.sql and *.csv, applied once)
"""
INIT_MIGRATION = """\
-- The first migration of {service}. Runs as the service's own role, in one transaction.
CREATE TABLE items (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""
INIT_SEED = "INSERT INTO items (name) VALUES ('first item'), ('second item');\n"


def init(file: Path, *, project: str | None, service: str, console: Console) -> None:
    root = file.resolve().parent
    name = project or re.sub(r"[^a-z0-9_-]+", "-", root.name.lower()).strip("-_") or "devenv"
    from devenv.manifest import check_compose_name, check_identifier

    try:
        check_compose_name(name)
        check_identifier(service)
    except ValueError as exc:
        raise DevenvError(f"devenv init: {exc}", hint="pass --project / --service") from None
    files = {
        file: INIT_MANIFEST.format(project=name, service=service),
        root / "migrations" / service / "V1__create_items.sql": INIT_MIGRATION.format(
            service=service),
        root / "seeds" / service / "01_items.sql": INIT_SEED,
    }
    existing = [p for p in files if p.exists()]
    if existing:
        raise DevenvError(
            "devenv init: refusing to overwrite " + ", ".join(_rel(p, root) for p in existing),
            hint="remove them or run `devenv init` in another folder",
        )
    for path, text in files.items():
        write_atomic(path, text)
        console.say(f"created {_rel(path, root)}")
    gitignore = root / ".gitignore"
    current = gitignore.read_text() if gitignore.exists() else ""
    missing = [line for line in GITIGNORE_LINES if line not in current.splitlines()]
    if missing:
        sep = "" if not current or current.endswith("\n") else "\n"
        gitignore.write_text(current + sep + "# devenv's private state (passwords)\n"
                             + "\n".join(missing) + "\n")
        console.say("added .devenv/ to .gitignore")
    console.say("next: devenv up")


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def status(file: Path, *, console: Console, as_json: bool) -> None:
    from devenv import state
    from devenv.up import server_status

    stack = load(file)
    ports = state.load(stack).ports
    servers = server_status(stack, ports)
    running = {s.name for s in servers if s.state == "running"}
    services = [
        {"service": s.name, "server": s.server, "database": s.database, "role": s.role,
         "pgbouncer": s.pgbouncer, "redis": s.redis, "env_file": str(s.env_file),
         "env_file_exists": (stack.root / s.env_file).exists(),
         **_migration_state(stack, s.name, console, running)}
        for s in stack.services.values()
    ]
    if as_json:
        console.result(json.dumps({
            "project": stack.project,
            "servers": [vars(s) for s in servers],
            "services": services,
        }, indent=2))
        return
    from devenv.console import table

    console.result(f"project {stack.project}")
    console.result(table(["SERVER", "KIND", "STATE", "HEALTH", "PORT"], [
        [s.name, s.kind, s.state, s.health or "-", "-" if s.port is None else str(s.port)]
        for s in servers]))
    rows = []
    for v in services:
        mark = "" if v["env_file_exists"] else " (not written yet)"
        pending = "-" if v["pending"] is None else str(v["pending"])
        if v["seeds_changed"]:
            pending += f" (+{v['seeds_changed']} edited seed)"
        rows.append([str(v["service"]), str(v["database"] or "-"), str(v["role"] or "-"),
                     str(v["version"] or "-"), pending, f"{v['env_file']}{mark}"])
    console.result(table(["SERVICE", "DATABASE", "ROLE", "VERSION", "PENDING", "ENV FILE"],
                         rows))


def _migration_state(stack: Stack, name: str, console: Console,
                     running: set[str]) -> dict[str, object]:
    """Current version, pending migrations and edited seeds of a running service's database."""
    out: dict[str, object] = {"version": None, "pending": None, "seeds_changed": 0}
    svc = stack.services[name]
    if svc.server not in running or svc.database is None:
        return out
    from devenv.migrate_step import direct_url, migration_set, seed_set
    from devenv.migrations import info, seed_status
    from devenv.up import attach

    try:
        ctx = attach(stack, console)
        url = direct_url(ctx, svc)
        migrations = migration_set(ctx, svc)
        if migrations is not None:
            rows = info(url, migrations)
            applied = [r.version for r in rows if r.state == "applied" and r.version]
            out["version"] = applied[-1] if applied else None
            out["pending"] = sum(1 for r in rows if r.state == "pending")
        seeds = seed_set(ctx, svc)
        if seeds is not None:
            out["seeds_changed"] = sum(1 for r in seed_status(url, seeds) if r.state == "changed")
    except DevenvError as exc:
        out["error"] = exc.message
    return out


def env(file: Path, service: str, *, fmt: str, show_secrets: bool, console: Console) -> None:
    from devenv import facts, state

    if fmt not in ("dotenv", "shell", "json"):
        raise DevenvError(f"unknown format {fmt!r}", hint="use dotenv, shell or json")
    stack = load(file)
    if service not in stack.services:
        raise DevenvError(f"no service named '{service}' in {stack.manifest_name} "
                          f"(services: {', '.join(stack.services)})")
    creds = secrets.load(stack.root / stack.state_dir)
    if creds is None:
        raise DevenvError("no passwords yet in .devenv/", hint="run `devenv up` first")
    variables = facts.env_vars(stack, stack.services[service], creds, state.load(stack).ports)
    if not show_secrets:
        variables = facts.redact(variables, creds)
    console.result(facts.format_env(variables, fmt).rstrip("\n"), raw=show_secrets)
