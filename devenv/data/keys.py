"""Removing a service's Redis keys: SCAN (never KEYS, so Redis never blocks) + UNLINK."""

from __future__ import annotations

import redis

BATCH = 500


def unlink_prefix(client: redis.Redis, prefix: str) -> int:
    """UNLINK every key under the prefix; the number removed."""
    removed = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=_glob_escape(prefix) + "*", count=1000):
        batch.append(key)
        if len(batch) >= BATCH:
            removed += int(client.unlink(*batch))
            batch = []
    if batch:
        removed += int(client.unlink(*batch))
    return removed


def unlink_prefix_at(url: str, prefix: str) -> int:
    """The same over a connection of its own (`url`: the server's admin URL)."""
    client = redis.Redis.from_url(url)
    try:
        return unlink_prefix(client, prefix)
    finally:
        client.close()


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
