"""Snapshots: a service's data as it is now, kept under a name and put back as fast as a reset.

`devenv snapshot save auth before-import` copies the service's live database into a template
database (`CREATE DATABASE ... TEMPLATE`, the golden templates' way: devenv.data.golden) and its
Redis keys (DUMP/RESTORE as the server's admin) under a namespace no service can read. `restore`
is `devenv reset` with the snapshot as its template (reset.reset_database: the same PgBouncer
pause, session report, grants and one-database extensions such as pg_cron), then the keys back.

A snapshot database carries the comment `devenv:snapshot:<service>:<name> {json}`: the mark
clones, spares and templates never match, so `db prune`, `db list`, the pytest plugin and
template rebuilds leave it alone. The JSON holds when it was taken and the checksums of the
migration files then: a restore refuses when they changed since (unless --force), since the
data would not match the schema the files now make. Both live in the server's own volume (and
Redis's, with its persistence): they survive `down` and `up`, not `down --volumes`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import redis

from devenv.data import golden, keys
from devenv.data import reset as resets
from devenv.engine.context import Context, select
from devenv.engine.migrate import migration_set
from devenv.engine.provision import grant_reads
from devenv.errors import STACK_DOWN_HINT, DevenvError, last_line
from devenv.model.stack import ServiceSpec

SNAPSHOT_MARK = "devenv:snapshot:"
# Service names (and so key prefixes, `<service>:`) start with [a-z0-9]: '#' is no service's.
KEY_SPACE = "#devenv-snapshot:"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class Snapshot:
    service: str
    name: str
    taken: str  # ISO 8601, UTC
    migrations: dict[str, str]  # file -> checksum when it was taken
    database: str | None = None  # the snapshot's own database
    server: str | None = None
    size: int | None = None  # bytes of the database copy
    redis_keys: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"service": self.service, "name": self.name, "taken": self.taken,
                "server": self.server, "database": self.database, "size_bytes": self.size,
                "redis_keys": self.redis_keys}


def database_name(svc: ServiceSpec, name: str) -> str:
    """`<database>_snap_<8 hex>`: a hash, since a snapshot's name may hold `-`, and never a
    clone's (`_c<8 hex>`) or a template's (`_tpl_<12 hex>`) shape."""
    assert svc.database is not None
    digest = hashlib.sha256(f"{svc.name}\0{name}".encode()).hexdigest()[:8]
    return f"{svc.database[:40]}_snap_{digest}"


def fingerprint(ctx: Context, svc: ServiceSpec) -> dict[str, str]:
    """The migration files as they are: the folder's checksums as the ledger keeps them, or
    for a `command` runner each file under its cwd."""
    spec = svc.migrations
    if spec is None:
        return {}
    if spec.command is not None:
        root = ctx.stack.root
        out = {"(command)": spec.command}
        skip = frozenset([root / ctx.stack.compose_dir, root / ctx.stack.state_dir,
                          *(root / s.env_file for s in ctx.stack.services.values())])
        for path in golden._files(root / spec.cwd, skip):  # the template key's walk
            out[os.path.relpath(path, root)] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        return out
    found = migration_set(ctx.stack, svc)
    if found is None:
        return {}
    return {m.script: m.checksum for m in (*found.versioned, *found.repeatable)}


def changes(then: dict[str, str], now: dict[str, str]) -> list[str]:
    """What changed in the migration files between a snapshot and now, one line each."""
    out = [f"{f}: added" for f in now if f not in then]
    out += [f"{f}: edited" for f in now if f in then and then[f] != now[f]]
    out += [f"{f}: removed" for f in then if f not in now]
    return sorted(out)


def _check_name(name: str) -> None:
    if not NAME.match(name):
        raise DevenvError(f"'{name}' is not a snapshot name: use lowercase letters, digits, "
                          "'-' and '_' (at most 40, starting with a letter or digit)",
                          hint="e.g. `devenv snapshot save auth before-import`")


def _service(ctx: Context, name: str) -> ServiceSpec:
    svc = select(ctx.stack, [name])[0]
    if svc.database is None and svc.redis is None:
        raise DevenvError(f"service '{svc.name}' has no database and no Redis: nothing to "
                          "snapshot")
    return svc


def _comment(svc: ServiceSpec, name: str, body: dict[str, Any]) -> str:
    return f"{SNAPSHOT_MARK}{svc.name}:{name} {json.dumps(body, sort_keys=True)}"


def _parse(comment: str) -> tuple[str, str, dict[str, Any]] | None:
    head, _, body = comment.partition(" ")
    parts = head[len(SNAPSHOT_MARK):].split(":")
    if len(parts) != 2:
        return None
    try:
        meta = json.loads(body)
    except ValueError:
        return None
    return parts[0], parts[1], meta if isinstance(meta, dict) else {}


# -- Redis ------------------------------------------------------------------------------------


def _redis(ctx: Context, svc: ServiceSpec) -> redis.Redis:
    assert svc.redis is not None
    return redis.Redis.from_url(ctx.redis_admin_url(ctx.stack.servers[svc.redis]))


def _space(svc: ServiceSpec, name: str) -> str:
    return f"{KEY_SPACE}{svc.name}:{name}:"


def _redis_error(svc: ServiceSpec, exc: BaseException) -> DevenvError:
    return DevenvError(f"Redis of '{svc.name}' failed ({last_line(exc)})",
                       hint=STACK_DOWN_HINT)


def _copy_keys(client: redis.Redis, source: str, dest: str, *, ttls: dict[str, int] | None
               ) -> dict[str, int]:
    """DUMP every key under `source` and RESTORE it under `dest` (same suffix); the keys'
    remaining TTLs in ms (-1: none) by suffix. `ttls` given: restore with those TTLs (the
    copy back); None: without (a snapshot key must not expire). Key names are bytes (any
    binary name); a suffix is written latin-1 in the TTL map, which maps every byte."""
    found: dict[str, int] = {}
    start, to = source.encode(), dest.encode()
    scanned = [bytes(k) for k in client.scan_iter(match=_glob(source) + "*", count=1000)]
    for batch in _chunks(scanned, 500):
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.dump(key)
            pipe.pttl(key)
        replies = pipe.execute()
        pipe = client.pipeline(transaction=False)
        for key, payload, pttl in zip(batch, replies[::2], replies[1::2], strict=True):
            if payload is None:  # expired between SCAN and DUMP
                continue
            suffix = key[len(start):]
            name = suffix.decode("latin-1")
            ttl = 0 if ttls is None else max(ttls.get(name, -1), 0)
            pipe.restore(to + suffix, ttl, payload, replace=True)
            found[name] = int(pttl)
        pipe.execute()
    return found


def _glob(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def _chunks(items: list[bytes], size: int) -> Iterator[list[bytes]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _save_keys(ctx: Context, svc: ServiceSpec, name: str) -> int:
    space = _space(svc, name)
    client = _redis(ctx, svc)
    try:
        keys.unlink_prefix(client, space)  # a half-written earlier save
        ttls = _copy_keys(client, svc.key_prefix, space + "k:", ttls=None)
        client.set(space + "meta", json.dumps(ttls))
        return len(ttls)
    except redis.RedisError as exc:
        raise _redis_error(svc, exc) from None
    finally:
        client.close()


def _restore_keys(ctx: Context, svc: ServiceSpec, name: str) -> int:
    space = _space(svc, name)
    client = _redis(ctx, svc)
    try:
        raw = client.get(space + "meta")
        ttls = json.loads(raw) if raw else {}
        keys.unlink_prefix(client, svc.key_prefix)
        return len(_copy_keys(client, space + "k:", svc.key_prefix, ttls=ttls))
    except redis.RedisError as exc:
        raise _redis_error(svc, exc) from None
    finally:
        client.close()


def _redis_snapshots(ctx: Context, svc: ServiceSpec) -> dict[str, dict[str, Any]]:
    """name -> what `save` wrote in `<space>info` (when, the migrations' checksums) and
    `redis_keys`, of the service's snapshots in Redis."""
    out: dict[str, dict[str, Any]] = {}
    client = _redis(ctx, svc)
    space = f"{KEY_SPACE}{svc.name}:"
    try:
        for key in client.scan_iter(match=_glob(space) + "*:info", count=1000):
            text = key.decode() if isinstance(key, bytes) else str(key)
            name = text[len(space):-len(":info")]
            if not NAME.match(name):  # a snapshotted key of the service that ends in :info
                continue
            info = client.get(text)
            meta = json.loads(info) if info else {}
            raw = client.get(f"{space}{name}:meta")
            meta["redis_keys"] = len(json.loads(raw)) if raw else 0
            out[name] = meta
    except redis.RedisError as exc:
        raise _redis_error(svc, exc) from None
    finally:
        client.close()
    return out


def _drop_keys(ctx: Context, svc: ServiceSpec, name: str) -> None:
    client = _redis(ctx, svc)
    try:
        keys.unlink_prefix(client, _space(svc, name))
    except redis.RedisError as exc:
        raise _redis_error(svc, exc) from None
    finally:
        client.close()


# -- the verbs -------------------------------------------------------------------------------


def find(ctx: Context, svc: ServiceSpec, name: str) -> Snapshot | None:
    for snap in list_snapshots(ctx, [svc], strict=True):
        if snap.name == name:
            return snap
    return None


def list_snapshots(ctx: Context, services: list[ServiceSpec] | None = None, *,
                   strict: bool = False) -> list[Snapshot]:
    """Every snapshot of these services (default: all), by service then name: one admin
    session per server. A server that does not answer has none to list, unless `strict`:
    then that is the error (`status` lists what it can; `snapshot list` must not say "no
    snapshots" of a stopped stack)."""
    services = list(ctx.stack.services.values()) if services is None else services
    on_server: dict[str, list[tuple[str, str, int]]] = {}
    out: list[Snapshot] = []
    for svc in services:
        found: dict[str, Snapshot] = {}
        if svc.database is not None and svc.server is not None:
            if svc.server not in on_server:
                on_server[svc.server] = _snapshot_databases(ctx, svc.server, strict=strict)
            for db, comment, size in on_server[svc.server]:
                parsed = _parse(comment)
                if parsed is None or parsed[0] != svc.name:
                    continue
                meta = parsed[2]
                found[parsed[1]] = Snapshot(
                    svc.name, parsed[1], str(meta.get("taken", "")),
                    dict(meta.get("migrations", {})), database=db, server=svc.server,
                    size=size)
        if svc.redis is not None:
            try:
                in_redis = _redis_snapshots(ctx, svc)
            except DevenvError:
                if strict:
                    raise
                in_redis = {}
            for name, meta in in_redis.items():
                if name in found:
                    found[name] = replace(found[name], redis_keys=meta["redis_keys"])
                elif svc.database is None:  # a database's snapshot is listed from its database
                    found[name] = Snapshot(svc.name, name, str(meta.get("taken", "")),
                                           dict(meta.get("migrations", {})),
                                           redis_keys=meta["redis_keys"])
        out += [found[n] for n in sorted(found)]
    return out


def _snapshot_databases(ctx: Context, server: str, *, strict: bool
                        ) -> list[tuple[str, str, int]]:
    """(database, comment, size) of every snapshot on the server; none when it is down
    (unless `strict`)."""
    try:
        conn = ctx.admin_session(server)
    except DevenvError:
        if strict:
            raise
        return []
    with conn:
        rows = conn.execute(
            "SELECT d.datname, shobj_description(d.oid, 'pg_database'), "
            "pg_database_size(d.oid) FROM pg_database d "
            "WHERE starts_with(shobj_description(d.oid, 'pg_database'), %s)",
            (SNAPSHOT_MARK,)).fetchall()
    return [(str(db), str(comment), int(str(size))) for db, comment, size in rows]


def save(ctx: Context, service: str, name: str, *, force: bool = False,
         closed: list[str] | None = None) -> Snapshot:
    """Copy the service's database and Redis keys as they are now into snapshot `name`.

    Its PgBouncer entry is paused and every session on the database ended for the copy
    (CREATE DATABASE ... TEMPLATE needs it alone), as in a reset: the data and the keys are
    taken at one moment. `closed` receives who had a session on it."""
    _check_name(name)
    svc = _service(ctx, service)
    if find(ctx, svc, name) is not None:
        if not force:
            raise DevenvError(f"{svc.name} already has a snapshot named '{name}'",
                              hint=f"`devenv snapshot save {svc.name} {name} --force` replaces "
                              f"it; `devenv snapshot rm {svc.name} {name}` removes it")
        remove(ctx, svc.name, name)
    taken = datetime.now(UTC).isoformat(timespec="seconds")
    files = fingerprint(ctx, svc)
    meta: dict[str, Any] = {"taken": taken, "migrations": files}
    saved = None
    if svc.database is None:
        saved = _save_keys(ctx, svc, name)
        _redis_info(ctx, svc, name, meta)
        return Snapshot(svc.name, name, taken, files, redis_keys=saved)
    target = database_name(svc, name)
    with ExitStack() as opened:
        conn = opened.enter_context(golden.admin_session(ctx, svc))
        # a reset or restore of the service at the same time waits (the same lock)
        opened.enter_context(resets.one_at_a_time(conn, svc))
        with resets.paused_pool(ctx, svc):
            if closed is not None:
                closed += resets.sessions(conn, ctx, svc)
            golden.copy_from_template(conn, ctx, svc, svc.database, target,
                                      comment=_comment(svc, name, meta),
                                      allow_connections=False)
            if svc.redis is not None:
                saved = _save_keys(ctx, svc, name)
                _redis_info(ctx, svc, name, meta)
        row = conn.execute("SELECT pg_database_size(%s)", (target,)).fetchone()
    return Snapshot(svc.name, name, taken, files, database=target,
                    server=svc.server, size=int(str(row[0])) if row else None, redis_keys=saved)


def _redis_info(ctx: Context, svc: ServiceSpec, name: str, meta: dict[str, Any]) -> None:
    client = _redis(ctx, svc)
    try:
        client.set(_space(svc, name) + "info", json.dumps(meta))
    except redis.RedisError as exc:
        raise _redis_error(svc, exc) from None
    finally:
        client.close()


@dataclass(frozen=True)
class Restored:
    snapshot: Snapshot
    closed: list[str]
    redis_keys: int | None
    elapsed_ms: float


def restore(ctx: Context, service: str, name: str, *, force: bool = False) -> Restored:
    """Put the snapshot back: refused when the migration files changed since it was taken
    (the data would not match them) unless `force`."""
    _check_name(name)
    svc = _service(ctx, service)
    snap = find(ctx, svc, name)
    if snap is None:
        raise no_snapshot(ctx, svc, name)
    changed = changes(snap.migrations, fingerprint(ctx, svc))
    if changed and not force:
        raise DevenvError(
            f"the migrations of {svc.name} changed since snapshot '{name}' was taken "
            f"({snap.taken}): " + ", ".join(changed) + ". Its data has the schema of the "
            "files then, not now", hint=f"`devenv snapshot restore {svc.name} {name} --force` "
            f"restores it anyway (then `devenv migrate {svc.name}` applies the new files; "
            "edited ones show as drift)")
    started = time.perf_counter()
    closed: list[str] = []
    if snap.database is not None:
        resets.reset_database(ctx, svc, closed=closed, source=snap.database)
        readers = golden.readers(ctx, svc)
        if readers:  # `reads:` may have changed since: the template build's grants again
            assert svc.server and svc.role and svc.database
            with ctx.admin_session(svc.server, svc.database) as db:
                grant_reads(db, svc.role, readers, database=svc.database)
    restored = _restore_keys(ctx, svc, name) if svc.redis is not None else None
    return Restored(snap, closed, restored, (time.perf_counter() - started) * 1000)


def remove(ctx: Context, service: str, name: str) -> Snapshot:
    _check_name(name)
    svc = _service(ctx, service)
    snap = find(ctx, svc, name)
    if snap is None:
        raise no_snapshot(ctx, svc, name)
    if snap.database is not None:
        with golden.admin_session(ctx, svc) as conn:
            golden.drop_database(conn, snap.database)
    if svc.redis is not None:
        _drop_keys(ctx, svc, name)
    return snap


def no_snapshot(ctx: Context, svc: ServiceSpec, name: str) -> DevenvError:
    have = [s.name for s in list_snapshots(ctx, [svc], strict=True)]
    return DevenvError(f"{svc.name} has no snapshot named '{name}'" +
                       (f" (its snapshots: {', '.join(have)})" if have else ""),
                       hint=f"`devenv snapshot save {svc.name} {name}` takes one; "
                       "`devenv snapshot list` shows them all")
