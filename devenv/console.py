"""Where devenv's human output goes: one object passed in, so tests capture it without patches."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from devenv.masking import mask


class Console:
    """Step lines with timings (`Starting postgres ... done (1.20s)`); quiet keeps results."""

    def __init__(self, *, quiet: bool = False, out: TextIO | None = None,
                 err: TextIO | None = None) -> None:
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._open = False  # a step line waits for its "done"
        self._lock = threading.Lock()

    def _line(self, text: str, stream: TextIO, *, raw: bool = False) -> None:
        if not raw:
            text = mask(text)
        with self._lock:
            if self._open:
                print(file=self.out, flush=True)
                self._open = False
            print(text, file=stream, flush=True)

    def say(self, text: str = "") -> None:
        if not self.quiet:
            self._line(text, self.out)

    def result(self, text: str, *, raw: bool = False) -> None:
        """Output that is the point of the command (printed even with --quiet).

        raw: print passwords as they are (only for --show-secrets).
        """
        self._line(text, self.out, raw=raw)

    def note(self, text: str) -> None:
        """A remark about the output, on stderr so that stdout stays parseable."""
        if not self.quiet:
            self._line(text, self.err)

    def warn(self, text: str) -> None:
        self._line(f"warning: {text}", self.err)

    def error(self, text: str) -> None:
        self._line(f"error: {text}", self.err)

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        """`text ... done (1.20s)`; on a terminal, a rich spinner while the step runs."""
        started = time.perf_counter()
        if not self.quiet and self.out.isatty() and not os.environ.get("CI"):
            with self._live(text):
                try:
                    yield
                except BaseException as exc:
                    self._line(f"{text} ... {_outcome(exc)}", self.out)
                    raise
            self._line(f"{text} ... done ({time.perf_counter() - started:.2f}s)", self.out)
            return
        if not self.quiet:
            with self._lock:
                print(f"{text} ...", end="", file=self.out, flush=True)
                self._open = True
        try:
            yield
        except BaseException as exc:
            self._finish(text, _outcome(exc))
            raise
        self._finish(text, f"done ({time.perf_counter() - started:.2f}s)")

    @contextmanager
    def _live(self, text: str) -> Iterator[None]:
        from rich.console import Console as RichConsole  # noqa: PLC0415 - rich, ~40 ms: only a step on a terminal draws a spinner

        # The spinner is devenv's only colour, and it is drawn only on a terminal (step()
        # checks): with NO_COLOR set (any non-empty value, no-color.org) it is plain. Said here
        # rather than left to rich's defaults, so the README's promise is this code's.
        colour = not os.environ.get("NO_COLOR")
        rich = RichConsole(file=self.out, no_color=not colour, highlight=False)
        with rich.status(f"{text} ...", spinner_style="status.spinner" if colour else ""):
            yield

    def _finish(self, text: str, outcome: str) -> None:
        if self.quiet:
            return
        with self._lock:
            if self._open:
                print(f" {outcome}", file=self.out, flush=True)
            else:
                print(f"{text}: {outcome}", file=self.out, flush=True)
            self._open = False


def _outcome(exc: BaseException) -> str:
    """Ctrl-C is the user's choice, not a failure of the step (issue 28)."""
    return "interrupted" if isinstance(exc, KeyboardInterrupt) else "FAILED"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns as wide as their widest cell, two spaces apart (long names never run together)."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in [headers, *rows]]
    return "\n".join(lines)
