"""Migrations and seeds for each service's database.

Reads Flyway, golang-migrate and dbmate folders unchanged (`formats`), applies them over
psycopg with a ledger and an advisory lock (`runner`), loads seeds (`seedfiles`, `seeds`) and
runs other tools' migration commands (`command`). Files-on-disk modules never touch a database.

The names below load their module on first use (PEP 562): a warm `devenv up` only needs
`check` and `formats`, and must not pay for the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devenv.migrations.command import run_command
    from devenv.migrations.formats import (
        Migration,
        MigrationSet,
        Script,
        Version,
        load_migrations,
    )
    from devenv.migrations.runner import (
        Applied,
        MigrateResult,
        info,
        inspect,
        migrate,
        pending_count,
        repair,
        rollback,
        validate,
    )
    from devenv.migrations.seedfiles import SeedFile, SeedSet, load_seeds
    from devenv.migrations.seeds import SeedResult, SeedStatus, seed, seed_status
    from devenv.migrations.state import InfoRow

_WHERE = {
    "run_command": "command",
    "Migration": "formats", "MigrationSet": "formats", "Script": "formats", "Version": "formats",
    "load_migrations": "formats",
    "Applied": "runner", "MigrateResult": "runner", "info": "runner", "inspect": "runner",
    "migrate": "runner",
    "pending_count": "runner", "repair": "runner", "rollback": "runner", "validate": "runner",
    "SeedFile": "seedfiles", "SeedSet": "seedfiles", "load_seeds": "seedfiles",
    "SeedResult": "seeds", "SeedStatus": "seeds", "seed": "seeds", "seed_status": "seeds",
    "InfoRow": "state",
}

__all__ = [
    "Applied",
    "InfoRow",
    "MigrateResult",
    "Migration",
    "MigrationSet",
    "Script",
    "SeedFile",
    "SeedResult",
    "SeedSet",
    "SeedStatus",
    "Version",
    "info",
    "inspect",
    "load_migrations",
    "load_seeds",
    "migrate",
    "pending_count",
    "repair",
    "rollback",
    "run_command",
    "seed",
    "seed_status",
    "validate",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'devenv.migrations' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"devenv.migrations.{module}"), name)
    globals()[name] = value
    return value
