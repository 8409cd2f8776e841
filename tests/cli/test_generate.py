"""The `devenv` command as a user runs it (a subprocess of the console script) in tmp folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from devenv import __version__
from tests.devenv_cli import devenv_command

TINY = "project: demo\nservices: {auth: {postgres: true, redis: true}}\n"


def run(cwd: Path, *args: str,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "DEVENV_FILE"}
    environ.update(env or {})
    return subprocess.run([*devenv_command(), *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=60, check=False)


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under root with its bytes and mode."""
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mode)
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "devenv.yaml").write_text(TINY)
    return tmp_path


# -- init ---------------------------------------------------------------------------------


def test_init_scaffolds_a_project(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / ".gitignore").write_text("*.pyc")
    done = run(folder, "init")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "created devenv.yaml",
        "created migrations/app/V1__create_items.sql",
        "created seeds/app/01_items.sql",
        "added .devenv/ to .gitignore",
        "next: devenv up",
    ]
    manifest = yaml.safe_load((folder / "devenv.yaml").read_text())
    assert manifest == {"project": "shop", "services": {"app": {"postgres": True, "redis": True}}}
    assert (folder / "migrations" / "app" / "V1__create_items.sql").is_file()
    assert (folder / "seeds" / "app" / "01_items.sql").is_file()
    assert (folder / ".gitignore").read_text() == (
        "*.pyc\n# devenv's private state (passwords)\n.devenv/\n")
    # What init writes is a valid manifest that generates.
    assert run(folder, "generate").returncode == 0


def test_init_refuses_the_second_time_and_names_the_files(tmp_path: Path) -> None:
    assert run(tmp_path, "init", "--project", "demo").returncode == 0
    before = snapshot(tmp_path)
    done = run(tmp_path, "init", "--project", "demo")
    assert done.returncode == 1
    assert done.stderr == (
        "error: devenv init: refusing to overwrite devenv.yaml, "
        "migrations/app/V1__create_items.sql, seeds/app/01_items.sql\n"
        "hint: remove them or run `devenv init` in another folder\n"
    )
    assert snapshot(tmp_path) == before
    assert (tmp_path / ".gitignore").read_text().count(".devenv/") == 1


def test_init_inside_another_project_refuses_unless_nested(tmp_path: Path) -> None:
    assert run(tmp_path, "init", "--project", "outer").returncode == 0
    inner = tmp_path / "services" / "new"
    inner.mkdir(parents=True)
    done = run(inner, "init", "--project", "inner")
    assert done.returncode == 1
    assert done.stderr == (
        f"error: devenv init: {inner} is inside the project of {tmp_path / 'devenv.yaml'}; a "
        "project here would hide it from every devenv command run in this folder\n"
        f"hint: add a service to {tmp_path / 'devenv.yaml'} instead, or pass --nested to create "
        "a separate project here (give it its own ports, e.g. `ports: {base: 20000}`)\n")
    assert not (inner / "devenv.yaml").exists()
    assert run(inner, "init", "--project", "inner", "--nested").returncode == 0
    assert (inner / "devenv.yaml").exists()


def test_init_with_a_bad_service_name(tmp_path: Path) -> None:
    done = run(tmp_path, "init", "--project", "demo", "--service", "My-App")
    assert done.returncode == 1
    assert done.stderr == (
        "error: devenv init: 'My-App' is not a lowercase PostgreSQL identifier (letters a-z, "
        "digits and '_', not starting with a digit)\nhint: pass --project / --service\n"
    )
    assert list(tmp_path.iterdir()) == []


# -- generate -----------------------------------------------------------------------------


def test_generate_writes_the_compose_file(project: Path) -> None:
    done = run(project, "generate")
    assert done.returncode == 0, done.stderr
    assert "wrote compose/compose.yaml" in done.stdout.splitlines()
    compose = yaml.safe_load((project / "compose" / "compose.yaml").read_text())
    assert compose["name"] == "demo"
    assert list(compose["services"]) == ["postgres", "redis"]
    again = run(project, "generate")
    assert again.returncode == 0
    assert again.stdout == "nothing to do: generated files are up to date\n"


def test_check_passes_when_fresh_and_fails_naming_the_stale_file(project: Path) -> None:
    assert run(project, "generate").returncode == 0
    fresh = run(project, "generate", "--check")
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout == "compose/ is up to date with devenv.yaml\n"

    compose = project / "compose" / "compose.yaml"
    compose.write_text(compose.read_text() + "# edited by hand\n")
    before = snapshot(project)
    stale = run(project, "generate", "--check")
    assert stale.returncode == 1
    assert stale.stderr == (
        "error: generated files are stale: compose/compose.yaml\n"
        "hint: run `devenv generate` and commit the result\n"
    )
    assert snapshot(project) == before


