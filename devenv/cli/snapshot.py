"""`devenv snapshot save | restore | list | rm`: a service's data as it is now, kept by name."""

from __future__ import annotations

import json

from devenv.console import Console, table
from devenv.data import snapshots
from devenv.engine.context import attach
from devenv.errors import DevenvError
from devenv.model.stack import Stack


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    return f"{size / (1 << 20):.1f} MiB"


def save(stack: Stack, console: Console, *, service: str, name: str, force: bool) -> None:
    closed: list[str] = []
    snap = snapshots.save(attach(stack, console), service, name, force=force, closed=closed)
    parts = [f"database {snap.database} ({_size(snap.size)})"] if snap.database else []
    parts += [f"{snap.redis_keys} Redis key(s)"] if snap.redis_keys is not None else []
    console.say(f"{service}: saved snapshot {name}: {', '.join(parts)}")
    if closed:  # the copy needs the database alone, as a reset does
        console.say(f"  closed {len(closed)} session(s) on {stack.services[service].database}: "
                    f"{', '.join(closed)}")


def restore(stack: Stack, console: Console, *, service: str, name: str, force: bool) -> None:
    done = snapshots.restore(attach(stack, console), service, name, force=force)
    redis = "" if done.redis_keys is None else f", {done.redis_keys} Redis key(s)"
    console.say(f"{service}: restored snapshot {name} (taken {done.snapshot.taken}){redis} "
                f"({done.elapsed_ms:.0f} ms)")
    if done.closed:
        console.say(f"  closed {len(done.closed)} session(s) on "
                    f"{stack.services[service].database}: {', '.join(done.closed)}")


def list_(stack: Stack, console: Console, *, as_json: bool) -> None:
    ctx = attach(stack, console)
    partial = False
    try:
        found = snapshots.list_snapshots(ctx, strict=True)
    except DevenvError as exc:  # a server not started (`up SERVICE`) or stopped: say so
        console.warn(f"{exc.message}: the snapshots there are not listed")
        found, partial = snapshots.list_snapshots(ctx), True
    if as_json:
        console.result(json.dumps([s.as_json() for s in found], indent=2))
        return
    if not found:  # on stderr: stdout stays one row per snapshot
        if partial:
            return
        console.note(f"no snapshots in project {stack.project} "
                     "(`devenv snapshot save SERVICE NAME` takes one)")
        return
    console.result(table(["SERVICE", "NAME", "TAKEN", "DATABASE", "SIZE", "REDIS KEYS"], [
        [s.service, s.name, s.taken, s.database or "-", _size(s.size),
         "-" if s.redis_keys is None else str(s.redis_keys)] for s in found]))


def remove(stack: Stack, console: Console, *, service: str, name: str) -> None:
    snapshots.remove(attach(stack, console), service, name)
    console.say(f"{service}: removed snapshot {name}")
