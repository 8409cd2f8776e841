"""`devenv up --watch`: the watch after `up` (devenv.data.watch), ended by Ctrl-C."""

from __future__ import annotations

from devenv.console import Console
from devenv.data import watch as watcher
from devenv.engine.context import attach, select
from devenv.model.stack import Stack

INTERRUPTED = 130


def watch(stack: Stack, console: Console, *, names: list[str]) -> int:
    """Watch until Ctrl-C; exit 130 (as any command stopped by Ctrl-C) with a line that says
    the stack is still up."""
    ctx = attach(stack, console)
    try:
        watcher.watch(ctx, select(stack, names))
    except KeyboardInterrupt:
        console.say("stopped watching; the stack is still up (`devenv down` stops it)")
    return INTERRUPTED
