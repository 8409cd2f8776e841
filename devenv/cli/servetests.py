"""`devenv serve-tests`: IntegreSQL's v1 API on the running stack, for suites in any language.

Also the API's lines in `devenv status` (from .devenv/testapi.json, which the server keeps).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import threading
import time
from typing import Any

from devenv.console import Console, table
from devenv.engine.context import attach
from devenv.errors import DevenvError
from devenv.model.stack import ServiceSpec, Stack
from devenv.store import testapi as statefile

TOKEN_ENV = "DEVENV_TESTS_TOKEN"
STATE_EVERY_S = 0.25  # the state file is rewritten at most this often while requests come in


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Beyond loopback the API hands out passwords to whoever asks: only with a token."""
    if not loopback(host) and not token:
        raise DevenvError(
            f"refusing to serve test databases on {host} without a token: anyone who reaches "
            "it would get the service's password",
            hint=f"set {TOKEN_ENV} (or --token) to a secret the suites send as "
            "`Authorization: Bearer <token>` or in the URL (http://host:port/<token>), or "
            "bind to 127.0.0.1")


def api_service(stack: Stack, name: str | None) -> ServiceSpec:
    """The service whose server and role hold the templates clients initialise."""
    with_db = [s for s in stack.services.values() if s.database and s.role]
    if name is not None:
        if name not in stack.services:
            raise DevenvError(f"no service named '{name}' (services: "
                              f"{', '.join(stack.services)})")
        if stack.services[name] not in with_db:
            raise DevenvError(f"service '{name}' has no database",
                              hint="the templates clients initialise live in a service's "
                              "server, owned by its role: pick a service with `database:`")
        return stack.services[name]
    if len(with_db) == 1:
        return with_db[0]
    raise DevenvError(f"which service's role should own the templates clients initialise? "
                      f"(services with a database: {', '.join(s.name for s in with_db)})",
                      hint="pass --service NAME; every service's golden template is served "
                      "as devenv-<service> either way")


def serve(stack: Stack, console: Console, *, host: str, port: int, token: str | None,
          service: str | None, prefetch: int, reclaim_after: int,
          stop: threading.Event | None = None) -> None:
    from devenv.data import testapi  # noqa: PLC0415 - psycopg and the engine
    from devenv.data.testapihttp import IntegreSQLServer  # noqa: PLC0415

    token = token or os.environ.get(TOKEN_ENV) or None
    check_bind(host, token)
    svc = api_service(stack, service)
    ctx = attach(stack, console)
    changed = threading.Event()
    api = testapi.TestApi(ctx, svc, prefetch=prefetch, reclaim_after=reclaim_after,
                          on_change=changed.set)
    api.check()
    dropped = api.reclaim_dead()
    try:
        server = IntegreSQLServer((host, port), api, token)
    except OSError as exc:
        raise DevenvError(f"cannot listen on {host}:{port} ({exc.strerror})",
                          hint="pick another --port, or 0 for any free one") from None
    url = f"http://{host}:{server.server_address[1]}"
    goldens = api.golden_names()

    def state() -> dict[str, Any]:
        return {"pid": os.getpid(), "url": url, "service": svc.name,
                "token": bool(token), "templates": api.snapshot()}

    done = stop or threading.Event()

    def keep_state() -> None:
        while not done.is_set():
            if changed.wait(0.5):
                changed.clear()
                statefile.write(stack, state())
                time.sleep(STATE_EVERY_S)

    statefile.write(stack, state())
    threading.Thread(target=keep_state, name="devenv-testapi-state", daemon=True).start()
    def shutdown() -> None:
        done.wait()
        server.shutdown()

    threading.Thread(target=shutdown, daemon=True).start()
    if stop is None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: done.set())
    console.result(url)  # the first line on stdout, for scripts (`--port 0`)
    if dropped:
        console.note(f"dropped {len(dropped)} database(s) left by a test API that is gone")
    console.note(f"IntegreSQL API v1 for {stack.project}: clients initialise templates as "
                f"{svc.role} on {svc.server}; golden templates: {', '.join(goldens)}")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        done.set()
        server.server_close()
        problems = api.close()
        statefile.remove(stack)
        for problem in problems:
            console.warn(problem)
    console.note("stopped: test databases handed out were dropped")


def print_status(console: Console, state: dict[str, Any]) -> None:
    console.result(f"test API {state['url']} (pid {state['pid']}, templates clients "
                   f"initialise: {state['service']}'s role)")
    console.result(table(["TEMPLATE HASH", "SERVICE", "STATE", "READY", "IN USE"], [
        [" ".join([str(t["hash"]), *(f"({h})" for h in t.get("also", []))]),
         str(t["service"]), str(t["state"]), str(t["ready"]),
         str(t["in_use"])] for t in state["templates"]]))
