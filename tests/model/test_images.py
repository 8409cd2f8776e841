"""What an image reference and an image's own config say (pure): majors, data mounts, recipes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from devenv.model import extensions
from devenv.model.images import (
    ImageFacts,
    facts_of,
    major_from_tag,
    split_reference,
    with_image_facts,
)
from devenv.model.kinds.postgres import settings_of
from devenv.model.manifest import parse
from devenv.model.render import compose_data, compose_files
from devenv.model.resolve import resolve
from devenv.model.stack import Stack


def stack_of(text: str) -> Stack:
    manifest, located = parse(textwrap.dedent(text).lstrip("\n"))
    return resolve(manifest, located, root=Path("/project"))


@pytest.mark.parametrize(("image", "expected"), [
    ("postgres:17", ("postgres", "17", "")),
    ("postgres", ("postgres", "latest", "")),
    ("registry.local:5000/postgres:18", ("registry.local:5000/postgres", "18", "")),
    ("postgres:17@sha256:abc", ("postgres", "17", "sha256:abc")),
    ("postgres@sha256:abc", ("postgres", "", "sha256:abc")),
])
def test_split_reference(image: str, expected: tuple[str, str, str]) -> None:
    assert split_reference(image) == expected


@pytest.mark.parametrize(("image", "major"), [
    ("postgres:17", 17), ("postgres:18.1-bookworm", 18), ("postgres:16-alpine", 16),
    ("timescale/timescaledb:2.19.3-pg17", 17), ("timescale/timescaledb:latest-pg18", 18),
    ("postgres:17@sha256:" + "0" * 64, 17),  # not the digest's digits
    ("postgres:latest", 18), ("postgres", 18),
    ("postgres@sha256:" + "1" * 64, None), ("myteam/pg:stable", None),
])
def test_major_from_tag(image: str, major: int | None) -> None:
    assert major_from_tag(image) == major


def test_the_image_config_decides_pgdata_and_major() -> None:
    config = {"Env": ["PATH=/usr/bin", "PGDATA=/var/lib/postgresql/data", "PG_MAJOR=17"],
              "Volumes": {"/var/lib/postgresql/data": {}}}
    facts = facts_of(config)
    assert facts == ImageFacts("/var/lib/postgresql/data", ("/var/lib/postgresql/data",), 17)
    assert facts.mount() == "/var/lib/postgresql/data"
    eighteen = facts_of({"Env": ["PGDATA=/var/lib/postgresql/18/docker", "PG_MAJOR=18"],
                         "Volumes": {"/var/lib/postgresql": {}}})
    assert eighteen.mount() == "/var/lib/postgresql"
    assert facts_of({"Env": ["PGDATA=/pg"], "Volumes": None}).mount() == "/pg"

    stack = stack_of("""
        project: demo
        servers:
          own: {kind: postgres, image: 'myteam/pg:stable'}
          pinned: {kind: postgres, image: 'myteam/pg:stable', data_dir: /srv/pg}
        services: {a: {postgres: own}, b: {postgres: pinned}}
    """)
    assert stack.servers["own"].data_dir == "/var/lib/postgresql"  # the tag tells nothing
    refined = with_image_facts(stack, {"myteam/pg:stable": facts})
    assert (refined.servers["own"].data_dir, refined.servers["own"].pg_major) == (
        "/var/lib/postgresql/data", 17)
    assert refined.servers["pinned"].data_dir == "/srv/pg"  # the manifest's word stands
    volumes = compose_data(refined)["services"]["own"]["volumes"]
    assert volumes == ["own-data:/var/lib/postgresql/data"]


def test_extensions_the_image_lacks_get_a_recipe_and_their_preload_libraries() -> None:
    stack = stack_of("""
        project: demo
        servers:
          db: {kind: postgres}
          ts: {kind: timescaledb}
        services:
          a: {postgres: db, extensions: [pg_partman, pgaudit, pg_cron, citext]}
          b: {postgres: db, extensions: [pg_partman]}
          m: {postgres: ts, extensions: [timescaledb, vector]}
    """)
    db = stack.servers["db"]
    assert extensions.packages(stack, db) == [
        "postgresql-{major}-cron", "postgresql-{major}-partman", "postgresql-{major}-pgaudit"]
    recipe = extensions.recipe(stack, db)
    assert recipe.splitlines()[1:] == [
        "FROM postgres:18",
        "# Empty unless DEVENV_APT_UPDATE_OPTIONS is set where `devenv up` runs (e.g. a frozen",
        "# mirror: -o Acquire::Check-Valid-Until=false).",
        "ARG APT_UPDATE_OPTIONS=",
        "RUN set -eux; apt-get $APT_UPDATE_OPTIONS update; \\",
        "    apt-get install -y --reinstall --no-install-recommends postgresql-${PG_MAJOR}-cron "
        "postgresql-${PG_MAJOR}-partman postgresql-${PG_MAJOR}-pgaudit; \\",
        "    rm -rf /var/lib/apt/lists/*",
    ]
    files = compose_files(stack)
    assert files[Path("compose/images/db/Dockerfile")] == recipe
    service = compose_data(stack)["services"]["db"]
    tag = extensions.built_image(stack, db)
    assert service["image"] == tag and tag is not None and tag.startswith("devenv/demo-db:")
    assert service["build"]["context"] == "./images/db"
    assert db.preload == ("pg_cron", "pgaudit", "pg_partman_bgw")
    settings = dict(settings_of(db, stack))
    assert settings["cron.database_name"] == "a"
    # pg_partman's worker logs in as one role per server: the first listing service's, in its
    # own database only (as the superuser it ran service-owned code; issue 27 item 18)
    assert settings["pg_partman_bgw.dbname"] == "a"
    assert settings["pg_partman_bgw.role"] == "a"
    # The Alpine TimescaleDB image is used as it is: it must ship what is listed.
    assert extensions.built_image(stack, stack.servers["ts"]) is None
    assert "build" not in compose_data(stack)["services"]["ts"]
    assert not any("images/ts" in str(p) for p in files)
    # A changed recipe is a new tag: rebuilt once.
    other = stack_of("""
        project: demo
        servers: {db: {kind: postgres}}
        services: {a: {postgres: db, extensions: [pg_partman]}}
    """)
    assert extensions.built_image(other, other.servers["db"]) != tag
