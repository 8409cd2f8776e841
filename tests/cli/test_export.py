"""`devenv export kubernetes` as a user runs it: files, --check, kept passwords, external."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from devenv import __version__
from tests.devenv_cli import devenv_command

TINY = "project: demo\nservices: {auth: {postgres: true, redis: true}}\n"


def run(cwd: Path, *args: str, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("DEVENV_FILE", "DATABASE_DIRECT_URL")}
    environ.update(env or {})
    return subprocess.run([*devenv_command(), *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "devenv.yaml").write_text(TINY)
    (tmp_path / "migrations" / "auth").mkdir(parents=True)
    (tmp_path / "migrations" / "auth" / "V1__items.sql").write_text("CREATE TABLE items ();\n")
    return tmp_path


def test_export_writes_the_folder_with_git_ignored_private_secrets(project: Path) -> None:
    done = run(project, "export", "kubernetes")
    assert done.returncode == 0, done.stderr
    folder = project / "k8s"
    assert "wrote k8s/kustomization.yaml" in done.stdout.splitlines()
    assert (folder / ".gitignore").read_text().splitlines()[-5:] == [
        "/images/migrate/wheels/", "/images/migrate/app/", "# Passwords: never committed.",
        "/secrets.yaml", "/passwords.json"]
    for private in ("secrets.yaml", "passwords.json"):
        assert stat.S_IMODE((folder / private).stat().st_mode) == 0o600
    kustom = yaml.safe_load((folder / "kustomization.yaml").read_text())
    assert kustom["namespace"] == "demo"
    context = folder / "images" / "migrate"
    app = context / "app"
    assert sorted(p.relative_to(app).as_posix() for p in app.rglob("*")) == [
        "devenv.yaml", "migrations", "migrations/auth", "migrations/auth/V1__items.sql"]
    wheels = sorted(p.name for p in (context / "wheels").iterdir())
    assert f"devenv_stack-{__version__}-py3-none-any.whl" in wheels
    assert any(w.startswith("psycopg_binary-") and "cp313-cp313-manylinux" in w
               and "x86_64" in w for w in wheels), wheels
    assert any(w.startswith("pydantic_core-") and "aarch64" in w for w in wheels), wheels
    assert not (project / ".devenv" / "secrets.json").exists()  # local passwords untouched


def test_a_second_export_keeps_the_passwords_and_changes_nothing(project: Path) -> None:
    assert run(project, "export", "kubernetes").returncode == 0
    before = (project / "k8s" / "secrets.yaml").read_text()
    again = run(project, "export", "kubernetes")
    assert again.returncode == 0, again.stderr
    assert "nothing to do: k8s/ is up to date" in again.stdout
    assert (project / "k8s" / "secrets.yaml").read_text() == before


def test_check_fails_on_stale_files_and_writes_nothing(project: Path) -> None:
    fresh = run(project, "export", "kubernetes", "--check")
    assert fresh.returncode == 1
    assert fresh.stderr.startswith("error: exported files are stale: k8s/.gitignore")
    assert not (project / "k8s").exists()
    assert run(project, "export", "kubernetes", "-o", "out", "--namespace", "pr-7").returncode == 0
    ok = run(project, "export", "kubernetes", "-o", "out", "--namespace", "pr-7", "--check")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "out/ is up to date with devenv.yaml\n"
    other = run(project, "export", "kubernetes", "-o", "out", "--check")
    assert other.returncode == 1 and "out/kustomization.yaml" in other.stderr


def test_external_secrets_are_named_not_written(project: Path) -> None:
    assert run(project, "export", "kubernetes").returncode == 0
    done = run(project, "export", "kubernetes", "--secrets", "external")
    assert done.returncode == 0, done.stderr
    assert not (project / "k8s" / "secrets.yaml").exists()
    assert ("Secrets to provide in the namespace: auth-env, postgres-role-auth, "
            "postgres-superuser, redis-acl") in done.stdout


def test_a_bad_namespace_is_refused(project: Path) -> None:
    done = run(project, "export", "kubernetes", "--namespace", "Not_OK")
    assert done.returncode == 1
    assert done.stderr.startswith("error: --namespace 'Not_OK' is not a Kubernetes namespace")


def test_an_extension_cnpg_cannot_declare_fails_before_any_file(tmp_path: Path) -> None:
    (tmp_path / "devenv.yaml").write_text(
        "project: demo\nservices:\n  auth:\n    postgres: true\n    extensions: [pg_cron]\n")
    done = run(tmp_path, "export", "kubernetes")
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (
        "error: devenv.yaml:5: services.auth.extensions.0: extension 'pg_cron' is not in "
        "ghcr.io/cloudnative-pg/postgresql:18-standard-trixie, so a CloudNativePG Database "
        "cannot declare it")
    assert not (tmp_path / "k8s").exists()


def test_a_command_folder_that_is_the_root_never_puts_devenv_s_passwords_in_the_image(
        tmp_path: Path) -> None:
    """Issue 27 item 15: `cwd: "sub/.."` is the root: the image got the whole project,
    .devenv/secrets.json included. Refused at its line, nothing written."""
    (tmp_path / "devenv.yaml").write_text(
        "project: demo\nservices:\n  auth:\n    postgres: true\n"
        "    migrations: {command: 'alembic upgrade head', cwd: 'sub/..'}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / ".devenv").mkdir()
    (tmp_path / ".devenv" / "secrets.json").write_text('{"passwords": {}}')
    done = run(tmp_path, "export", "kubernetes")
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (
        "error: devenv.yaml:5: services.auth.migrations.cwd: 'sub/..' is the project root: the "
        "migrate image copies the manifest and each service's own folders, never the whole "
        "project (.devenv/ holds the local passwords); give it a folder of its own, e.g. "
        "migrations/auth")
    assert not (tmp_path / "k8s").exists()


def test_the_build_context_copies_no_devenv_folder_nor_the_export_and_follows_no_link(
        tmp_path: Path) -> None:
    """A migrations folder holding a nested .devenv/, the export folder itself, and a link to
    the project's secrets: app/ gets the migrations, the link as a link, nothing else. A folder
    that is a link into .devenv/ is refused."""
    (tmp_path / "devenv.yaml").write_text(
        "project: demo\nservices:\n  auth: {postgres: true, migrations: db}\n")
    (tmp_path / ".devenv").mkdir()
    (tmp_path / ".devenv" / "secrets.json").write_text('{"passwords": {"x": "TopSecret1"}}')
    db = tmp_path / "db"
    (db / ".devenv").mkdir(parents=True)
    (db / ".devenv" / "secrets.json").write_text("nested")
    (db / "V1__items.sql").write_text("CREATE TABLE items ();\n")
    (db / "secrets.json").symlink_to("../.devenv/secrets.json")
    done = run(tmp_path, "export", "kubernetes", "-o", "db/k8s")
    assert done.returncode == 0, done.stderr
    app = tmp_path / "db" / "k8s" / "images" / "migrate" / "app"
    assert sorted(p.relative_to(app).as_posix() for p in app.rglob("*")) == [
        "db", "db/V1__items.sql", "db/secrets.json", "devenv.yaml"]
    assert (app / "db" / "secrets.json").is_symlink()
    assert not any(b"TopSecret1" in p.read_bytes() for p in app.rglob("*")
                   if p.is_file() and not p.is_symlink())

    (tmp_path / "devenv.yaml").write_text(
        "project: demo\nservices:\n  auth: {postgres: true, migrations: linked}\n")
    (tmp_path / "linked").symlink_to(".devenv")
    refused = run(tmp_path, "export", "kubernetes", "-o", "out")
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[0] == (  # refused when the manifest loads, located
        "error: devenv.yaml:3: services.auth.migrations: 'linked' is inside .devenv/, devenv's "
        "private folder (local passwords); keep migrations and seeds in a folder of their own")


def test_migrate_in_cluster_needs_the_job_s_environment(project: Path) -> None:
    done = run(project, "migrate", "auth", "--in-cluster")
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == "error: --in-cluster: DATABASE_DIRECT_URL is not set"
    usage = run(project, "migrate", "--in-cluster")
    assert usage.returncode == 2
    assert "--in-cluster migrates exactly one service" in usage.stderr


def test_migrate_in_cluster_waits_for_its_database_then_says_so(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from devenv.cli.migrate import migrate_in_cluster
    from devenv.console import Console
    from devenv.errors import DevenvError
    from devenv.model.resolve import load_stack

    monkeypatch.setenv("DATABASE_DIRECT_URL", "postgresql://auth:pw@127.0.0.1:1/auth")
    out = io.StringIO()
    with pytest.raises(DevenvError) as err:
        migrate_in_cluster(load_stack(project / "devenv.yaml"), Console(out=out), name="auth",
                           wait=0)
    assert err.value.message.startswith("database of service 'auth' did not answer in 0 s")
    assert err.value.hint is not None and "kubectl get cluster,database" in err.value.hint


def test_an_export_with_extension_images_says_what_the_cluster_needs(tmp_path: Path) -> None:
    """Issue 26 item 5: CNPG's image volume extensions need more than CNPG 1.27 alone
    (docs/src/imagevolume_extensions.md: Kubernetes 1.33+ with ImageVolume, PostgreSQL 18;
    PostGIS's `env` from CNPG 1.29)."""
    (tmp_path / "devenv.yaml").write_text(
        "project: demo\nservers: {db: {kind: postgres, image: 'postgres:18'}}\n"
        "services: {geo: {postgres: db, extensions: [postgis]}}\n")
    done = run(tmp_path, "export", "kubernetes")
    assert done.returncode == 0, done.stderr
    assert ("db mounts postgis from CloudNativePG's extension images: it needs Kubernetes "
            "1.33+ with the ImageVolume feature (on by default from 1.35; containerd 2.1+ or "
            "CRI-O 1.31+) and CloudNativePG 1.29+") in done.stdout.splitlines()
    (tmp_path / "devenv.yaml").write_text(TINY)
    assert "ImageVolume" not in run(tmp_path, "export", "kubernetes").stdout
