"""Snapshots, dump and watch: the pure parts (names, what changed, which pg_dump)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, cast

from devenv.console import Console
from devenv.data import dump, snapshots, watch
from devenv.engine.context import Context
from devenv.model.credentials import Secrets
from devenv.model.resolve import load_stack


def context(root: Path) -> Context:
    (root / "devenv.yaml").write_text(
        "project: demo\nservices:\n  app:\n    postgres: true\n    redis: true\n")
    (root / "migrations" / "app").mkdir(parents=True)
    (root / "seeds" / "app").mkdir(parents=True)
    (root / "migrations" / "app" / "V1__a.sql").write_text("CREATE TABLE a (id int);\n")
    stack = load_stack(root / "devenv.yaml")
    return Context(stack, Secrets({}), {}, cast(Any, None), Console(quiet=True))


def test_a_snapshot_database_is_never_shaped_like_a_clone_or_a_template(tmp_path: Path) -> None:
    svc = context(tmp_path).stack.services["app"]
    name = snapshots.database_name(svc, "before-import")
    assert name.startswith("app_snap_") and len(name) == len("app_snap_") + 8
    assert name != snapshots.database_name(svc, "before_import")
    from devenv.data.clones import _CLONE_NAME  # a clone's shape: `db drop` refuses others

    assert not _CLONE_NAME.match(name)


def test_changes_name_added_edited_and_removed_files() -> None:
    then = {"V1__a.sql": "1", "V2__b.sql": "2", "R__v.sql": "3"}
    now = {"V1__a.sql": "1", "V2__b.sql": "9", "V3__c.sql": "4"}
    assert snapshots.changes(then, now) == ["R__v.sql: removed", "V2__b.sql: edited",
                                            "V3__c.sql: added"]
    assert snapshots.changes(then, dict(then)) == []


def test_fingerprint_follows_the_migration_files(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    svc = ctx.stack.services["app"]
    before = snapshots.fingerprint(ctx, svc)
    assert list(before) == ["V1__a.sql"]
    (tmp_path / "seeds" / "app" / "01.sql").write_text("SELECT 1;\n")  # seeds do not count
    assert snapshots.fingerprint(ctx, svc) == before
    (tmp_path / "migrations" / "app" / "V1__a.sql").write_text("CREATE TABLE a (id bigint);\n")
    assert snapshots.changes(before, snapshots.fingerprint(ctx, svc)) == ["V1__a.sql: edited"]


def test_a_comment_round_trips_and_foreign_comments_are_ignored(tmp_path: Path) -> None:
    svc = context(tmp_path).stack.services["app"]
    comment = snapshots._comment(svc, "n1", {"taken": "t", "migrations": {"V1": "x"}})
    assert snapshots._parse(comment) == ("app", "n1", {"taken": "t", "migrations": {"V1": "x"}})
    assert snapshots._parse("devenv:snapshot:app:n1:extra {}") is None
    assert snapshots._parse("devenv:snapshot:app:n1 not json") is None


def test_the_host_pg_dump_only_when_it_is_not_older_than_the_server() -> None:
    assert dump.use_host(18, 17) and dump.use_host(17, 17)
    assert not dump.use_host(15, 17) and not dump.use_host(None, 17)


def test_watch_reports_each_changed_file_and_stops_when_told(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    svc = ctx.stack.services["app"]
    before = watch.scan(ctx, svc)
    (tmp_path / "migrations" / "app" / "V2__b.sql").write_text("CREATE TABLE b (id int);\n")
    (tmp_path / "seeds" / "app" / ".swp").write_text("editor noise")  # dot-files: ignored
    after = watch.scan(ctx, svc)
    assert watch.changed_files(before, after, tmp_path) == ["migrations/app/V2__b.sql (added)"]
    assert watch.changed_files(after, before, tmp_path) == [
        "migrations/app/V2__b.sql (removed)"]
    stop, rounds = threading.Event(), []

    def count() -> None:
        rounds.append(1)
        if len(rounds) == 3:
            stop.set()

    watch.watch(ctx, [svc], interval=0.01, stop=stop, on_scan=count)  # nothing changed
    assert len(rounds) == 3


def test_comparable_drops_what_differs_between_two_dumps_of_one_schema() -> None:
    text = "\n".join([
        "--", "-- PostgreSQL database dump", "--", "\\restrict AbC123", "",
        "SET statement_timeout = 0;", "SELECT pg_catalog.set_config('search_path', '', false);",
        "CREATE EXTENSION IF NOT EXISTS pg_cron WITH SCHEMA pg_catalog;",
        "COMMENT ON EXTENSION pg_cron IS 'Job scheduler for PostgreSQL';",
        "CREATE TABLE public.orders (", "    id bigint NOT NULL", ");",
        "GRANT USAGE ON SCHEMA cron TO orders_svc;", "GRANT SELECT ON TABLE cron.job TO x;",
        "CREATE TABLE public.cronjobs (id int);", "\\unrestrict AbC123"])
    assert dump.comparable(text, ("cron",)) == [
        "CREATE TABLE public.orders (", "    id bigint NOT NULL", ");",
        "CREATE TABLE public.cronjobs (id int);"]
    assert "GRANT USAGE ON SCHEMA cron TO orders_svc;" in dump.comparable(text)
