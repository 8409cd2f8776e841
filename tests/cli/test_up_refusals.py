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
