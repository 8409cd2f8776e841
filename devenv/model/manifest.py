"""The `devenv.yaml` model: strict, frozen, every field documented (`devenv schema` shows them).

This module only describes and parses. Defaults that depend on other entries (which server a
service uses, host ports, database names) are resolved in `stack.py`, which also checks every
cross-reference.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from devenv.errors import DevenvError
from devenv.model.yamlio import KeyPath, load_with_lines

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
COMPOSE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Setting = StrictStr | StrictBool | int | float


def check_env_name(name: str) -> str:
    if not ENV_NAME.match(name):
        raise ValueError(f"{name!r} is not a valid environment variable name")
    return name


# Checked per key (not on the whole mapping) so that the error points at the bad name's line.
EnvName = Annotated[str, AfterValidator(check_env_name)]


def check_identifier(value: str) -> str:
    """Lowercase PostgreSQL identifier: we quote everything, but names users type must be plain."""
    if not IDENTIFIER.match(value):
        raise ValueError(
            f"{value!r} is not a lowercase PostgreSQL identifier "
            "(letters a-z, digits and '_', not starting with a digit)"
        )
    if len(value.encode()) > 63:
        raise ValueError(f"{value!r} is longer than PostgreSQL's 63-byte limit for names")
    return value


def check_compose_name(value: str) -> str:
    if len(value) > 63:
        raise ValueError(f"{value!r} is longer than 63 characters")
    if not COMPOSE_NAME.match(value):
        raise ValueError(
            f"{value!r} is not a valid Compose name "
            "(lowercase letters, digits, '-' and '_', starting with a letter or digit)"
        )
    return value


# The image reference grammar of the OCI distribution spec, as Docker parses it
# (github.com/distribution/reference, regexp.go): [domain[:port]/]path[:tag][@digest]. An image
# is written into a generated Dockerfile's FROM line and into compose.yaml, so anything else (a
# line break starting a RUN instruction, issue 27) is refused where the manifest says it.
_ALNUM = r"[a-z0-9]+"
_PATH_COMPONENT = rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_NAME = rf"(?:{_HOST}(?::[0-9]+)?/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
IMAGE_REFERENCE = re.compile(
    rf"(?P<name>{_NAME})(?::[\w][\w.-]{{0,127}})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?", re.ASCII)
MAX_IMAGE_NAME = 255  # reference.NameTotalLengthMax


def check_image(value: str) -> str:
    found = IMAGE_REFERENCE.fullmatch(value)
    if found is None:
        raise ValueError(f"{value!r} is not an image reference ([registry/]name[:tag][@digest], "
                         "lowercase name, e.g. postgres:17 or ghcr.io/acme/pg:17@sha256:...)")
    if len(found.group("name")) > MAX_IMAGE_NAME:
        raise ValueError(f"the image name is longer than {MAX_IMAGE_NAME} characters")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


Port = Annotated[int, Field(ge=1, le=65535)] | Literal["auto"]


class _ServerBase(_Model):
    image: str | None = Field(
        None, description="Container image. Defaults to the official image for the kind."
    )

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        return None if value is None else check_image(value)
    port: Port | None = Field(
        None,
        description="Host port. Defaults to the kind's usual port (5432, 6379, 6432), counting up "
        "when several servers share a kind. 'auto' picks a free port once and keeps it.",
    )
    bind: str = Field(
        "127.0.0.1",
        description="Host address the port is published on. Keep 127.0.0.1 unless other machines "
        "must reach it.",
    )


class Replica(_Model):
    port: Port = Field(
        "auto",
        description="Host port of this read replica. 'auto' (the default) picks a free port "
        "once and keeps it.",
    )


MAX_REPLICAS = 8
REPLICAS_SHAPE = (f"expected a number of replicas from 0 to {MAX_REPLICAS}, or a list of up "
                  f"to {MAX_REPLICAS} such as [{{port: 7201}}, {{port: auto}}]")


class PostgresServer(_ServerBase):
    kind: Literal["postgres"] = Field(description="A PostgreSQL server.")
    settings: dict[str, Setting] = Field(
        default_factory=dict,
        description="PostgreSQL settings passed as `-c name=value` (e.g. max_connections: 200).",
    )
    data_dir: str | None = Field(
        None,
        description="Where the data volume is mounted in the container. Defaults by image major: "
        "/var/lib/postgresql/data before 18, /var/lib/postgresql from 18 on.",
    )
    storage: Literal["volume", "tmpfs"] = Field(
        "volume",
        description="volume: a named Docker volume, kept until `down --volumes`. tmpfs: in "
        "memory, gone whenever the container stops; for CI, where creating files on a virtual "
        "disk makes every reset and per-test clone slow.",
    )
    tmpfs_size: str = Field(
        "2g",
        pattern=r"^[1-9][0-9]*[kmg]$",
        description="Cap on the memory a `storage: tmpfs` server's data may take, e.g. 512m, "
        "4g (without it Docker allows half the host's memory). A full tmpfs fails the write "
        "with 'No space left on device'; devenv's commands then name this key.",
    )
    clone_memory: str = Field(
        "512m",
        pattern=r"^[1-9][0-9]*[kmg]$",
        description="Cap on the in-memory tablespace that holds clones (per-test databases, "
        "`devenv db clone`) on a `storage: volume` server, e.g. 256m, 2g. Memory is used only by "
        "the clones that exist; the pytest plugin checks at start that its clones made ahead fit.",
    )
    replicas: list[Replica] = Field(
        default_factory=list,
        description="Read replicas: streaming physical standbys of this server, one container "
        "and volume each. A number (each host port 'auto': chosen once, kept), or a list of "
        "{port: N|auto}, one per replica. Every service on the server gets "
        "DATABASE_READONLY_URL (through PgBouncer's '<database>_readonly' entry when pooled), "
        "DATABASE_READONLY_DIRECT_URL, PGHOST_READONLY and PGPORT_READONLY.",
    )
    replica_delay: str | None = Field(
        None,
        pattern=r"^[0-9]+(ms|s|min)$",
        description="recovery_min_apply_delay of the replicas (e.g. 500ms, 2s): lag on purpose, "
        "so tests see what a read-after-write on a replica sees in production.",
    )


    # `replicas: 2` is the shorthand for two replicas on 'auto' ports; one message for either
    # shape (a union would report both members' errors).
    @field_validator("replicas", mode="before", json_schema_input_type=Annotated[
        int, Field(ge=0, le=MAX_REPLICAS)] | Annotated[list[Replica],
                                                         Field(max_length=MAX_REPLICAS)])
    @classmethod
    def _count(cls, value: Any) -> Any:
        if isinstance(value, int) and 0 <= value <= MAX_REPLICAS:
            return [{}] * value
        if isinstance(value, list) and len(value) <= MAX_REPLICAS:
            return value
        raise ValueError(REPLICAS_SHAPE)


class TimescaleServer(PostgresServer):
    kind: Literal["timescaledb"] = Field(  # type: ignore[assignment]
        description="A PostgreSQL server with TimescaleDB."
    )


class RedisServer(_ServerBase):
    kind: Literal["redis"] = Field(description="A Redis server.")
    persistence: Literal["aof", "rdb", "none"] = Field(
        "aof", description="aof: append-only file (survives restarts); rdb: snapshots; none."
    )
    search: bool = Field(
        False,
        description="Let this server's services use the search module that Redis 8's image "
        "loads (FT.CREATE, FT.SEARCH...). Off: the module is the default user's alone, since "
        "FT.CREATE, FT.ALIAS* and FT.DICT* check no key pattern (a service could index and "
        "read another's keys, or repoint its aliases). Turn it on for a server whose services "
        "trust each other, or one of a service's own.",
    )


class ValkeyServer(RedisServer):
    kind: Literal["valkey"] = Field(  # type: ignore[assignment]
        description="A Valkey server (the BSD-licensed Redis fork): the same ACLs and keys."
    )


class PgBouncerServer(_ServerBase):
    kind: Literal["pgbouncer"] = Field(description="A PgBouncer pool in front of one server.")
    target: str | None = Field(
        None,
        description="The postgres or timescaledb server it pools. May be omitted when there is "
        "exactly one.",
    )
    pool_mode: Literal["session", "transaction", "statement"] = Field(
        "transaction", description="PgBouncer pool_mode."
    )
    default_pool_size: int = Field(20, ge=1, description="Server connections per user/database.")
    min_pool_size: int = Field(0, ge=0, description="PgBouncer min_pool_size.")
    reserve_pool_size: int = Field(0, ge=0, description="PgBouncer reserve_pool_size.")
    max_client_conn: int = Field(200, ge=1, description="Client connections accepted in all.")


Server = Annotated[
    PostgresServer | TimescaleServer | RedisServer | ValkeyServer | PgBouncerServer,
    Field(discriminator="kind"),
]
SERVER_MODELS: dict[str, type[_ServerBase]] = {
    "postgres": PostgresServer,
    "timescaledb": TimescaleServer,
    "redis": RedisServer,
    "valkey": ValkeyServer,
    "pgbouncer": PgBouncerServer,
}


class Migrations(_Model):
    path: str | None = Field(
        None, description="Folder of migration files (Flyway, golang-migrate or dbmate format)."
    )
    out_of_order: bool = Field(
        False, description="Allow a new migration older than the latest applied one."
    )
    command: str | None = Field(
        None,
        description="Run this instead of devenv's runner (e.g. 'alembic upgrade head'), with the "
        "service's .env variables in its environment.",
    )
    cwd: str = Field(".", description="Working directory of `command`, relative to devenv.yaml.")

    @model_validator(mode="after")
    def _one_source(self) -> Migrations:
        if self.path is not None and self.command is not None:
            raise ValueError("give either 'path' or 'command', not both")
        return self


def _server_ref(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return value
    raise ValueError("expected true, false or a server name")


class Service(_Model):
    postgres: StrictBool | StrictStr = Field(
        False,
        description="true: a database on the project's PostgreSQL server (created if none is "
        "declared); or the name of the postgres/timescaledb server to use.",
    )
    database: str | None = Field(
        None, description="Database name. Default: the project's naming.database pattern."
    )
    role: str | None = Field(
        None, description="Login role owning the database. Default: naming.role pattern."
    )
    extensions: list[str] = Field(
        default_factory=list,
        description="Extensions created in the database by the admin before migrations.",
    )
    pgbouncer: StrictBool | StrictStr = Field(
        False,
        description="true, or a pgbouncer server name: DATABASE_URL goes through PgBouncer.",
    )
    reads: list[str] = Field(
        default_factory=list,
        description="Other services whose databases this one may read (SELECT only).",
    )
    redis: StrictBool | StrictStr = Field(
        False,
        description="true, or a redis or valkey server name: an ACL user limited to keys "
        "'<service>:*'.",
    )
    migrations: Migrations | None = Field(
        None,
        description="A folder (string shorthand) or {path|command, ...}. Default: "
        "migrations/<service> when that folder exists.",
    )
    seeds: str | None = Field(
        None, description="Folder of seed files. Default: seeds/<service> when it exists."
    )
    env_file: str | None = Field(
        None,
        description="Where this service's .env file is written, relative to devenv.yaml. "
        "Default: .devenv/env/<service>.env (git-ignored).",
    )
    env: dict[EnvName, str] = Field(
        default_factory=dict,
        description="Extra variables for the .env file: jinja2 templates over the connection "
        "facts (db.host, db.port, db.name, db.user, db.password, db.url, redis.url, ...).",
    )

    @field_validator("postgres", "pgbouncer", "redis", mode="before")
    @classmethod
    def _ref(cls, value: Any) -> Any:
        return _server_ref(value)

    @field_validator("migrations", mode="before")
    @classmethod
    def _migrations_shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"path": value}
        if value is not None and not isinstance(value, dict):
            raise ValueError("expected a folder path or a mapping with 'path' or 'command'")
        return value

    @field_validator("database", "role")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        return None if value is None else check_identifier(value)



class Naming(_Model):
    database: str = Field(
        "{service}",
        description="Pattern for database names: {service}, {project} and {environment}, "
        "e.g. '{service}_db_{environment}'.",
    )
    role: str = Field(
        "{service}", description="Pattern for role names, e.g. '{service}_api_user'."
    )


class Roles(_Model):
    migration: str | None = Field(
        None,
        description="A login role that may run migrations in every service database "
        "(member of every service role).",
    )
    admin: str | None = Field(
        None,
        description="A login role with CREATEDB and CREATEROLE, member of every service role, "
        "for people (not superuser).",
    )

    @field_validator("migration", "admin")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        return None if value is None else check_identifier(value)


class Ports(_Model):
    base: int = Field(ge=1024, le=65000, description=(
        "The first host port of the project: every server and replica without a `port:` takes "
        "the next free one from here, in manifest order, chosen once and kept in .devenv/ (as "
        "'auto' is). Gives each project its own range."))


class Manifest(_Model):
    project: str = Field(description="Compose project name; prefixes containers and volumes.")
    environment: str = Field("dev", description="Used in naming patterns ({environment}).")
    compose_dir: str = Field(
        "compose", description="Folder of the generated compose file and configs."
    )
    env_example: str | Literal[False] = Field(
        ".env.example", description="Where `up` and `generate` write the names of each "
        "service's variables (no values), to commit; false: nowhere.")
    ports: Ports | None = Field(None, description="Host ports for the whole project.")
    naming: Naming = Field(default_factory=Naming, description="Name patterns.")
    roles: Roles = Field(default_factory=Roles, description="Optional shared roles.")
    servers: dict[str, Server] = Field(
        default_factory=dict,
        description="Servers by name. Optional: services asking for postgres or redis get one.",
    )
    services: dict[str, Service] = Field(description="Services by name.")

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        return check_compose_name(value)

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: str) -> str:
        return check_identifier(value)



def show_key(key: str | int) -> str:
    """A key as it can be printed on one line: quoted when it holds line breaks or controls."""
    text = str(key)
    return text if text.isprintable() else repr(text)


class Located:
    """Turns key paths into `devenv.yaml:LINE: dotted.path` prefixes."""

    def __init__(self, source: str, lines: dict[KeyPath, int]) -> None:
        self.source = source
        self.lines = lines

    def where(self, path: KeyPath) -> str:
        for end in range(len(path), 0, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return f"{self.source}:{line}"
        return self.source

    def message(self, path: KeyPath, text: str) -> str:
        """One line per problem: values quoted from the manifest may hold line breaks."""
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
        dotted = ".".join(show_key(p) for p in path)
        return f"{self.where(path)}: {dotted}: {text}" if dotted else f"{self.where(path)}: {text}"


def parse(text: str, *, source: str = "devenv.yaml") -> tuple[Manifest, Located]:
    data, lines = load_with_lines(text, source=source)
    located = Located(source, lines)
    if not isinstance(data, dict):
        raise DevenvError(
            f"{source}: expected a mapping with 'project' and 'services'",
            hint="start from `devenv init`",
        )
    problems = _name_problems(data, located)
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        problems += _messages(exc, located, data)
    if problems:  # the resolver's hint, so every manifest error ends the same way
        raise DevenvError("\n".join(problems), hint=f"fix {source}; no file was changed")
    return manifest, located


def _name_problems(data: dict[str, Any], located: Located) -> list[str]:
    """Map keys are names: pydantic cannot point at a bad key, so check them here."""
    checks = {"servers": check_compose_name, "services": check_identifier}
    problems: list[str] = []
    for section, check in checks.items():
        entries = data.get(section)
        if not isinstance(entries, dict):
            continue
        for name in entries:
            try:
                check(str(name))
            except ValueError as exc:
                problems.append(located.message((section, str(name)), str(exc)))
    return problems


def load(path: Path, *, display: str | None = None) -> tuple[Manifest, Located]:
    source = display or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DevenvError(
            f"{source}: no such file",
            hint="run `devenv init` to create one, or pass -f/--file",
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DevenvError(f"{source}: not UTF-8 (byte {exc.start})") from None
    return parse(text, source=source)


def _messages(exc: ValidationError, located: Located, data: dict[str, Any]) -> list[str]:
    out: list[str] = []
    seen: set[tuple[KeyPath, str]] = set()
    for error in exc.errors():
        path = _clean_path(error["loc"], data)
        if error["type"] == "union_tag_invalid":
            path = (*path, "kind")
        text = _describe(error, path, data)
        if (path, text) in seen:
            continue
        seen.add((path, text))
        out.append(located.message(path, text))
    return out


def _clean_path(loc: tuple[int | str, ...], data: Any) -> KeyPath:
    """The user's key path: pydantic's loc minus its union-member tags ('str', 'bool',
    'function-after[...]', a server's kind...).

    A part is a tag only when it is not a key of the user's data at that point, so a user's
    key named `str` or `[` stays in the path.
    """
    path: list[str | int] = []
    node = data
    for part in loc:
        followed = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node))
        if followed:
            node = node[part]
        elif _is_tag(part) or part == "[key]":
            continue  # a union member's name, not a key of the user's
        else:
            node = None  # a missing or unknown key: the rest cannot be followed
        path.append(part)
    return tuple(path)


def _is_tag(part: int | str) -> bool:
    return isinstance(part, str) and (
        "[" in part or part in {"bool", "str", "int", "float"} or part in SERVER_MODELS
        or part.startswith(("function-", "constrained-")))


def _describe(error: Any, path: KeyPath, data: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(path[-1])
        allowed = _allowed_keys(path[:-1], data)
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        if not close and len(path) == 3 and path[0] == "servers":
            owners = [k for k, model in SERVER_MODELS.items() if key in model.model_fields]
            if owners:
                hint = f" (a {'/'.join(owners)} key, not a {_kind_of(path[1], data)} one)"
        shown = f"'{key}'" if key.isprintable() else repr(key)
        return f"unknown key {shown}{hint}; allowed: {', '.join(allowed)}"
    if path[:1] == ("servers",) and path[-1:] == ("port",) and (
            len(path) == 3 or path[2] == "replicas"):
        return "expected a port number from 1 to 65535, or 'auto'"
    if path[:1] == ("servers",) and path[2:3] == ("settings",) and len(path) == 4:
        return "expected a string, a number or true/false"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        tag = str(error["ctx"]["tag"])
        close = difflib.get_close_matches(tag, list(SERVER_MODELS), n=1, cutoff=0.6)
        guess = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown kind {tag!r}{guess}; kinds: {', '.join(SERVER_MODELS)}"
    if kind == "model_type":
        return "expected a mapping"
    if kind == "union_tag_not_found":
        return f"'kind' is missing; kinds: {', '.join(SERVER_MODELS)}"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return message


def _kind_of(server: str | int, data: dict[str, Any]) -> str:
    raw = data.get("servers", {}).get(server, {})
    return str(raw.get("kind")) if isinstance(raw, dict) else "?"


def _allowed_keys(path: KeyPath, data: dict[str, Any]) -> list[str]:
    model: type[BaseModel] | None = Manifest
    rest = list(path)
    while rest and model is not None:
        part = rest.pop(0)
        if isinstance(part, int):
            continue  # an item of a list: the list's model holds on
        if model is Manifest and part in ("servers", "services") and rest:
            name = rest.pop(0)
            if part == "services":
                model = Service
                continue
            # A server's fields depend on its kind, which the cleaned path no longer carries.
            raw = data.get("servers", {}).get(name, {})
            kind = raw.get("kind") if isinstance(raw, dict) else None
            model = SERVER_MODELS.get(str(kind), _ServerBase)
            continue
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        model = _model_in(annotation)
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
