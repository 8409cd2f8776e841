"""What the console writes: colour only on a terminal, never with NO_COLOR, never piped."""

from __future__ import annotations

import io
import re
import time

import pytest

from devenv.console import Console

SGR = re.compile(r"\x1b\[[0-9;]*m")  # a colour/style code
ESC = "\x1b"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_step(out: io.StringIO) -> str:
    console = Console(out=out, err=out)
    with console.step("Starting auth-db"):
        time.sleep(0.4)  # several frames of the spinner
    return out.getvalue()


@pytest.fixture(autouse=True)
def interactive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)  # CI turns the spinner off; these tests want it
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


def test_piped_output_has_no_escape_codes_at_all() -> None:
    text = run_step(io.StringIO())
    assert ESC not in text
    assert re.fullmatch(r"Starting auth-db \.\.\. done \(0\.\d\ds\)\n", text), text


def test_no_color_keeps_the_spinner_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    text = run_step(Terminal())
    assert "Starting auth-db ..." in text  # the spinner did draw
    assert SGR.findall(text) == []
    assert "Starting auth-db ... done (" in text.splitlines()[-1]


def test_a_terminal_gets_the_coloured_spinner() -> None:
    """The one colour devenv has, so the two tests above test something."""
    text = run_step(Terminal())
    assert SGR.findall(text), repr(text)


def test_ctrl_c_in_a_step_says_interrupted_not_failed() -> None:
    out = io.StringIO()
    console = Console(out=out, err=io.StringIO())
    with pytest.raises(KeyboardInterrupt), console.step("Starting db"):
        raise KeyboardInterrupt
    with pytest.raises(RuntimeError), console.step("Waiting"):
        raise RuntimeError("x")
    assert out.getvalue() == "Starting db ... interrupted\nWaiting ... FAILED\n"
