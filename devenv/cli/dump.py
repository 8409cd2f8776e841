"""`devenv db dump | diff`: a service's database as SQL, and its schema against its files."""

from __future__ import annotations

import sys
from pathlib import Path

from devenv.console import Console
from devenv.data import dump as dumps
from devenv.engine.context import attach, no_database, select
from devenv.model.stack import Stack


def dump(stack: Stack, console: Console, *, service: str, output: Path | None,
         mode: dumps.Mode) -> None:
    ctx = attach(stack, console)
    svc = select(stack, [service])[0]
    if svc.database is None:
        raise no_database(svc)
    if output is None:
        sys.stdout.flush()
        try:
            dumper = dumps.dump(ctx, svc, sys.stdout.buffer, mode=mode)
        except dumps.ReaderGone:
            return  # `| head`: what a pipe's reader asks for, not an error
        console.note(f"dumped {svc.database} with {dumper.note}")
        return
    partial = output.with_name(output.name + ".partial")
    try:
        with partial.open("wb") as out:
            dumper = dumps.dump(ctx, svc, out, mode=mode)
        partial.replace(output)  # a failed dump never leaves a file that looks whole
    finally:
        partial.unlink(missing_ok=True)
    console.say(f"wrote {output} ({output.stat().st_size} bytes): {svc.database} with "
                f"{dumper.note}")


def diff(stack: Stack, console: Console, *, service: str) -> int:
    ctx = attach(stack, console)
    svc = select(stack, [service])[0]
    lines = dumps.diff(ctx, svc)
    if not lines:
        console.say(f"{svc.name}: the live schema of {svc.database} is what its files make")
        return 0
    for line in lines:
        console.result(line)
    console.note(f"{svc.name}: the live schema differs from its files (+ lines: only in the "
                 f"live {svc.database}; - lines: only in a fresh migrate of the files)")
    return 1
