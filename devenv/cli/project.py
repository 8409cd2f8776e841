"""`devenv init | generate | config | schema | env`: the project's files and settings."""

from __future__ import annotations

import json
import re
from pathlib import Path

from devenv.console import Console
from devenv.errors import DevenvError
from devenv.masking import mask_values
from devenv.model import facts, yamlio
from devenv.model.secrets import Secrets
from devenv.model.stack import Stack, as_manifest
from devenv.store import generated, passwords, state
from devenv.store.files import write_atomic

GITIGNORE_LINES = (".devenv/",)


def generate(stack: Stack, console: Console, *, check: bool) -> None:
    if check:
        stale = generated.stale(stack)
        if stale:
            names = ", ".join(str(p) for p in stale)
            raise DevenvError(f"generated files are stale: {names}",
                              hint="run `devenv generate` and commit the result")
        console.say(f"{stack.compose_dir}/ is up to date with {stack.manifest_name}")
        return
    changed = generated.write(stack, {})
    for rel in changed:
        console.say(f"wrote {rel}")
    if not changed:
        console.say("nothing to do: generated files are up to date")


def config(stack: Stack, console: Console) -> None:
    console.result(yamlio.dump(as_manifest(stack)).rstrip())


def schema(console: Console) -> None:
    from devenv.model.manifest import Manifest  # noqa: PLC0415 - pydantic, ~0.1 s: only here

    console.result(json.dumps(Manifest.model_json_schema(), indent=2))


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


def init(file: Path, console: Console, *, project: str | None, service: str,
         nested: bool = False) -> None:
    """The one verb without a stack: it writes the manifest the others read."""
    # pydantic, ~0.1 s: the other verbs of this module read a cached stack without it.
    from devenv.model.manifest import check_compose_name, check_identifier  # noqa: PLC0415

    root = file.resolve().parent
    above = next((f / file.name for f in root.parents if (f / file.name).is_file()), None)
    if above is not None and not nested:
        # Every devenv command run here would now find the new manifest instead of that one,
        # and the new project would take the kinds' default ports, as that one may.
        raise DevenvError(
            f"devenv init: {root} is inside the project of {above}; a project here would "
            "hide it from every devenv command run in this folder",
            hint=f"add a service to {above} instead, or pass --nested to create a separate "
            "project here (give it its own ports, e.g. `ports: {base: 20000}`)")
    name = project or re.sub(r"[^a-z0-9_-]+", "-", root.name.lower()).strip("-_") or "devenv"
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


def env(stack: Stack, console: Console, *, service: str | None, fmt: str,
        show_secrets: bool, role: str = "service") -> None:
    """A service's variables, or with `role` (admin, migration) that role's on the service's
    database (default: the first service with one); masked like every other output."""
    if fmt not in ("dotenv", "shell", "json"):
        raise DevenvError(f"unknown format {fmt!r}", hint="use dotenv, shell or json")
    variables, creds = _variables(stack, service, role)
    if not show_secrets:
        variables = mask_values(variables, creds.all())
    console.result(facts.format_env(variables, fmt).rstrip("\n"), raw=show_secrets)


def _variables(stack: Stack, service: str | None, role: str) -> tuple[dict[str, str], Secrets]:
    """A service's variables (or, with `role`, that role's on its database) and the passwords
    they hold, from .devenv/ as the last `up` left it."""
    svc = facts.database_service(stack, service) if role != "service" else None
    if service is not None and service not in stack.services:
        raise DevenvError(f"no service named '{service}' in {stack.manifest_name} "
                          f"(services: {', '.join(stack.services)})")
    creds = passwords.load(stack.root / stack.state_dir)
    if creds is None:
        raise DevenvError("no passwords yet in .devenv/", hint="run `devenv up` first")
    ports = state.load(stack).ports
    if svc is not None:
        return facts.role_env_vars(facts.role_facts(stack, svc, creds, ports, role)), creds
    assert service is not None
    return facts.env_vars(stack, stack.services[service], creds, ports), creds


def url(stack: Stack, console: Console, *, service: str | None, role: str, readonly: bool,
        direct: bool, redis: bool, show_secrets: bool) -> None:
    """One connection string, for a GUI client or another tool: the variable of the service's
    .env file that says it (README "The .env file"), masked unless asked."""
    variables, creds = _variables(stack, service, role)
    if redis:
        key = "REDIS_URL"
        missing = f"service '{service}' has no Redis", f"add `redis: true` to services.{service}"
    elif readonly:
        key = "DATABASE_READONLY_DIRECT_URL" if direct else "DATABASE_READONLY_URL"
        missing = (f"service '{service}' has no read replicas to read from",
                   "give its server `replicas: 1` in " + stack.manifest_name)
    else:
        key = "DATABASE_DIRECT_URL" if direct else "DATABASE_URL"
        if role != "service":
            key = "DATABASE_URL"  # roles.admin/migration connect directly anyway
        hint = (f"`devenv url {service} --redis` prints its Redis URL"
                if "REDIS_URL" in variables else f"add `postgres: true` to services.{service}")
        missing = f"service '{service}' has no database", hint
    if key not in variables:
        raise DevenvError(missing[0], hint=missing[1])
    value = variables[key]
    console.result(value if show_secrets else mask_values({key: value}, creds.all())[key],
                   raw=show_secrets)
