"""Another tool's migration command through run_command: a real Alembic project, and failures."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from devenv.errors import DevenvError
from devenv.migrations import run_command
from tests.integration.test_migrations import database, query, server

__all__ = ["database", "server"]  # fixtures, imported for pytest

ALEMBIC_PROJECT = Path(__file__).parent.parent / "fixtures" / "alembic_project"
PYTHON = shlex.quote(sys.executable)


def url(conninfo: str) -> str:
    p = conninfo_to_dict(conninfo)
    return (f"postgresql://{p['user']}:{p['password']}@{p['host']}:{p['port']}/{p['dbname']}")


def test_alembic_upgrade_head_creates_its_table(database: str) -> None:
    lines: list[str] = []
    run_command(f"{PYTHON} -m alembic upgrade head", cwd=ALEMBIC_PROJECT,
                env={"DATABASE_URL": url(database)}, on_output=lines.append)
    assert any("Running upgrade  -> 0001, create widgets" in line for line in lines), lines
    assert query(database, "SELECT to_regclass('public.widgets')::text, "
                           "(SELECT version_num FROM alembic_version)") == [("widgets", "0001")]


def test_alembic_against_a_wrong_password_fails_with_its_output(database: str) -> None:
    bad = url(database).replace(":" + str(conninfo_to_dict(database)["password"]) + "@", ":x@")
    with pytest.raises(DevenvError) as caught:
        run_command(f"{PYTHON} -m alembic upgrade head", cwd=ALEMBIC_PROJECT,
                    env={"DATABASE_URL": bad}, on_output=lambda _: None)
    assert str(caught.value).startswith(f"`{PYTHON} -m alembic upgrade head` failed with exit "
                                        "code 1; its last output lines:\n")
    assert "password authentication failed" in str(caught.value)


def test_failing_command_reports_exit_code_and_last_20_lines(tmp_path: Path) -> None:
    command = "for i in $(seq 1 30); do echo line $i; done; echo oops >&2; exit 3"
    seen: list[str] = []
    with pytest.raises(DevenvError) as caught:
        run_command(command, cwd=tmp_path, env={}, on_output=seen.append)
    assert seen == [f"line {i}" for i in range(1, 31)] + ["oops"]
    tail = "".join(f"  line {i}\n" for i in range(12, 31)) + "  oops"
    assert str(caught.value) == (
        f"`{command}` failed with exit code 3; its last output lines:\n{tail}\n"
        f"Hint: Fix the problem above, then run the migrations again (from {tmp_path}).")


def test_command_sees_the_added_environment(tmp_path: Path) -> None:
    seen: list[str] = []
    run_command('echo "$DEVENV_TEST_VALUE"; echo "${HOME:+home is set}"', cwd=tmp_path,
                env={"DEVENV_TEST_VALUE": "from devenv"}, on_output=seen.append)
    assert seen == ["from devenv", "home is set"]


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DevenvError) as caught:
        run_command("true", cwd=tmp_path / "nope", env={}, on_output=lambda _: None)
    assert str(caught.value) == (
        f"Cannot run `true`: the directory {tmp_path / 'nope'} does not exist\n"
        "Hint: Fix the migration command's working directory in the manifest.")
