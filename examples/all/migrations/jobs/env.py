"""Alembic environment: the database comes from DATABASE_URL, as devenv sets it."""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool


def database_url() -> str:
    """DATABASE_URL with the psycopg 3 dialect (a plain postgresql:// URL means psycopg2)."""
    url = os.environ["DATABASE_URL"]
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


def run_migrations_online() -> None:
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()


if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name)
run_migrations_online()
