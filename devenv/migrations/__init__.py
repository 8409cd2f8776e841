"""Migrations and seeds for each service's database.

Reads Flyway, golang-migrate and dbmate folders unchanged (`formats`), applies them over
psycopg with a ledger and an advisory lock (`runner`), loads seeds (`seedfiles`, `seeds`) and
runs other tools' migration commands (`command`). Files-on-disk modules never touch a database.
"""

from __future__ import annotations

from devenv.migrations.command import run_command
from devenv.migrations.formats import Migration, MigrationSet, Script, Version, load_migrations
from devenv.migrations.runner import (
    Applied,
    MigrateResult,
    info,
    migrate,
    pending_count,
    repair,
    rollback,
    validate,
)
from devenv.migrations.seedfiles import SeedFile, SeedSet, load_seeds
from devenv.migrations.seeds import SeedResult, SeedStatus, seed, seed_status
from devenv.migrations.state import InfoRow

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
