"""Every command's `--help` against what it does with no arguments (issue 16).

The walk covers every command typer knows, so a new command is checked without editing this
file. Each argument's help must say what happens when it is left out, and the command must do
that: `(default: ...)` runs on (here it then stops at the missing manifest, exit 1), `required`
or `(required unless --x)` is a usage error (exit 2) naming what is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import typer

from devenv.cli import app as cli


def commands() -> list[tuple[str, ...]]:
    """Every leaf command as the words a user types (`("db", "list")`)."""
    root = typer.main.get_command(cli.app)
    found: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(sub, (*path, name))
        else:
            found.append(path)

    walk(root, ())
    return sorted(found)


def run(argv: list[str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """`devenv ARGV` in process, as main() maps it to an exit code; (code, stdout+stderr)."""
    monkeypatch.setattr(sys, "argv", ["devenv", *argv])
    with pytest.raises(SystemExit) as done:
        cli._main()
    out = capsys.readouterr()
    code = done.value.code
    return (code if isinstance(code, int) else 0), out.out + out.err


def arguments(words: tuple[str, ...]) -> list[tuple[str, bool, str]]:
    """(NAME, required, help) of each positional argument of a command."""
    command = typer.main.get_command(cli.app)
    for word in words:
        command = command.commands[word]  # type: ignore[attr-defined]
    return [(p.human_readable_name, bool(p.required), getattr(p, "help", "") or "")
            for p in command.params if p.param_type_name == "argument"]


def test_the_walk_sees_every_command() -> None:
    names = {" ".join(c) for c in commands()}
    assert {"up", "down", "reset", "psql", "env", "db clone", "db list", "doctor"} <= names


@pytest.mark.parametrize("words", commands(), ids=" ".join)
def test_help_says_what_no_arguments_do(words: tuple[str, ...], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no devenv.yaml here or above (tmp is outside the repo)
    monkeypatch.delenv("DEVENV_FILE", raising=False)
    code, help_text = run([*words, "--help"], capsys, monkeypatch)
    assert code == 0, help_text
    code, out = run(list(words), capsys, monkeypatch)
    assert code != 3, out  # never a bug, whatever the arguments
    for name, required, text in arguments(words):
        says_required = required or "required unless" in text
        assert says_required or "(default: " in text, (
            f"devenv {' '.join(words)} --help: argument {name} is optional but its help "
            f"({text!r}) does not say what leaving it out does")
        if says_required:
            assert code == 2, f"help says {name} is required; with no arguments: {out}"
            assert "Usage: devenv" in out
            if "required unless" in text:
                flag = text.split("required unless ", 1)[1].split()[0].rstrip(").:")
                assert flag.split("|")[0] in out, out
            else:
                assert f"Missing argument '{name}'" in out, out
            return
    # Nothing is required: the command runs, here as far as the manifest it cannot find.
    assert code != 2, f"devenv {' '.join(words)} with no arguments is a usage error: {out}"


def test_bare_reset_is_a_usage_error_that_says_what_to_type(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = run(["reset"], capsys, monkeypatch)
    assert code == 2
    assert out.endswith("Error: name the services to reset, or pass --all\n"), out
    code, help_text = run(["reset", "--help"], capsys, monkeypatch)
    assert "services...  Services to reset (required unless --all)." in help_text
    assert "(default: all)" not in help_text
    code, out = run(["reset", "auth", "--all"], capsys, monkeypatch)
    assert code == 2
    assert "name services or pass --all, not both" in out
