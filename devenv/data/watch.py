"""`devenv up --watch`: after `up`, migrate and seed again whenever a service's files change.

Polling, twice a second, of each file's (mtime, size) under the services' migration and seed
folders (a `command` runner's cwd, walked as the template key walks it: no .git, caches or
devenv's own files): a few stat calls for a project's folders, the same on every OS, Docker
bind mounts and network file systems where inotify events do not arrive, and no dependency
(watchfiles would add a compiled wheel for no behaviour this needs).

What a change does is what `devenv migrate` and `devenv seed --force` do: a new migration file
is applied, a new or edited seed file is applied, and an applied migration that was edited or
deleted is drift, reported with the command that fixes it while the watch goes on; the
service is not migrated until its files agree with its ledger again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from devenv import migrations
from devenv.data import golden
from devenv.engine.context import Context
from devenv.engine.migrate import direct_url, migrate_service, outstanding_services, seed_set
from devenv.errors import DevenvError
from devenv.model.stack import ServiceSpec

INTERVAL_S = 0.5
Files = dict[Path, tuple[int, int]]


def folders(ctx: Context, svc: ServiceSpec) -> list[Path]:
    root = ctx.stack.root
    spec = svc.migrations
    out = []
    if spec is not None and spec.command is not None:
        out.append(root / spec.cwd)
    elif spec is not None and spec.path is not None:
        out.append(root / spec.path)
    if svc.seeds is not None:
        out.append(root / svc.seeds)
    return out


def scan(ctx: Context, svc: ServiceSpec) -> Files:
    """(mtime_ns, size) of every file the service's migrations and seeds are made of."""
    root = ctx.stack.root
    skip = frozenset([root / ctx.stack.compose_dir, root / ctx.stack.state_dir,
                      *(root / s.env_file for s in ctx.stack.services.values())])
    found: Files = {}
    for folder in folders(ctx, svc):
        if not folder.is_dir():
            continue
        for path in golden._files(folder, skip):  # the template key's walk
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed while walking: the next scan sees it
                continue
            found[path] = (stat.st_mtime_ns, stat.st_size)
    return found


def changed_files(before: Files, after: Files, root: Path) -> list[str]:
    """`path (added|edited|removed)` of each file that differs, relative to the project."""
    out = []
    for path in sorted(set(before) | set(after)):
        if before.get(path) != after.get(path):
            what = "added" if path not in before else "removed" if path not in after else "edited"
            out.append(f"{path.relative_to(root) if path.is_relative_to(root) else path} "
                       f"({what})")
    return out


def apply(ctx: Context, svc: ServiceSpec) -> None:
    """Migrate and seed one service after its files changed; drift and failures are
    reported and never end the watch."""
    say = ctx.console.say
    try:
        outstanding_services(ctx, [svc], verb="migrate")  # drift: refused, nothing runs
        migrate_service(ctx, svc, seed=False, verbose=True)
        seeds = seed_set(ctx.stack, svc)
        if seeds is not None and seeds.files:
            done = migrations.seed(direct_url(ctx, svc), seeds, force=True,
                                   on_event=lambda e: say(f"  {svc.name}: {e}"))
            if done.applied:
                say(f"  {svc.name}: applied {len(done.applied)} seed file(s)")
        say(f"{svc.name}: up to date")
    except DevenvError as exc:
        named = exc.message if svc.name in exc.message else f"{svc.name}: {exc.message}"
        ctx.console.warn(named)
        if exc.hint:
            ctx.console.note(f"  hint: {exc.hint}")
        ctx.console.note(f"  {svc.name}: still watching; fix the files and save again")


def watch(ctx: Context, services: list[ServiceSpec], *, interval: float = INTERVAL_S,
          stop: threading.Event | None = None,
          on_scan: Callable[[], None] | None = None) -> None:
    """Until `stop` is set (or Ctrl-C): each interval, the services whose files changed are
    migrated and seeded again. `on_scan` runs after each round (tests count rounds)."""
    stop = stop or threading.Event()
    watched = [s for s in services if s.database is not None]
    seen = {s.name: scan(ctx, s) for s in watched}
    shown = sorted({str(f.relative_to(ctx.stack.root)) if f.is_relative_to(ctx.stack.root)
                    else str(f) for s in watched for f in folders(ctx, s)})
    ctx.console.say(f"watching {', '.join(shown) or 'nothing'} (Ctrl-C to stop)")
    while not stop.wait(interval):
        for svc in watched:
            now = scan(ctx, svc)
            if now == seen[svc.name]:
                continue
            now = _settled(ctx, svc, now, stop)  # an editor still writing: wait for it
            files = changed_files(seen[svc.name], now, ctx.stack.root)
            seen[svc.name] = now
            ctx.console.say(f"{svc.name}: {', '.join(files)}")
            apply(ctx, svc)
        if on_scan is not None:
            on_scan()


def _settled(ctx: Context, svc: ServiceSpec, now: Files, stop: threading.Event) -> Files:
    """The files once two scans 0.1 s apart agree (a save in several writes, a `git
    checkout` of many files, is taken whole), at most ~2 s later."""
    for _ in range(20):
        if stop.wait(0.1):
            break
        again = scan(ctx, svc)
        if again == now:
            break
        now = again
    return now
