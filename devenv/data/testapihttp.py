"""IntegreSQL's v1 HTTP API over data/testapi: routes, status codes and JSON shapes only.

The standard library's ThreadingHTTPServer: nine routes, one JSON body, a thread per
connection; a web framework would add a dependency and nothing a client can see. The routes,
codes and bodies follow IntegreSQL's internal/api (echo): errors are `{"message": "..."}`.
A body may be JSON (the Go and Node clients) or a form (the Python client posts `hash=...`).

Auth: on loopback none is needed unless a token is set; beyond loopback the server refuses to
start without one (devenv.cli.servetests). The token goes in `Authorization: Bearer <token>`
or as the base URL's first path segment (`http://host:port/<token>/api/v1/...`), since no
IntegreSQL client sends headers of its own.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from devenv.data import testapi
from devenv.errors import DevenvError

_HASH = r"(?P<hash>[^/]+)"
_ID = r"(?P<id>[^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"^/api/v1/templates/?$"), "initialize"),
    ("PUT", re.compile(rf"^/api/v1/templates/{_HASH}$"), "finalize"),
    ("DELETE", re.compile(rf"^/api/v1/templates/{_HASH}$"), "discard"),
    ("GET", re.compile(rf"^/api/v1/templates/{_HASH}/tests$"), "get"),
    ("DELETE", re.compile(rf"^/api/v1/templates/{_HASH}/tests/{_ID}$"), "unlock"),  # deprecated
    ("POST", re.compile(rf"^/api/v1/templates/{_HASH}/tests/{_ID}/unlock$"), "unlock"),
    ("POST", re.compile(rf"^/api/v1/templates/{_HASH}/tests/{_ID}/recreate$"), "recreate"),
    ("DELETE", re.compile(r"^/api/v1/admin/templates$"), "reset"),
]


class IntegreSQLServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: testapi.TestApi, token: str | None) -> None:
        super().__init__(address, IntegreSQLHandler)
        self.api, self.token = api, token
        self.requests_served = 0
        self._count = threading.Lock()


class IntegreSQLHandler(BaseHTTPRequestHandler):
    server: IntegreSQLServer
    protocol_version = "HTTP/1.1"  # keep-alive: a client's 50 requests reuse one connection
    # The headers and the body are two writes: with Nagle's algorithm the body waits for the
    # client's delayed ACK, 40 ms per request on Linux (measured by bench/testapi.py).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: a suite makes thousands of requests

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        body = self._body()
        path = self.path.split("?", 1)[0]
        routed = self._authorised(path)
        if routed is None:
            self._send(401, {"message": "a token is required: Authorization: Bearer <token>, "
                                        "or http://host:port/<token>/api/v1/..."})
            return
        path = routed
        for verb, pattern, action in ROUTES:
            match = pattern.match(path)
            if match and verb == method:
                self._run(action, match.groupdict(), body)
                return
        status = 405 if any(p.match(path) for _, p, _ in ROUTES) else 404
        self._send(status, {"message": "Method Not Allowed" if status == 405 else "Not Found"})

    def _authorised(self, path: str) -> str | None:
        """The path without its token segment, or None when a token is needed and missing."""
        token = self.server.token
        given = None
        if not path.startswith("/api/"):
            head, _, rest = path.lstrip("/").partition("/")
            given, path = head, "/" + rest
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            given = header[len("Bearer "):].strip()
        if token is None:
            return path
        if given is None or not hmac.compare_digest(given.encode(), token.encode()):
            return None
        return path

    def _body(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        kind = self.headers.get("Content-Type", "")
        try:
            if "json" in kind or raw.lstrip().startswith(b"{"):
                data = json.loads(raw)
                return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
            return {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        except (ValueError, UnicodeDecodeError):
            return {}

    def _run(self, action: str, params: dict[str, str], body: dict[str, str]) -> None:
        api = self.server.api
        name = params.get("hash", "")
        try:
            test_id = -1
            if "id" in params:
                try:
                    test_id = int(params["id"])
                except ValueError:
                    self._send(400, {"message": "invalid test database ID"})
                    return
            if action == "initialize":
                name = body.get("hash", "")
                if not name:
                    self._send(400, {"message": "hash is required"})
                    return
                self._send(200, {"database": api.initialize(name)})
            elif action == "finalize":
                api.finalize(name)
                self._send(204, None)
            elif action == "discard":
                api.discard(name)
                self._send(204, None)
            elif action == "get":
                self._send(200, api.get(name))
            elif action == "unlock":
                api.unlock(name, test_id)
                self._send(204, None)
            elif action == "recreate":
                api.recreate(name, test_id)
                self._send(204, None)
            else:
                api.reset_all()
                self._send(204, None)
        except testapi.NotFound as exc:
            self._send(404, {"message": exc.message})
        except testapi.Locked as exc:
            self._send(423, {"message": exc.message})
        except testapi.Gone as exc:
            self._send(410, {"message": exc.message})
        except DevenvError as exc:
            status = 503 if exc.message.startswith("cannot reach") else 500
            self._send(status, {"message": exc.message})
        except Exception as exc:  # a bug or a database error: the client sees it
            self._send(500, {"message": f"{type(exc).__name__}: {exc}"})

    def _send(self, status: int, payload: dict[str, Any] | None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode() + b"\n"
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)
        with self.server._count:
            self.server.requests_served += 1