def test_check_writes_nothing_even_when_nothing_was_generated(project: Path) -> None:
    done = run(project, "generate", "--check")
    assert done.returncode == 1
    assert "compose/compose.yaml" in done.stderr
    assert sorted(p.name for p in project.iterdir()) == ["devenv.yaml"]


def test_check_notices_a_manifest_change(project: Path) -> None:
    assert run(project, "generate").returncode == 0
    (project / "devenv.yaml").write_text(TINY.replace("demo", "other"))
    done = run(project, "generate", "--check")
    assert done.returncode == 1
    assert done.stderr.startswith("error: generated files are stale: compose/compose.yaml\n")


@pytest.mark.parametrize(("manifest", "stderr"), [
    ("project: demo\nservices:\n  auth:\n    postgress: true\n",
     "error: devenv.yaml:4: services.auth.postgress: unknown key 'postgress' (did you mean "
     "'postgres'?); allowed: postgres, database, role, extensions, pgbouncer, reads, redis, "
     "migrations, seeds, env_file, env\nhint: fix devenv.yaml; no file was changed\n"),
    ("project: demo\nservices:\n  auth:\n    postgres: main\n",
     "error: devenv.yaml:4: services.auth.postgres: no server named 'main' "
     "(postgres/timescaledb servers: none)\nhint: fix devenv.yaml; no file was changed\n"),
    ("project: demo\nservices: [\n",
     "error: devenv.yaml:3:1: YAML syntax error: expected the node content, but found "
     "'<stream end>'\nhint: check indentation and quoting around that line\n"),
])
def test_bad_manifest_exits_1_and_changes_no_file(project: Path, manifest: str,
                                                  stderr: str) -> None:
    assert run(project, "generate").returncode == 0
    (project / "devenv.yaml").write_text(manifest)
    before = snapshot(project)
    for args in (["generate"], ["generate", "--check"], ["config"]):
        done = run(project, *args)
        assert done.returncode == 1, args
        assert done.stderr == stderr
        assert done.stdout == ""
        assert snapshot(project) == before


def test_missing_manifest(tmp_path: Path) -> None:
    done = run(tmp_path, "-f", "devenv.yaml", "generate")
    assert done.returncode == 1
    assert done.stderr == (
        "error: devenv.yaml: no such file\n"
        "hint: run `devenv init` to create one, or pass -f/--file\n"
    )
    assert list(tmp_path.iterdir()) == []


# -- other verbs and options --------------------------------------------------------------


def test_version_names_the_distribution_python_and_docker(tmp_path: Path) -> None:
    """Issue 25: the distribution's own name (devenv.sh's command is `devenv` too), the Python
    it runs on and the Docker Engine it drives."""
    done = run(tmp_path, "--version")
    python = ".".join(str(p) for p in sys.version_info[:3])
    engine = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                            capture_output=True, text=True, check=False).stdout.strip()
    docker = f"Docker Engine {engine}" if engine else "Docker: no engine answers"
    assert (done.returncode, done.stdout) == (
        0, f"devenv-stack {__version__} (Python {python}, {docker})\n")


