"""Where devenv's human output goes: one object passed in, so tests capture it without patches."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Console:
    """Step lines with timings (`Starting postgres ... done (1.2s)`); quiet keeps only errors."""

    def __init__(self, *, quiet: bool = False, out: TextIO | None = None,
                 err: TextIO | None = None) -> None:
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def say(self, text: str = "") -> None:
        if not self.quiet:
            print(text, file=self.out, flush=True)

    def result(self, text: str) -> None:
        """Output that is the point of the command (printed even with --quiet)."""
        print(text, file=self.out, flush=True)

    def warn(self, text: str) -> None:
        print(f"warning: {text}", file=self.err, flush=True)

    def error(self, text: str) -> None:
        print(f"error: {text}", file=self.err, flush=True)

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        started = time.perf_counter()
        if not self.quiet:
            print(f"{text} ...", end="", file=self.out, flush=True)
        try:
            yield
        except BaseException:
            if not self.quiet:
                print(" FAILED", file=self.out, flush=True)
            raise
        if not self.quiet:
            print(f" done ({time.perf_counter() - started:.2f}s)", file=self.out, flush=True)
