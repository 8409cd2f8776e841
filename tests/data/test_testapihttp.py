"""IntegreSQL's routes, status codes and bodies (data/testapihttp) over a stand-in manager:
the HTTP layer's own logic, with no database (the real one: tests/integration/test_serve_tests)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any, cast

import pytest

from devenv.data import testapi
from devenv.data.testapihttp import IntegreSQLServer
from devenv.errors import DevenvError

CONFIG = {"host": "127.0.0.1", "port": 5432, "username": "auth", "password": "pw",
          "database": "auth_c1"}


class Manager:
    """What the HTTP layer calls, answering as a template `ready` and nothing else would."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def initialize(self, name: str) -> dict[str, Any]:
        self.calls.append(("initialize", name))
        if name == "ready":
            raise testapi.Locked("template is already initialized")
        return {"templateHash": name, "config": CONFIG}

    def _known(self, name: str) -> None:
        if name == "gone":
            raise testapi.Gone("template was just discarded")
        if name == "down":
            raise DevenvError("cannot reach server 'pg' (connection refused)")
        if name != "ready":
            raise testapi.NotFound("template not found")

    def finalize(self, name: str) -> None:
        self.calls.append(("finalize", name))
        self._known(name)

    def discard(self, name: str) -> None:
        self.calls.append(("discard", name))
        self._known(name)

    def get(self, name: str) -> dict[str, Any]:
        self._known(name)
        return {"database": {"templateHash": name, "config": CONFIG}, "id": 7}

    def unlock(self, name: str, test_id: int) -> None:
        self.calls.append(("unlock", name, str(test_id)))
        self._known(name)
        if test_id != 7:
            raise testapi.NotFound("test database not found")

    def recreate(self, name: str, test_id: int) -> None:
        self.calls.append(("recreate", name, str(test_id)))
        self._known(name)

    def reset_all(self) -> None:
        self.calls.append(("reset",))


def serve(token: str | None) -> tuple[IntegreSQLServer, Manager]:
    manager = Manager()
    server = IntegreSQLServer(("127.0.0.1", 0), cast(testapi.TestApi, manager), token)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, manager


@pytest.fixture
def api() -> Iterator[tuple[str, Manager]]:
    server, manager = serve(None)
    yield f"http://127.0.0.1:{server.server_address[1]}", manager
    server.shutdown()
    server.server_close()


def call(url: str, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(url + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as rsp:
            text = rsp.read()
            return rsp.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        text = exc.read()
        return exc.code, json.loads(text) if text else None


def test_initialize_takes_json_or_a_form_and_answers_the_template(
        api: tuple[str, Manager]) -> None:
    url, manager = api
    expected = {"database": {"templateHash": "h1", "config": CONFIG}}
    assert call(url, "POST", "/api/v1/templates", b'{"hash": "h1"}',
                {"Content-Type": "application/json"}) == (200, expected)
    # integresql-client-python posts a form (requests' `data=`)
    assert call(url, "POST", "/api/v1/templates", b"hash=h1",
                {"Content-Type": "application/x-www-form-urlencoded"}) == (200, expected)
    assert call(url, "POST", "/api/v1/templates", b"{}") == (400, {"message": "hash is required"})
    assert call(url, "POST", "/api/v1/templates", b'{"hash": "ready"}') == (
        423, {"message": "template is already initialized"})
    assert manager.calls == [("initialize", "h1"), ("initialize", "h1"),
                             ("initialize", "ready")]


def test_each_route_and_its_status_codes(api: tuple[str, Manager]) -> None:
    url, manager = api
    assert call(url, "PUT", "/api/v1/templates/ready") == (204, None)
    assert call(url, "PUT", "/api/v1/templates/nope") == (404, {"message": "template not found"})
    assert call(url, "DELETE", "/api/v1/templates/ready") == (204, None)
    assert call(url, "GET", "/api/v1/templates/ready/tests") == (
        200, {"database": {"templateHash": "ready", "config": CONFIG}, "id": 7})
    assert call(url, "GET", "/api/v1/templates/gone/tests") == (
        410, {"message": "template was just discarded"})
    assert call(url, "GET", "/api/v1/templates/down/tests") == (
        503, {"message": "cannot reach server 'pg' (connection refused)"})
    assert call(url, "POST", "/api/v1/templates/ready/tests/7/unlock") == (204, None)
    assert call(url, "DELETE", "/api/v1/templates/ready/tests/7") == (204, None)  # deprecated
    assert call(url, "POST", "/api/v1/templates/ready/tests/8/unlock") == (
        404, {"message": "test database not found"})
    assert call(url, "POST", "/api/v1/templates/ready/tests/x/recreate") == (
        400, {"message": "invalid test database ID"})
    assert call(url, "POST", "/api/v1/templates/ready/tests/7/recreate") == (204, None)
    assert call(url, "DELETE", "/api/v1/admin/templates") == (204, None)
    assert call(url, "GET", "/api/v1/admin/templates") == (405, {"message": "Method Not Allowed"})
    assert call(url, "GET", "/api/v2/templates") == (404, {"message": "Not Found"})
    assert ("unlock", "ready", "7") in manager.calls and ("reset",) in manager.calls


def test_a_token_is_taken_from_the_header_or_the_first_path_segment() -> None:
    server, _ = serve("s3cret")
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        needed = (401, {"message": "a token is required: Authorization: Bearer <token>, "
                                   "or http://host:port/<token>/api/v1/..."})
        assert call(url, "GET", "/api/v1/templates/ready/tests") == needed
        assert call(url, "GET", "/wrong/api/v1/templates/ready/tests") == needed
        assert call(url, "GET", "/api/v1/templates/ready/tests",
                    headers={"Authorization": "Bearer wrong"}) == needed
        assert call(url, "GET", "/s3cret/api/v1/templates/ready/tests")[0] == 200
        assert call(url, "GET", "/api/v1/templates/ready/tests",
                    headers={"Authorization": "Bearer s3cret"})[0] == 200
    finally:
        server.shutdown()
        server.server_close()
