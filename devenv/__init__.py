"""devenv: one manifest, a local stack of PostgreSQL, TimescaleDB, Redis and PgBouncer."""

from __future__ import annotations

__version__ = "0.1.0"
