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


def test_two_checkouts_of_one_repo_share_the_template_key(tmp_path: Path) -> None:
    """The key is the files' content and relative paths, not where the checkout is."""
    keys = []
    for checkout in ("one", "two"):
        root = tmp_path / checkout / "repo"
        (root / "db" / "migrations").mkdir(parents=True)
        (root / "db" / "migrations" / "V1__a.sql").write_text("CREATE TABLE a (id int);\n")
        ctx = context(root, "db/migrations")
        keys.append(template_hash(ctx, ctx.stack.services["app"]))
    assert keys[0] == keys[1]
    (tmp_path / "two" / "repo" / "db" / "migrations" / "V1__a.sql").write_text("-- edited\n")
    assert template_hash(ctx, ctx.stack.services["app"]) != keys[0]


def test_a_command_migration_in_the_project_root_ignores_the_checkouts_own_state(
        tmp_path: Path) -> None:
    """cwd `.` holds .git, .devenv (rewritten by every `up`), .venv, caches and the
    generated files: none of them may change the key (a rebuild per run, or per checkout)."""
    (tmp_path / "devenv.yaml").write_text(
        "project: demo\nservices:\n  app:\n    postgres: true\n"
        "    migrations:\n      command: ./migrate.sh\n      cwd: .\n")
    (tmp_path / "migrate.sh").write_text("psql -f schema.sql\n")
    (tmp_path / "schema.sql").write_text("CREATE TABLE a (id int);\n")
    stack = load_stack(tmp_path / "devenv.yaml")
    ctx = Context(stack, Secrets({}), {}, cast(Any, None), Console(quiet=True))
    svc = stack.services["app"]
    before = template_hash(ctx, svc)
    for noise in (".git/HEAD", ".devenv/state.json", ".venv/bin/python", "app/__pycache__/x.pyc",
                  "node_modules/x/index.js", f"{stack.compose_dir}/compose.yaml",
                  str(svc.env_file)):
        (tmp_path / noise).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / noise).write_text("changes all the time\n")
    assert template_hash(ctx, svc) == before
    (tmp_path / "schema.sql").write_text("CREATE TABLE a (id bigint);\n")
    assert template_hash(ctx, svc) != before
