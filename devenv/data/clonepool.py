"""Clones made ahead of the tests that will use them, and dropped behind them.

A clone costs one new file per catalog relation and fork (300+). Where creating a file is
slow (virtualised disks, a fresh Docker volume) that is 50-500 ms, more than most tests take.
So the pytest plugin keeps `depth` clones per service in the making on a thread pool (one
admin session per thread: a psycopg connection is not shared between threads): a test takes a
finished one, and its database is dropped on the pool while the next test runs. A clone made
ahead and never used is dropped by `close()`, or by the next run's janitor if this process is
killed (it carries the run's owner tag like any other).
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg

from devenv.data import clones, golden
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
        self._ahead: dict[str, deque[Future[str]]] = {}
        self._taken: dict[str, int] = {}
        self._local = threading.local()
        self._conns: list[Conn] = []
        self._lock = threading.Lock()
        self.errors: list[str] = []

    def _admin(self, svc: ServiceSpec) -> Conn:
        """This thread's admin session to the service's server."""
        assert svc.server is not None
        sessions: dict[str, Conn] = getattr(self._local, "sessions", None) or {}
        self._local.sessions = sessions
        conn = sessions.get(svc.server)
        if conn is None or conn.closed:
            conn = golden.admin_session(self.ctx, svc)
            sessions[svc.server] = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _make(self, svc: ServiceSpec, template: str) -> str:
        return clones.clone(self.ctx, svc, tag=self.tag, owner=self.owner,
                            conn=self._admin(svc), template=template)

    def take(self, svc: ServiceSpec, template: str) -> str:
        """A finished clone of the service's template, topping its queue back up.

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
        return ready.result()

    def drop(self, svc: ServiceSpec, name: str) -> None:
        """Drop a used clone on the pool; a failure is reported by `close()`."""
        self._executor.submit(self._drop, svc, name)  # close() waits for it

    def _drop(self, svc: ServiceSpec, name: str) -> None:
        try:
            clones.drop_clone(self.ctx, svc, name, conn=self._admin(svc))
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
                    name = future.result()
                except Exception as exc:  # a clone that failed: nothing to drop
                    self.errors.append(f"could not make a clone of {service}: {exc}")
                    continue
                self.drop(self.ctx.stack.services[service], name)
        self._ahead.clear()
        self._executor.shutdown(wait=True)
        for conn in self._conns:
            conn.close()
        return self.errors