def test_version_without_an_engine(tmp_path: Path) -> None:
    done = run(tmp_path, "--version", env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert done.stdout.endswith(", Docker: no engine answers)\n"), done.stdout


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    done = run(tmp_path, "frobnicate")
    assert done.returncode == 2
    assert "No such command 'frobnicate'" in done.stderr


def test_unknown_option_is_a_usage_error(project: Path) -> None:
    done = run(project, "generate", "--chek")
    assert done.returncode == 2
    assert "No such option: --chek" in done.stderr


def test_config_prints_the_resolved_defaults(project: Path) -> None:
    done = run(project, "config")
    assert done.returncode == 0, done.stderr
    resolved: dict[str, Any] = yaml.safe_load(done.stdout)
    assert resolved["project"] == "demo"
    assert resolved["environment"] == "dev"
    assert resolved["compose_dir"] == "compose"
    assert resolved["naming"] == {"database": "{service}", "role": "{service}"}
    assert resolved["roles"] == {}
    assert resolved["servers"] == {
        "postgres": {"kind": "postgres", "image": "postgres:18", "port": 5432,
                     "bind": "127.0.0.1", "settings": {},
                     "data_dir": "/var/lib/postgresql", "storage": "volume",
                     "clone_memory": "512m", "tmpfs_size": "2g", "replicas": 0},
        "redis": {"kind": "redis", "image": "redis:8", "port": 6379, "bind": "127.0.0.1",
                  "persistence": "aof", "search": False},
    }
    assert resolved["services"]["auth"] == {
        "postgres": "postgres", "database": "auth", "role": "auth", "extensions": [],
        "pgbouncer": False, "reads": [], "redis": "redis",
        "migrations": {"path": "migrations/auth", "out_of_order": False},
        "seeds": "seeds/auth", "env_file": ".devenv/env/auth.env", "env": {},
    }
    # config only reads.
    assert sorted(p.name for p in project.iterdir()) == ["devenv.yaml"]


def test_config_prints_every_setting_and_no_nulls(tmp_path: Path) -> None:
    """The naming block and roles as set; PgBouncer without `target` pools every server, so
    no `target: null` (which reads as a server named null)."""
    (tmp_path / "devenv.yaml").write_text(
        "project: demo\nnaming: {database: '{service}_db', role: '{service}_user'}\n"
        "roles: {admin: dba}\n"
        "servers:\n  pg: {kind: postgres}\n  pool: {kind: pgbouncer}\n"
        "services: {auth: {postgres: pg, pgbouncer: true}}\n")
    done = run(tmp_path, "config")
    assert done.returncode == 0, done.stderr
    assert "null" not in done.stdout
    resolved: dict[str, Any] = yaml.safe_load(done.stdout)
    assert resolved["naming"] == {"database": "{service}_db", "role": "{service}_user"}
    assert resolved["roles"] == {"admin": "dba"}
    assert resolved["servers"]["pool"] == {
        "kind": "pgbouncer", "image": "edoburu/pgbouncer:latest", "port": 6432,
        "bind": "127.0.0.1", "pool_mode": "transaction", "default_pool_size": 20,
        "min_pool_size": 0, "reserve_pool_size": 0, "max_client_conn": 200}
    (tmp_path / "explicit.yaml").write_text(done.stdout)
    again = run(tmp_path, "-f", "explicit.yaml", "config")
    assert again.stdout == done.stdout


def test_config_output_is_a_manifest_that_resolves_the_same(project: Path) -> None:
    first = run(project, "config")
    (project / "explicit.yaml").write_text(first.stdout)
    second = run(project, "-f", "explicit.yaml", "config")
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout


def test_schema_describes_every_field(tmp_path: Path) -> None:
    done = run(tmp_path, "schema")
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    models = {"Manifest": schema, **schema["$defs"]}
    assert {"Service", "PostgresServer", "TimescaleServer", "RedisServer", "PgBouncerServer",
            "Migrations", "Naming", "Roles"} <= set(models)
    undocumented = [f"{model}.{name}" for model, body in models.items()
                    for name, prop in body.get("properties", {}).items()
                    if not prop.get("description")]
    assert undocumented == []
    assert schema["required"] == ["project", "services"]


def test_file_option_selects_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "stack").mkdir()
    (tmp_path / "stack" / "other.yaml").write_text(TINY.replace("demo", "other"))
    done = run(tmp_path, "-f", "stack/other.yaml", "generate")
    assert done.returncode == 0, done.stderr
    compose = (tmp_path / "stack" / "compose" / "compose.yaml").read_text()
    assert compose.startswith("# Generated by devenv from other.yaml: do not edit.")
    assert yaml.safe_load(compose)["name"] == "other"
    assert not (tmp_path / "compose").exists()
    checked = run(tmp_path, "--file", "stack/other.yaml", "generate", "--check")
    assert checked.returncode == 0, checked.stderr


def test_devenv_file_variable_selects_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "devenv.yaml").write_text(TINY)
    (tmp_path / "other.yaml").write_text(TINY.replace("demo", "other"))
    done = run(tmp_path, "config", env={"DEVENV_FILE": "other.yaml"})
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout)["project"] == "other"
    # -f wins over the variable.
    done = run(tmp_path, "-f", "devenv.yaml", "config", env={"DEVENV_FILE": "other.yaml"})
    assert yaml.safe_load(done.stdout)["project"] == "demo"


