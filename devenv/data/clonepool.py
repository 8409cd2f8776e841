"""Clones made ahead of the tests that will use them, and dropped behind them.

A clone costs one new file per catalog relation and fork (300+). Where creating a file is
slow (virtualised disks, a fresh Docker volume) that is 50-500 ms, more than most tests take.
So the pytest plugin keeps `depth` clones per service in the making on a thread pool (one
admin session per thread: a psycopg connection is not shared between threads): a test takes a
finished one, and its database is dropped on the pool while the next test runs. A clone made
ahead and never used is dropped by `close()`, or by the next run's janitor if this process is
killed (it carries the run's owner tag like any other).

Each clone comes with the lifetime of the server it was made in (data/lifetimes): `take`
hands out only one made in the current lifetime, so a restart in the middle of a run (its
tmpfs emptied) costs the next test one clone made while it waits, never a broken database.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg

from devenv.data import clones, golden, lifetimes
from devenv.engine.context import Context
from devenv.errors import DevenvError
from devenv.model.stack import ServiceSpec

Conn = golden.Conn


class ClonePool:
    def __init__(self, ctx: Context, *, tag: str, owner: str, depth: int = 4) -> None:
        self.ctx, self.tag, self.owner, self.depth = ctx, tag, owner, max(depth, 0)
        # One thread per clone in the making: a clone spends its time in the kernel creating
        # files, and several at once overlap well there (measured on a 2-core VM: 4 at once,
        # 31-53 ms per clone, against 63-311 ms one at a time).
        self._executor = ThreadPoolExecutor(max_workers=max(self.depth, 1),
                                            thread_name_prefix="devenv-clone")
        self._ahead: dict[str, deque[Future[tuple[str, str]]]] = {}
        self._taken: dict[str, int] = {}
        self._local = threading.local()
        self._conns: list[Conn] = []
        self._lock = threading.Lock()
        self.errors: list[str] = []

    def _admin(self, svc: ServiceSpec) -> tuple[Conn, str]:
        """This thread's admin session to the service's server, and the server's lifetime
        it belongs to; a new one when the server restarted under the old."""
        assert svc.server is not None
        sessions: dict[str, tuple[Conn, str]] = getattr(self._local, "sessions", None) or {}
        self._local.sessions = sessions
        held = sessions.get(svc.server)
        if held is None or held[0].closed or held[0].broken:
            if held is not None:
                held[0].close()
            held = sessions[svc.server] = lifetimes.connect(
                self.ctx, self.ctx.stack.servers[svc.server])
            with self._lock:
                self._conns.append(held[0])
        return held

    def _make(self, svc: ServiceSpec, template: str) -> tuple[str, str]:
        conn, lifetime = self._admin(svc)
        return clones.clone(self.ctx, svc, tag=self.tag, owner=self.owner, conn=conn,
                            template=template), lifetime

    def take(self, svc: ServiceSpec, template: str, lifetime: str) -> str:
        """A finished clone of the service's template made in the server's current
        `lifetime`, topping its queue back up.

        The queue grows by one per test up to `depth`: a run of one test (the inner loop of
        `pytest -k`) makes no clone it will not use, a long suite soon has `depth` in the making.
        """
        queue = self._ahead.setdefault(svc.name, deque())
        if not queue:
            queue.append(self._executor.submit(self._make, svc, template))
        ready = queue.popleft()
        taken = self._taken[svc.name] = self._taken.get(svc.name, 0) + 1
        while len(queue) < min(self.depth, taken - 1):
            queue.append(self._executor.submit(self._make, svc, template))
        try:
            name, made_in = ready.result()
        except (psycopg.Error, DevenvError):
            # the server went away while it was being made (or its tablespace with it); a
            # lasting problem comes back from the clone made below, with its own message
            name, made_in = "", ""
        if made_in == lifetime:
            return name
        if name:  # made before a restart: its files are gone
            self.drop(svc, name)
        name, made_in = self._make(svc, template)
        if made_in != lifetime:
            raise DevenvError(f"server '{svc.server}' restarted twice while a clone of "
                              f"{svc.name} was being made",
                              hint=f"`devenv logs {svc.server}` shows why it keeps restarting")
        return name

    def ahead(self, service: str) -> int:
        """Clones of the service made ahead (finished or in the making)."""
        return len(self._ahead.get(service, ()))

    def drop(self, svc: ServiceSpec, name: str) -> None:
        """Drop a used clone on the pool; a failure is reported by `close()`."""
        self._executor.submit(self._drop, svc, name)  # close() waits for it

    def _drop(self, svc: ServiceSpec, name: str) -> None:
        try:
            try:
                clones.drop_clone(self.ctx, svc, name, conn=self._admin(svc)[0])
            except psycopg.OperationalError:  # the server restarted: drop it in the new one
                clones.drop_clone(self.ctx, svc, name, conn=self._admin(svc)[0])
        except clones.NoSuchClone:
            pass  # a restart emptied it and lifetimes.repair dropped it
        except (psycopg.Error, DevenvError) as exc:
            with self._lock:
                self.errors.append(f"could not drop {name}: {exc}")

    def close(self) -> list[str]:
        """Wait for the pool, drop the clones made ahead and never used; the errors seen."""
        for service, queue in self._ahead.items():
            for future in queue:
                if future.cancel():
                    continue  # never started
                try:
                    name, _ = future.result()
                except psycopg.OperationalError:
                    continue  # the server restarted while it was being made: nothing made
                except Exception as exc:  # a clone that failed: nothing to drop
                    self.errors.append(f"could not make a clone of {service}: {exc}")
                    continue
                self.drop(self.ctx.stack.services[service], name)
        self._ahead.clear()
        self._executor.shutdown(wait=True)
        for conn in self._conns:
            conn.close()
        return self.errors
