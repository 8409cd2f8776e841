"""Reading on a replica in end-to-end tests: one value, or polling until replay shows it."""

from __future__ import annotations

import time
from typing import Any

import psycopg


def one(url: str, query: str) -> Any:
    """The first column of the first row, on a fresh autocommit session."""
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def eventually(url: str, query: str, expected: Any, *, timeout: float,
               tolerate: tuple[type[BaseException], ...] = ()) -> None:
    """Replay is asynchronous: poll until `query` gives `expected` within `timeout` seconds.
    `tolerate`: errors that mean "not yet" (a replica reconnecting or cloning again); any
    other error fails at once."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            got: object = one(url, query)
        except tolerate as exc:
            got = f"{type(exc).__name__}: {exc}"
        if got == expected:
            return
        assert time.monotonic() < deadline, f"{query} gave {got!r}, not {expected!r}"
        time.sleep(0.1)
