"""Rendering: golden files for the example stacks, determinism, no secrets, compose invariants.

`UPDATE_GOLDEN=1 pytest tests/model/test_render.py` rewrites tests/golden/ from the renderer;
read the diff before committing it.
"""

from __future__ import annotations

import os
import shutil
import stat
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from devenv.errors import DevenvError
from devenv.model.credentials import Secrets, needed
from devenv.model.manifest import parse
from devenv.model.render import compose_files, state_files
from devenv.model.replicas import all_replicas
from devenv.model.resolve import load_stack, resolve
from devenv.model.stack import Stack
from devenv.store import generated
from tests.committed import committed_stack, committed_text

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parents[1] / "golden"
EXAMPLES = {
    "capsule": REPO / "devenv.yaml",
    "pcc": REPO / "examples" / "pcc" / "devenv.yaml",
}
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

ALL_KINDS = """
project: kinds
servers:
  db: {kind: postgres, settings: {max_connections: 50, fsync: false}}
  ts: {kind: timescaledb}
  cache: {kind: redis, persistence: none}
  pool: {kind: pgbouncer, target: db}
  spare: {kind: postgres, port: auto}
services:
  auth: {postgres: db, pgbouncer: pool, redis: true, extensions: [pg_stat_statements]}
  metrics: {postgres: ts, extensions: [timescaledb], redis: cache}
  audit: {postgres: spare}
"""
TINY = "project: demo\nservices: {auth: {postgres: true, redis: true}}\n"


def example(name: str) -> Stack:
    return committed_stack(EXAMPLES[name])


def stack_of(text: str, root: Path = Path("/project")) -> Stack:
    manifest, located = parse(textwrap.dedent(text).lstrip("\n"))
    return resolve(manifest, located, root=root)


def all_stacks() -> dict[str, Stack]:
    stacks = {name: example(name) for name in EXAMPLES}
    stacks["all-kinds"] = stack_of(ALL_KINDS)
    stacks["tiny"] = stack_of(TINY)
    return stacks


def compose_of(stack: Stack) -> dict[str, Any]:
    text = compose_files(stack)[stack.compose_dir / "compose.yaml"]
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def fake_secrets(stack: Stack) -> Secrets:
    """Recognisable passwords, distinct per key."""
    return Secrets({key: f"FakePw{i:03d}x{key.replace('/', 'Q').replace('-', 'Z')}"
                    for i, key in enumerate(needed(stack))})


# -- golden files -------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_golden(name: str) -> None:
    rendered = compose_files(example(name))
    folder = GOLDEN / name
    if UPDATE:
        shutil.rmtree(folder, ignore_errors=True)
        for rel, text in rendered.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
    committed = {p.relative_to(folder): p.read_text()
                 for p in sorted(folder.rglob("*")) if p.is_file()}
    assert sorted(committed) == sorted(rendered), "set UPDATE_GOLDEN=1 to rewrite tests/golden/"
    for rel, text in rendered.items():
        assert text == committed[rel], f"{rel} differs from tests/golden/{name}/{rel}"


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_committed_example_files_match_the_renderer(name: str) -> None:
    stack = example(name)
    for rel, text in compose_files(stack).items():
        assert committed_text(stack.root / rel) == text, f"{stack.root / rel} is stale"


# -- determinism and secrets --------------------------------------------------------------


@pytest.mark.parametrize("name", ["capsule", "pcc", "all-kinds", "tiny"])
def test_rendering_twice_gives_identical_bytes(name: str) -> None:
    first = {str(k): v.encode() for k, v in compose_files(all_stacks()[name]).items()}
    second = {str(k): v.encode() for k, v in compose_files(all_stacks()[name]).items()}
    assert first == second


@pytest.mark.parametrize("name", ["capsule", "pcc", "all-kinds", "tiny"])
def test_no_secret_reaches_the_committed_files(name: str) -> None:
    stack = all_stacks()[name]
    creds = fake_secrets(stack)
    private = state_files(stack, creds, {"spare": 45678})
    committed = "\n".join(compose_files(stack).values())
    for password in creds.all():
        assert password not in committed
    # Nor any line of the private files (ACLs with password hashes, userlists).
    for text in private.values():
        for line in text.splitlines():
            if not line.startswith("#"):
                assert len(line) < 8 or line not in committed, line
    # The private files carry every password the servers need, one Compose secret each, and
    # the committed file hands them over as files only: no environment value is a secret.
    for server in stack.servers.values():
        if server.is_database:
            path = Path(f".devenv/secrets/{server.name}/admin-password")
            assert private[path] == creds.get(server.name, "postgres")
            env = compose_of(stack)["services"][server.name]["environment"]
            assert env["POSTGRES_PASSWORD_FILE"] == f"/run/secrets/{server.name}-admin-password"
        if server.is_redis:
            acl = private[Path(f".devenv/secrets/{server.name}/users-acl")]
            assert acl.startswith("user default on #")


