"""Honest readiness: each server answers its own protocol, as the users that will use it.

Retries (tenacity) run under one deadline; when it passes, the error carries the server,
the last error, the container's health and the tail of its log, and a hint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from devenv.errors import DevenvError

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")

# Server-side auth failures are not transient: retrying would only hide a wrong password.
_FATAL_MARKERS = ("password authentication failed", "SASL authentication failed",
                  "WRONGPASS", "NOPERM", "does not exist")


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, DevenvError):
        return "psql in server" in exc.message  # the server may still be starting
    if "server login has been failing" in str(exc):
        return True  # PgBouncer replays a login failure it cached before provisioning
    return not any(marker in str(exc) for marker in _FATAL_MARKERS)


def retry_until(deadline: float, what: Callable[[], T], *, longest_wait: float = 0.5) -> T:
    """Call `what` until it succeeds or the monotonic `deadline` passes; re-raise the last error.

    `longest_wait` caps the backoff: a server that is starting answers at an instant no
    backoff can guess, and every wait past it is time a cold start pays in full.
    """
    from tenacity import Retrying, retry_if_exception, stop_before_delay, wait_exponential  # noqa: PLC0415 - tenacity: only a wait that retries loads it

    remaining = max(0.1, deadline - time.monotonic())
    for attempt in Retrying(
        stop=stop_before_delay(remaining),
        wait=wait_exponential(multiplier=0.05, max=longest_wait),
        retry=retry_if_exception(_transient),
        reraise=True,
    ):
        with attempt:
            return what()
    raise AssertionError("unreachable")  # pragma: no cover


def service_session(url: str) -> psycopg.Connection[Any]:
    """A session as a service's own role (its URL, direct or through PgBouncer), for
    readiness: what the service will do. Never the superuser's: that is
    Context.admin_connect, which also shields the session from the service's objects."""
    import psycopg  # noqa: PLC0415 - psycopg, ~0.2 s: a Redis-only stack never loads it

    return psycopg.connect(url, connect_timeout=3, autocommit=True)


def postgres_ok(url: str) -> None:
    """`SELECT 1` as a service role (see service_session)."""
    with service_session(url) as conn:
        conn.execute("SELECT 1")


def redis_ok(url: str) -> None:
    import redis  # noqa: PLC0415 - redis-py, ~0.1 s: a PostgreSQL-only stack never loads it

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        if client.ping() is not True:
            raise ConnectionError("PING did not answer PONG")
    finally:
        client.close()
