"""`devenv serve-tests`' refusals, before any database is reached."""

from __future__ import annotations

from pathlib import Path

import pytest

from devenv.cli import servetests
from devenv.errors import DevenvError
from tests.committed import committed_stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.2", True),
    ("0.0.0.0", False), ("192.168.1.10", False), ("::", False), ("example.org", False)])
def test_loopback(host: str, loopback: bool) -> None:
    assert servetests.loopback(host) is loopback


def test_binding_beyond_loopback_without_a_token_is_refused() -> None:
    servetests.check_bind("127.0.0.1", None)
    servetests.check_bind("0.0.0.0", "s3cret")
    with pytest.raises(DevenvError) as err:
        servetests.check_bind("0.0.0.0", None)
    assert err.value.message == (
        "refusing to serve test databases on 0.0.0.0 without a token: anyone who reaches it "
        "would get the service's password")
    assert err.value.hint == (
        "set DEVENV_TESTS_TOKEN (or --token) to a secret the suites send as `Authorization: "
        "Bearer <token>` or in the URL (http://host:port/<token>), or bind to 127.0.0.1")


def test_the_service_must_be_named_when_several_have_a_database() -> None:
    stack = committed_stack(ROOT / "examples" / "pcc" / "devenv.yaml")
    with pytest.raises(DevenvError) as err:
        servetests.api_service(stack, None)
    assert err.value.message == (
        "which service's role should own the templates clients initialise? (services with a "
        "database: auth, client, user, metric_builder, metric_tracker, task_builder, "
        "task_tracker)")
    assert servetests.api_service(stack, "auth").name == "auth"
    with pytest.raises(DevenvError) as err:
        servetests.api_service(stack, "nope")
    assert err.value.message.startswith("no service named 'nope' (services: auth, client")
