"""The HTTP server of `devenv ui`: the standard library's threading server, over the CLI's own
verbs (status, reset, migrate, replica pause/resume), so the page does what the commands do.

Every request passes devenv.cli.ui.security first. Reads of a service's tables and Redis keys
are made as that service (its .env credentials), never as the admin.
"""

from __future__ import annotations

import io
import json
import secrets
import subprocess
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devenv.cli import data as data_verbs
from devenv.cli import lifecycle
from devenv.cli import migrate as migrate_verbs
from devenv.cli import snapshot as snapshot_verbs
from devenv.cli.shells import ERASE_LINE
from devenv.cli.ui import security, views
from devenv.console import Console
from devenv.engine.context import Context, attach
from devenv.errors import DevenvError
from devenv.masking import mask, mask_values
from devenv.model import facts
from devenv.model.replicas import all_replicas
from devenv.model.stack import Stack
from devenv.store import passwords, state

LAG_POINTS = 90  # the chart's last minutes at one sample per two seconds
TABLE_ROWS = 5


class Ui:
    """One served stack: its token, CSRF token, lag history and the lock actions take (one
    action at a time, as one person at a terminal would run them)."""

    def __init__(self, stack: Stack, port: int) -> None:
        self.stack = stack
        self.port = port
        self.token = secrets.token_urlsafe(24)
        self.csrf = secrets.token_urlsafe(24)
        self.lag: dict[str, deque[float]] = {}
        self.action_lock = threading.Lock()

    # -- reads -----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        data = lifecycle.status_data(self.stack, Console(quiet=True, out=io.StringIO(),
                                                          err=io.StringIO()))
        for replica in data["replicas"]:
            points = self.lag.setdefault(replica["name"], deque(maxlen=LAG_POINTS))
            points.append(float(replica["lag_bytes"] or 0))
        return data

    def context(self) -> Context:
        return attach(self.stack, Console(quiet=True, out=io.StringIO(), err=io.StringIO()))

    def server_facts(self, status: dict[str, Any]) -> dict[str, dict[str, Any]]:
        running = {s["name"] for s in status["servers"] if s["state"] == "running"}
        out: dict[str, dict[str, Any]] = {}
        ctx: Context | None = None
        for server in self.stack.servers.values():
            fact: dict[str, Any] = {"image": server.image, "major": server.pg_major,
                                    "replicas": server.replicas,
                                    "storage": server.storage if server.is_database else
                                    "volume"}
            if server.is_database and server.name in running:
                try:
                    ctx = ctx or self.context()
                    with ctx.admin_session(server) as conn:
                        row = conn.execute("SELECT pg_catalog.pg_size_pretty(pg_catalog.sum("
                                           "pg_catalog.pg_database_size(datname))::bigint) "
                                           "FROM pg_catalog.pg_database").fetchone()
                    fact["size"] = row[0] if row else None
                except DevenvError:
                    pass
            out[server.name] = fact
        return out

    def service_facts(self, status: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Per service: reads, Redis prefix and key count (as the service's ACL user), the
        golden template's state (read, never built here) and its snapshots."""
        from devenv.data import golden  # noqa: PLC0415 - the engine's template code, ~0.2 s

        out: dict[str, dict[str, Any]] = {}
        creds = passwords.load(self.stack.root / self.stack.state_dir)
        ports = state.load(self.stack).ports
        running = {s["name"] for s in status["servers"] if s["state"] == "running"}
        ctx = self.context() if creds is not None else None
        for svc in self.stack.services.values():
            fact: dict[str, Any] = {"reads": list(svc.reads), "snapshots": [
                snap["name"] for snap in status.get("snapshots", [])
                if snap["service"] == svc.name]}
            if svc.redis and creds is not None:
                fact["prefix"] = svc.key_prefix
                fact["keys"] = _key_count(facts.redis_facts(self.stack, svc, creds, ports))
            out[svc.name] = fact
        if ctx is None:
            return out
        for server in (s for s in self.stack.servers.values() if s.name in running):
            on_it = [s for s in self.stack.services.values()
                     if s.server == server.name and s.database]
            if not on_it:
                continue
            try:  # one admin session per server, however many services it holds
                with ctx.admin_session(server) as conn:
                    for svc in on_it:
                        ready = golden.ready_template(conn, ctx, svc)
                        out[svc.name]["template"] = ("ready" if ready else
                                                     "built at the next reset")
            except DevenvError:
                continue
        return out

    def masked_env(self, service: str) -> dict[str, str]:
        svc = self.stack.services[service]
        ctx = self.context()
        variables = facts.env_vars(self.stack, svc, ctx.secrets, ctx.ports)
        return mask_values(variables, ctx.secrets.all())

    def reveal(self, service: str, name: str) -> str:
        svc = self.stack.services[service]
        ctx = self.context()
        return facts.env_vars(self.stack, svc, ctx.secrets, ctx.ports)[name]

    def tables(self, service: str) -> list[tuple[str, int, list[str], list[tuple[Any, ...]]]]:
        """The service's own tables, their counts and first rows, as the service's role."""
        from psycopg import sql  # noqa: PLC0415 - psycopg, ~0.2 s: only the Tables view needs it

        from devenv.engine.probes import service_session  # noqa: PLC0415 - same

        svc = self.stack.services[service]
        ctx = self.context()
        db = facts.db_facts(self.stack, svc, ctx.secrets, ctx.ports)
        if db is None:
            return []
        out = []
        with service_session(db.direct_url) as conn:  # never the admin
            names = conn.execute(
                "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN "
                "pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN "
                "('r', 'p') AND pg_catalog.pg_get_userbyid(c.relowner) = current_user "
                "AND NOT c.relispartition ORDER BY 1, 2").fetchall()
            for schema, table in names:
                ident = sql.Identifier(str(schema), str(table))
                count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(ident)).fetchone()
                cursor = conn.execute(sql.SQL("SELECT * FROM {} LIMIT {}").format(
                    ident, sql.Literal(TABLE_ROWS)))
                columns = [d.name for d in cursor.description or []]
                out.append((f"{schema}.{table}", int(count[0]) if count else 0, columns,
                            cursor.fetchall()))
        return out

    # -- actions: the CLI's verbs ----------------------------------------------------------
    def act(self, action: str, target: str) -> tuple[bool, str, float]:
        verbs: dict[str, Callable[[Console], None]] = {
            "reset": lambda c: data_verbs.reset(self.stack, c, names=[target], all_=False,
                                                hard=False),
            "reset-hard": lambda c: data_verbs.reset(self.stack, c, names=[target],
                                                     all_=False, hard=True),
            "migrate": lambda c: migrate_verbs.migrate(self.stack, c, names=[target],
                                                       target=None),
            "replica-pause": lambda c: lifecycle.replica(self.stack, c, server=target,
                                                         pause=True),
            "replica-resume": lambda c: lifecycle.replica(self.stack, c, server=target,
                                                          pause=False),
        }
        if action in ("snapshot-save", "snapshot-restore"):
            service, _, name = target.partition("/")
            verb = snapshot_verbs.save if action == "snapshot-save" else snapshot_verbs.restore
            verbs[action] = lambda c: verb(self.stack, c, service=service, name=name,
                                           force=False)
        if action not in verbs:
            raise DevenvError(f"unknown action {action!r}")
        out = io.StringIO()
        console = Console(out=out, err=out)
        started = time.perf_counter()
        with self.action_lock:
            try:
                verbs[action](console)
                ok = True
            except DevenvError as exc:
                out.write(exc.report())
                ok = False
        return ok, mask(out.getvalue()), round(time.perf_counter() - started, 2)


def _key_count(redis_facts: facts.RedisFacts | None) -> int | None:
    if redis_facts is None:
        return None
    import redis  # noqa: PLC0415 - redis-py, ~0.1 s: only a stack with Redis services pays it

    client = redis.Redis.from_url(redis_facts.url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return sum(1 for _ in client.scan_iter(match=f"{redis_facts.prefix}*", count=500))
    except redis.RedisError:
        return None
    finally:
        client.close()


def handler(ui: Ui) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "devenv-ui"

        def log_message(self, format: str, *args: Any) -> None:
            return  # the terminal shows the URL and errors, not every request

        # -- the checks every request passes ---------------------------------------------
        def _allowed(self, query: dict[str, list[str]]) -> bool:
            if not security.host_ok(self.headers.get("Host"), ui.port):
                self._send(403, "text/plain", b"refused: Host is not this loopback server\n")
                return False
            given = security.token_of(query.get("token", [None])[0],
                                      self.headers.get("Cookie"))
            if not security.same(given, ui.token):
                self._send(403, "text/plain", b"refused: open the URL devenv ui printed\n")
                return False
            return True

        def _send(self, code: int, kind: str, body: bytes,
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Frame-Options", "DENY")
            self.send_header("Content-Security-Policy",
                             "default-src 'self'; script-src 'unsafe-inline'; "
                             "style-src 'unsafe-inline'; frame-ancestors 'none'")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, code: int, data: Any) -> None:
            self._send(code, "application/json", json.dumps(data).encode())

        def _html(self, text: str, headers: dict[str, str] | None = None) -> None:
            self._send(200, "text/html", text.encode(), headers)

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            if not self._allowed(query):
                return
            parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
            try:
                self._get(parts, query)
            except KeyError as exc:
                self._send(404, "text/plain", f"unknown: {exc}\n".encode())
            except Exception as exc:  # shown in the page's section, never a hung "loading"
                text = exc.report() if isinstance(exc, DevenvError) else \
                    f"error: {type(exc).__name__}: {exc}\n"
                self._send(500, "text/plain", mask(text).encode())

        def _get(self, parts: list[str], query: dict[str, list[str]]) -> None:
            if parts == [""]:
                logs = list(ui.stack.servers) + [
                    r.name for r in all_replicas(list(ui.stack.servers.values()))]
                cookie = {"Set-Cookie": security.cookie_header(ui.token)}
                self._html(views.page(ui.stack.project, ui.csrf, logs), cookie)
            elif parts == ["fragment", "servers"]:
                status = ui.status()
                self._html(views.servers(status, ui.server_facts(status),
                                         {k: list(v) for k, v in ui.lag.items()}))
            elif parts == ["fragment", "services"]:
                status = ui.status()
                self._html(views.services(status, ui.service_facts(status)))
            elif len(parts) == 3 and parts[:2] == ["fragment", "env"]:
                self._html(views.env(parts[2], ui.masked_env(parts[2])))
            elif len(parts) == 3 and parts[:2] == ["fragment", "tables"]:
                self._html(views.tables(parts[2], ui.tables(parts[2])))
            elif parts == ["api", "state"]:
                self._json(200, ui.status())
            elif len(parts) == 2 and parts[0] == "logs":
                self._logs(parts[1])
            else:
                raise KeyError(self.path)

        def _logs(self, server: str) -> None:
            """Server-sent events: the server's log, masked like `devenv logs`."""
            names = set(ui.stack.servers) | {
                r.name for r in all_replicas(list(ui.stack.servers.values()))}
            if server not in names:
                raise KeyError(server)
            ctx = ui.context()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            command = ctx.docker.compose_command("logs", "--no-color", "--tail", "200", "-f",
                                                 server)
            process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, errors="replace")
            assert process.stdout is not None
            try:
                for line in process.stdout:
                    text = mask(line.rstrip("\n").removeprefix(ERASE_LINE), ctx.secrets.all())
                    self.wfile.write(f"data: {text}\n\n".encode())
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the page closed the stream
            finally:
                process.kill()

        def do_POST(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            if not self._allowed(urllib.parse.parse_qs(url.query)):
                return
            if not security.same(self.headers.get(security.CSRF_HEADER), ui.csrf) or \
                    not security.origin_ok(self.headers.get("Origin"), ui.port):
                self._send(403, "text/plain", b"refused: no CSRF token from this page\n")
                return
            length = min(int(self.headers.get("Content-Length") or 0), 65536)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                if url.path == "/api/action":
                    ok, output, seconds = ui.act(str(body["action"]), str(body["target"]))
                    self._json(200, {"ok": ok, "output": output, "seconds": seconds})
                elif url.path == "/api/reveal":
                    self._json(200, {"value": ui.reveal(str(body["service"]),
                                                        str(body["name"]))})
                else:
                    self._json(404, {"error": "unknown"})
            except (KeyError, ValueError, DevenvError) as exc:
                self._json(400, {"error": str(exc)})

    return Handler


def serve(stack: Stack, console: Console, *, port: int, open_browser: bool,
          ready: Callable[[str], None] | None = None) -> None:
    """Serve until Ctrl-C; `ready(url)` once listening (tests take the URL from there)."""
    # Bound to loopback only; port 0: one the OS picks, known once bound.
    server = ThreadingHTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
    server.daemon_threads = True
    actual = int(server.server_address[1])
    ui = Ui(stack, actual)
    server.RequestHandlerClass = handler(ui)
    url = f"http://127.0.0.1:{actual}/?token={ui.token}"
    # The URL holds the token, as Jupyter's does: printed for this user's terminal only.
    console.result(f"devenv ui of {stack.project}: {url}", raw=True)
    console.note("Ctrl-C stops it; every request without the token is refused")
    if ready is not None:
        ready(url)
    if open_browser:
        import webbrowser  # noqa: PLC0415 - only when a browser is wanted

        webbrowser.open(url)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
