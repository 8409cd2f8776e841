"""What `devenv up` refuses before it starts anything (no Docker needed to see it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_generate import run


def test_up_never_replaces_a_file_it_did_not_write(tmp_path: Path) -> None:
    """`env_file: .env` where the project keeps its own .env: refused, the file untouched."""
    (tmp_path / "devenv.yaml").write_text(
        "project: demo\nservices:\n  app:\n    postgres: true\n    env_file: .env\n")
    own = "API_KEY=the project's own\n"
    (tmp_path / ".env").write_text(own)
    done = run(tmp_path, "up")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr == (
        "error: services.app.env_file: .env exists and was not written by devenv: refusing to "
        "replace it\nhint: point env_file in devenv.yaml at another path, or move the file "
        "aside if devenv may own it\n")
    assert (tmp_path / ".env").read_text() == own
    assert not (tmp_path / "compose").exists()  # nothing generated, nothing started


def test_a_manifest_that_writes_outside_the_project_changes_no_file(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "devenv.yaml").write_text(
        "project: demo\nservices:\n  app:\n    postgres: true\n    env_file: ../victim.env\n")
    done = run(project, "generate")
    assert done.returncode == 1
    assert "services.app.env_file: '../victim.env' is outside the project" in done.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["devenv.yaml", "project"]


@pytest.mark.parametrize(("name", "content", "why"), [
    ("V1__latin1.sql", "INSERT INTO t VALUES ('caf\xe9');\n".encode("latin-1"), "UTF-8"),
    ("V1__empty.sql", b"", "empty"),
])
def test_a_bad_migration_folder_fails_before_any_password_or_file_is_made(
        tmp_path: Path, name: str, content: bytes, why: str) -> None:
    (tmp_path / "devenv.yaml").write_text("project: demo\nservices:\n  app: {postgres: true}\n")
    folder = tmp_path / "migrations" / "app"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(content)
    done = run(tmp_path, "up")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"migrations/app/{name}" in done.stderr and why in done.stderr, done.stderr
    assert not (tmp_path / ".devenv" / "secrets.json").exists()
    assert not (tmp_path / "compose").exists()


def test_up_refuses_reserved_names_before_any_container(tmp_path: Path) -> None:
    """Issue 27, item 8: a Redis service named `default` made Redis stop at start ("Duplicate
    user"), and a service named `pgbouncer` got PgBouncer's admin console with its password.
    Now refused when the manifest loads, with its line, before anything is written."""
    import uuid

    (tmp_path / "devenv.yaml").write_text(
        f"project: t-reserved-{uuid.uuid4().hex[:8]}\n"
        "servers:\n  cache: {kind: redis, port: auto}\n  pg: {kind: postgres, port: auto}\n"
        "  pool: {kind: pgbouncer, port: auto}\n"
        "services:\n  default: {redis: cache}\n  pgbouncer: {postgres: pg, pgbouncer: pool}\n")
    try:
        done = run(tmp_path, "up")
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stderr.splitlines() == [
            "error: devenv.yaml:7: services.default: 'default' is Redis's own admin user, and a "
            "service's ACL user takes the service's name (Redis would stop with \"Duplicate "
            "user\"); rename the service",
            "devenv.yaml:8: services.pgbouncer: 'pgbouncer' is PgBouncer's admin console; give "
            "the service another database name",
            "devenv.yaml:8: services.pgbouncer: 'pgbouncer' is PgBouncer's admin console user "
            "(its password would open the console: SHOW USERS, PAUSE); choose another name",
            "hint: fix devenv.yaml; no file was changed"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["devenv.yaml"]
    finally:
        if (tmp_path / "compose").exists():  # today's main started it
            run(tmp_path, "down", "--volumes", "--yes")
