"""The template hash: what shapes a service's migrated state, wherever its folders are."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from devenv.console import Console
from devenv.data.golden import template_hash
from devenv.engine.context import Context
from devenv.model.credentials import Secrets
from devenv.model.resolve import load_stack


def context(root: Path, migrations: str) -> Context:
    (root / "devenv.yaml").write_text(
        f"project: demo\nservices:\n  app:\n    postgres: true\n    migrations: {migrations}\n")
    stack = load_stack(root / "devenv.yaml")
    return Context(stack, Secrets({}), {}, cast(Any, None), Console(quiet=True))


def test_a_monorepo_folder_outside_the_project_is_hashed(tmp_path: Path) -> None:
    """`migrations: ../services/auth/migrations` (relative or absolute) made reset and
    `db clone` exit 3 (ValueError: not in the subpath)."""
    outside = tmp_path / "services" / "app" / "migrations"
    outside.mkdir(parents=True)
    (outside / "V1__a.sql").write_text("CREATE TABLE a (id int);\n")
    root = tmp_path / "project"
    root.mkdir()
    for given in ("../services/app/migrations", str(outside)):
        ctx = context(root, given)
        before = template_hash(ctx, ctx.stack.services["app"])
        (outside / "V2__b.sql").write_text("CREATE TABLE b (id int);\n")
        assert template_hash(ctx, ctx.stack.services["app"]) != before  # the files count
        (outside / "V2__b.sql").unlink()