def test_errors_name_the_selected_manifest(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text("project: demo\nservices:\n  auth:\n    postgres: x\n")
    done = run(tmp_path, "generate", env={"DEVENV_FILE": "other.yaml"})
    assert done.returncode == 1
    assert done.stderr == (
        "error: other.yaml:4: services.auth.postgres: no server named 'x' "
        "(postgres/timescaledb servers: none)\nhint: fix other.yaml; no file was changed\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.yaml"]


# -- finding the manifest -----------------------------------------------------------------


def test_manifest_is_found_in_a_parent_folder_and_paths_stay_relative_to_it(
        project: Path) -> None:
    nested = project / "migrations" / "auth"
    nested.mkdir(parents=True)
    done = run(nested, "generate")
    assert done.returncode == 0, done.stderr
    assert (project / "compose" / "compose.yaml").is_file()
    assert not (nested / "compose").exists()
    assert not (nested / ".devenv").exists()
    config = run(nested, "config")
    assert yaml.safe_load(config.stdout)["project"] == "demo"


def test_nearest_manifest_wins_and_file_or_variable_win_over_discovery(project: Path) -> None:
    inner = project / "inner"
    (inner / "deeper").mkdir(parents=True)
    (inner / "devenv.yaml").write_text(TINY.replace("demo", "inner"))
    assert yaml.safe_load(run(inner / "deeper", "config").stdout)["project"] == "inner"
    done = run(inner / "deeper", "config", env={"DEVENV_FILE": str(project / "devenv.yaml")})
    assert yaml.safe_load(done.stdout)["project"] == "demo"
    done = run(inner / "deeper", "-f", "../../devenv.yaml", "config")
    assert yaml.safe_load(done.stdout)["project"] == "demo"


def test_no_manifest_anywhere_says_where_it_looked(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    done = run(private, "status")
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: no devenv.yaml in {private} or ")
    # pytest's folders are under the world-writable /tmp: the search stops there
    top = next(p for p in private.parents if p.stat().st_mode & 0o002 or p == Path("/"))
    if top == Path("/"):
        assert done.stderr == (f"error: no devenv.yaml in {private} or any folder above it\n"
                               "hint: run `devenv init` to create one, or pass -f/--file\n")
    else:
        assert f"the search stops at {top}, which every user may write to\n" in done.stderr


def test_init_in_a_subfolder_writes_there_not_over_the_parent(project: Path) -> None:
    sub = project / "other"
    sub.mkdir()
    done = run(sub, "init", "--nested")
    assert done.returncode == 0, done.stderr
    assert (sub / "devenv.yaml").is_file()
    assert (project / "devenv.yaml").read_text() == TINY


def test_the_search_stops_at_a_folder_another_user_may_write_to(tmp_path: Path) -> None:
    """Issue 27, item 3: a devenv.yaml planted in a shared parent folder (a world-writable
    temp folder) ran its `command:` migration as whoever ran devenv in a subfolder."""
    shared = tmp_path / "shared"
    mine = shared / "mine" / "sub"
    mine.mkdir(parents=True)
    ran = tmp_path / "ran"
    (shared / "devenv.yaml").write_text(
        "project: planted\nservices:\n  app:\n    postgres: true\n"
        f"    migrations: {{command: 'touch {ran}'}}\n")
    shared.chmod(0o777)
    done = run(mine, "config")
    assert done.returncode == 1, done.stdout
    assert done.stderr == (
        f"error: no devenv.yaml in {mine} or the folders above it up to {shared / 'mine'}: "
        f"the search stops at {shared}, which every user may write to (its devenv.yaml was "
        "not read)\nhint: a devenv.yaml there could be anyone's; pass -f/--file to use one "
        "you trust, or run `devenv init` in your own folder\n")
    if os.geteuid() != 0:  # only root can give a folder away; CI runs as root
        return
    shared.chmod(0o755)
    os.chown(shared, 65534, 65534)  # nobody's: as root, the attack's victim
    done = run(mine, "status")
    assert done.returncode == 1, done.stdout
    assert f"the search stops at {shared}, which belongs to another user (uid 65534, you " \
        in done.stderr, done.stderr
    os.chown(shared, os.getuid(), os.getgid())
    os.chown(shared / "devenv.yaml", 65534, 65534)  # in a folder of yours, but not yours
    done = run(shared, "migrate")
    assert done.returncode == 1, done.stdout
    assert f"error: no devenv.yaml read in {shared}: the search stops at {shared}, which " \
        "holds a devenv.yaml that belongs to another user (uid 65534, you" in done.stderr
    assert not ran.exists()
    done = run(mine, "-f", str(shared / "devenv.yaml"), "config")  # on purpose: read
    assert done.returncode == 0, done.stderr