def test_state_files_hold_the_auto_port() -> None:
    stack = stack_of(ALL_KINDS)
    private = state_files(stack, fake_secrets(stack), {"spare": 45678})
    assert private[Path(".devenv/compose.env")].endswith("DEVENV_PORT_SPARE=45678\n")
    ports = compose_of(stack)["services"]["spare"]["ports"]
    assert ports == ["127.0.0.1:${DEVENV_PORT_SPARE:?run devenv up to choose this port}:5432"]


# -- compose invariants -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["capsule", "pcc", "all-kinds", "tiny"])
def test_every_server_is_local_healthchecked_restarted_and_labelled(name: str) -> None:
    stack = all_stacks()[name]
    data = compose_of(stack)
    assert data["name"] == stack.project
    replicas = [r.name for r in all_replicas(list(stack.servers.values()))]
    assert sorted(data["services"]) == sorted([*stack.servers, *replicas])
    for server_name, service in data["services"].items():
        for port in service["ports"]:
            assert port.startswith("127.0.0.1:"), port
        assert service["healthcheck"]["test"], server_name
        assert service["restart"] == "unless-stopped"
        labels = service["labels"]
        assert labels["dev.devenv.project"] == stack.project
        if server_name in replicas:
            continue  # a standby of its primary: checked in tests/model/test_replicas.py
        server = stack.servers[server_name]
        assert labels["dev.devenv.server"] == server_name
        assert labels["dev.devenv.kind"] == server.kind
        assert "env_file" not in service  # `docker compose config` on a fresh clone
        assert labels["dev.devenv.secrets"].startswith("${DEVENV_SECRETS_")
        for secret in service["secrets"]:
            key = secret.removeprefix(f"{server_name}-")
            assert data["secrets"][secret] == {
                "file": f"../.devenv/secrets/{server_name}/{key}"}
        if server.is_database:
            test = service["healthcheck"]["test"]
            assert test[:4] == ["CMD", "pg_isready", "-h", "127.0.0.1"], test
    for volume in data.get("volumes", {}).values():
        assert volume["labels"]["dev.devenv.project"] == stack.project


@pytest.mark.parametrize("name", ["capsule", "pcc", "all-kinds", "tiny"])
def test_no_start_interval(name: str) -> None:
    # healthcheck.start_interval needs Engine >= 25: older engines reject the file.
    for text in compose_files(all_stacks()[name]).values():
        assert "start_interval" not in text


def test_all_kinds_render_what_the_manifest_says() -> None:
    services = compose_of(stack_of(ALL_KINDS))["services"]
    # devenv's speed defaults first (the manifest's own fsync replaces devenv's), then the
    # manifest's settings, sorted.
    assert services["db"]["command"] == [
        "postgres", "-c", "shared_preload_libraries=pg_stat_statements",
        "-c", "full_page_writes=off", "-c", "fsync=off", "-c", "max_connections=50"]
    # TimescaleDB: sized like PostgreSQL whatever the host's memory, worker slots for its
    # schedulers and the others' workers, no telemetry.
    assert services["ts"]["command"] == [
        "postgres", "-c", "shared_preload_libraries=timescaledb",
        "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=100",
        "-c", "max_worker_processes=32", "-c", "timescaledb.telemetry_level=off"]
    assert services["ts"]["environment"]["NO_TS_TUNE"] == "true"
    assert services["ts"]["environment"]["TIMESCALEDB_TELEMETRY"] == "off"
    assert "--appendonly no --save ''" in services["cache"]["command"][2]
    # PgBouncer connects lazily; depends_on would make `devenv up one-service` start them all.
    assert "depends_on" not in services["pool"]
    assert services["spare"]["ports"][0].startswith("127.0.0.1:${DEVENV_PORT_SPARE:?")


def test_initdb_skips_its_fsync_only_where_the_server_runs_without_fsync() -> None:
    services = compose_of(stack_of("""
project: p
servers:
  fast: {kind: postgres}
  ts: {kind: timescaledb}
  durable: {kind: postgres, settings: {fsync: on}}
services:
  a: {postgres: fast}
  b: {postgres: ts}
  c: {postgres: durable}
"""))["services"]
    assert services["fast"]["environment"]["POSTGRES_INITDB_ARGS"] == "--no-sync"
    assert services["ts"]["environment"]["POSTGRES_INITDB_ARGS"] == "--no-sync"
    assert "-c" in services["durable"]["command"] and "fsync=on" in services["durable"]["command"]
    assert "POSTGRES_INITDB_ARGS" not in services["durable"]["environment"]


