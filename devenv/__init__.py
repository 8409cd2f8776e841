"""devenv: one manifest, a local stack of PostgreSQL, TimescaleDB, Redis and PgBouncer."""

from __future__ import annotations

# The one place of the version: pyproject.toml reads it (`dynamic`), CHANGELOG.md's newest
# entry names it (tests/test_packaging.py), `devenv --version` prints it.
__version__ = "0.1.0"
# The distribution on the package index (`pipx install devenv-stack`): `devenv` there is an
# unrelated project (issue 25). The import package and the command are `devenv`.
DISTRIBUTION = "devenv-stack"
