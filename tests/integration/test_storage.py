"""`storage: tmpfs`: a PostgreSQL server whose data lives in memory, for stacks only tests use."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.integration.fault_stack import admin_url, query, small_stack


def test_tmpfs_server_works_loses_its_data_on_down_and_comes_back_migrated(
        tmp_path: Path) -> None:
    with small_stack(tmp_path / "p", prefix="t-tmpfs", pg={"storage": "tmpfs"}) as stack:
        stack.ok("up")
        url = stack.env("app")["DATABASE_URL"]
        assert query(url, "SELECT count(*) FROM items") == [(2,)]  # migrated and seeded
        # PostgreSQL 18's layout: the tmpfs where the image's VOLUME is, PGDATA inside it.
        assert query(admin_url(stack), "SHOW data_directory") == [
            ("/var/lib/postgresql/18/docker",)]
        tmpfs = subprocess.run(["docker", "inspect", "--format", "{{json .HostConfig.Tmpfs}}",
                                stack.containers()["pg"]], capture_output=True, text=True,
                               check=True).stdout
        # capped by tmpfs_size, 2g by default (issue 27 item 19)
        assert json.loads(tmpfs) == {"/var/lib/postgresql": "size=2g"}
        assert [v for v in stack.volumes() if v.endswith("pg-data")] == [], stack.volumes()

        query(url, "INSERT INTO items (name) VALUES ('mine')")
        assert "restored from its template" in stack.ok("reset", "app").stdout
        assert query(url, "SELECT count(*) FROM items") == [(2,)]

        query(url, "INSERT INTO items (name) VALUES ('gone with the container')")
        down = stack.ok("down")
        assert "pg: storage tmpfs, data gone with the container" in down.stdout
        stack.ok("up")  # an empty server again: provisioned, migrated and seeded anew
        assert query(stack.env("app")["DATABASE_URL"],
                     "SELECT count(*) FROM items") == [(2,)]