@pytest.mark.parametrize(("image", "data_dir"), [
    ("postgres:17", "/var/lib/postgresql/data"),
    ("postgres:16-alpine", "/var/lib/postgresql/data"),
    ("postgres:18", "/var/lib/postgresql"),
    ("postgres:18.1-bookworm", "/var/lib/postgresql"),
    ("timescale/timescaledb:latest-pg18", "/var/lib/postgresql"),
    ("registry.local:5000/postgres:18", "/var/lib/postgresql"),
    # A digest pin: the tag before it still names the major (the image, when present, decides).
    ("postgres:17@sha256:" + "a" * 64, "/var/lib/postgresql/data"),
    ("timescale/timescaledb:2.19.3-pg17", "/var/lib/postgresql/data"),
])
def test_data_dir_follows_the_image_major(image: str, data_dir: str) -> None:
    stack = stack_of(f"project: demo\nservers: {{db: {{kind: postgres, image: '{image}'}}}}\n"
                     "services: {auth: {postgres: true}}\n")
    assert compose_of(stack)["services"]["db"]["volumes"] == [f"db-data:{data_dir}"]


def test_tmpfs_storage_mounts_the_data_dir_in_memory_and_makes_no_volume() -> None:
    stack = stack_of("project: demo\nservers: {db: {kind: postgres, storage: tmpfs, "
                     "image: 'postgres:17'}, keep: {kind: postgres, image: 'postgres:17'}}\n"
                     "services: {auth: {postgres: db}, "
                     "billing: {postgres: keep}}\n")
    compose = compose_of(stack)
    assert compose["services"]["db"]["tmpfs"] == ["/var/lib/postgresql/data:size=2g"]
    assert "volumes" not in compose["services"]["db"]
    assert compose["services"]["keep"]["volumes"] == ["keep-data:/var/lib/postgresql/data"]
    assert list(compose["volumes"]) == ["keep-data"]


@pytest.mark.parametrize(("image", "uid"), [
    ("postgres:17", 999),  # docker-library/postgres Debian: useradd --uid=999
    ("postgres:18-alpine", 70),  # Alpine: adduser -u 70
    ("timescale/timescaledb:latest-pg17", 70),  # FROM postgres:17-alpine
    ("registry.local:5000/postgres:17", 999),
])
def test_clones_get_a_capped_tmpfs_owned_by_the_images_postgres_user(image: str,
                                                                    uid: int) -> None:
    stack = stack_of(f"project: demo\nservers: {{db: {{kind: postgres, image: '{image}', "
                     "clone_memory: 2g}}\nservices: {auth: {postgres: true}}\n")
    assert compose_of(stack)["services"]["db"]["tmpfs"] == [
        f"/var/lib/devenv-clones:uid={uid},gid={uid},mode=0700,size=2g"]


def test_clone_memory_defaults_to_512m_and_rejects_what_tmpfs_would_not_take(
        tmp_path: Path) -> None:
    stack = stack_of("project: demo\nservers: {db: {kind: postgres}}\n"
                     "services: {auth: {postgres: true}}\n")
    assert compose_of(stack)["services"]["db"]["tmpfs"][0].endswith(",size=512m")
    (tmp_path / "devenv.yaml").write_text("project: demo\nservers:\n  db:\n    kind: postgres\n"
                                          "    clone_memory: 1.5GB\n"
                                          "services: {auth: {postgres: db}}\n")
    with pytest.raises(DevenvError) as failed:
        load_stack(tmp_path / "devenv.yaml")
    assert "devenv.yaml:5: servers.db.clone_memory" in str(failed.value), failed.value


def test_unknown_storage_is_a_manifest_error_with_its_line(tmp_path: Path) -> None:
    from devenv.errors import DevenvError

    (tmp_path / "devenv.yaml").write_text("project: demo\nservers:\n  db:\n    kind: postgres\n"
                                          "    storage: ram\nservices: {auth: {postgres: db}}\n")
    with pytest.raises(DevenvError) as failed:
        load_stack(tmp_path / "devenv.yaml")
    assert "devenv.yaml:5" in str(failed.value) and "storage" in str(failed.value), failed.value


def test_state_files_are_private_after_write_generated(tmp_path: Path) -> None:
    (tmp_path / "devenv.yaml").write_text(ALL_KINDS)
    stack = load_stack(tmp_path / "devenv.yaml")
    changed = generated.write(stack, {"spare": 45678})
    assert Path("compose/compose.yaml") in changed
    private = [p for p in (tmp_path / ".devenv").rglob("*") if p.is_file()]
    assert {p.relative_to(tmp_path).as_posix() for p in private} == {
        ".devenv/secrets.json", ".devenv/compose.env",
        *(f".devenv/secrets/{name}/admin-password" for name in ("db", "ts", "spare")),
        ".devenv/secrets/cache/users-acl", ".devenv/secrets/cache/users-acl-search",
        ".devenv/secrets/cache/default-password",
        ".devenv/secrets/pool/userlist"}
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in [tmp_path / ".devenv", tmp_path / ".devenv" / "secrets",
                   tmp_path / ".devenv" / "secrets" / "db"]:
        assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0, folder
    assert stat.S_IMODE((tmp_path / "compose" / "compose.yaml").stat().st_mode) == 0o644
    # A second run changes nothing and keeps the passwords.
    before = (tmp_path / ".devenv" / "secrets.json").read_text()
    assert generated.write(stack, {"spare": 45678}) == []
    assert (tmp_path / ".devenv" / "secrets.json").read_text() == before
