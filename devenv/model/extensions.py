"""Extensions the official postgres image lacks, and the package that builds each in (pure).

The official image (docker-library/postgres, Debian) ships PostgreSQL and its contrib modules
only, and keeps apt.postgresql.org (PGDG) in its apt sources: `postgresql-$PG_MAJOR-<name>`
there is the extension for exactly the image's major. Debian itself uses the same package
names, so one recipe serves both. When a service lists one of these, devenv generates
`compose/images/<server>/Dockerfile` (FROM the configured image, one apt-get install) and the
server is built from it; see `recipe`.

Only the official `postgres` Debian images are extended: other images (Alpine-based
timescale/timescaledb, whose PostgreSQL is compiled from source and matches no apk package;
timescaledb-ha and the like, which run as a non-root user) are taken to ship what the manifest
lists, and `up` checks that before the server starts.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from devenv.model.images import split_reference
from devenv.model.stack import ServerSpec, Stack


@dataclass(frozen=True)
class Packaged:
    package: str  # the Debian/PGDG package, '{major}' standing for the image's $PG_MAJOR
    preload: tuple[str, ...] = ()  # libraries for shared_preload_libraries


# The one table: extension name (as in CREATE EXTENSION) -> package. An extension not here
# and not in the image gets provisioning's "not available" error with close matches.
PACKAGES: dict[str, Packaged] = {
    "pg_partman": Packaged("postgresql-{major}-partman", ("pg_partman_bgw",)),
    "pgaudit": Packaged("postgresql-{major}-pgaudit", ("pgaudit",)),
    "pg_cron": Packaged("postgresql-{major}-cron", ("pg_cron",)),
    "pg_repack": Packaged("postgresql-{major}-repack"),
    "postgis": Packaged("postgresql-{major}-postgis-3"),
    "postgis_topology": Packaged("postgresql-{major}-postgis-3"),
    "postgis_raster": Packaged("postgresql-{major}-postgis-3"),
    "vector": Packaged("postgresql-{major}-pgvector"),
    "hypopg": Packaged("postgresql-{major}-hypopg"),
    "pgtap": Packaged("postgresql-{major}-pgtap"),
    "plpgsql_check": Packaged("postgresql-{major}-plpgsql-check"),
    # Hints are read by the planner hook the library installs: without preloading (or a LOAD
    # per session) they are silently ignored. https://github.com/ossc-db/pg_hint_plan
    "pg_hint_plan": Packaged("postgresql-{major}-pg-hint-plan", ("pg_hint_plan",)),
    # TimescaleDB as packaged by Debian and apt.postgresql.org: the Apache-2 edition (no
    # compression, continuous aggregates or other TSL features). It lets one database hold
    # timescaledb beside pgaudit, pg_partman, pg_repack..., which the Alpine timescale image
    # cannot be given. Teams that need the TSL features use a `kind: timescaledb` server.
    "timescaledb": Packaged("postgresql-{major}-timescaledb", ("timescaledb",)),
}
# PostgreSQL's contrib modules: in the official postgres image (Debian and Alpine), in the
# timescale image (built FROM postgres:*-alpine) and in every CloudNativePG operand image.
CONTRIB = frozenset((
    "amcheck", "autoinc", "bloom", "btree_gin", "btree_gist", "citext", "cube", "dblink",
    "dict_int", "dict_xsyn", "earthdistance", "file_fdw", "fuzzystrmatch", "hstore",
    "insert_username", "intagg", "intarray", "isn", "lo", "ltree", "moddatetime",
    "pageinspect", "pg_buffercache", "pg_freespacemap", "pg_prewarm", "pg_stat_statements",
    "pg_surgery", "pg_trgm", "pg_visibility", "pg_walinspect", "pgcrypto", "pgrowlocks",
    "pgstattuple", "plpgsql", "postgres_fdw", "refint", "seg", "sslinfo", "tablefunc", "tcn",
    "tsm_system_rows", "tsm_system_time", "unaccent", "uuid-ossp", "xml2",
))
# What the timescale/timescaledb image ships besides contrib (timescale/timescaledb-docker's
# Dockerfile: the extension, the toolkit, pgvector, pgvectorscale and PostGIS).
TIMESCALE_IMAGE = CONTRIB | {"timescaledb", "timescaledb_toolkit", "vector", "vectorscale",
                             "postgis", "postgis_topology", "postgis_raster"}
# Libraries that only exist to be preloaded (no extension of their own in CREATE EXTENSION).
CONTRIB_LIBRARIES = frozenset(("auto_explain", "pg_stat_statements"))
# Extensions whose catalog lives in one database per server (pg_cron: `cron.database_name`,
# https://github.com/citusdata/pg_cron#setting-up-pg_cron). CREATE EXTENSION fails in any other
# database, so templates, clones and spares never hold it: it is created again in the service's
# own database after a reset.
ONE_DATABASE = frozenset(("pg_cron",))
# Schemas an extension makes that its users need USAGE on (pg_cron: cron.schedule as the
# service's role, https://github.com/citusdata/pg_cron#usage).
USAGE_SCHEMA = {"pg_cron": "cron"}
# Extensions a service drives through their own tables (pg_partman's part_config...): created in
# a schema the service's role owns, with its rights on the extension's tables and functions, as
# https://github.com/pgpartman/pg_partman/blob/master/doc/pg_partman.md#installation says.
OWN_SCHEMA = {"pg_partman": "partman"}
# Libraries that are not extensions' own names but that listing the extension preloads.
IMPLIED_PRELOAD = {e: p.preload for e, p in PACKAGES.items() if p.preload}


def extensible(image: str) -> bool:
    """The official postgres image on Debian: the only family devenv builds extensions into."""
    repo, tag, _ = split_reference(image)
    official = repo.removeprefix("docker.io/").removeprefix("library/") == "postgres"
    return official and "alpine" not in tag


def timescale_image(image: str) -> bool:
    """timescale/timescaledb (Alpine, PostgreSQL compiled from source): nothing to add to it
    with a package; its -ha sibling (Ubuntu, many extensions) is another image."""
    repo, _, _ = split_reference(image)
    return repo.removeprefix("docker.io/") == "timescale/timescaledb"


def offered(image: str) -> frozenset[str] | None:
    """Every extension a server on `image` can have: what the image ships plus what devenv can
    build into it; None for an image devenv does not know (checked on the image itself)."""
    if extensible(image):
        return CONTRIB | PACKAGES.keys()
    if timescale_image(image):
        return TIMESCALE_IMAGE
    return None


def close_matches(name: str, candidates: Iterable[str]) -> list[str]:
    """The likely intended names for a typo, best first (pg_partmann -> pg_partman)."""
    return difflib.get_close_matches(name, sorted(candidates), n=3, cutoff=0.75)


def missing(stack: Stack, server: ServerSpec, available: Iterable[str], where: str) -> list[str]:
    """One line per extension a service of `server` lists that is not in `available` (what
    the image or the running server has), with its close match; `where` names the place."""
    have = frozenset(available)
    problems = []
    for svc in stack.services.values():
        if svc.server != server.name:
            continue
        for ext in svc.extensions:
            if ext not in have:
                close = close_matches(ext, have)
                near = f"; did you mean {' or '.join(close)}?" if close else ""
                problems.append(f"extension '{ext}' (services.{svc.name}.extensions) is not "
                                f"{where}{near}")
    return problems


def extensions_on(stack: Stack, server: ServerSpec) -> list[str]:
    return list(dict.fromkeys(e for s in stack.services.values() if s.server == server.name
                              for e in s.extensions))


def packages(stack: Stack, server: ServerSpec) -> list[str]:
    """The packages to build into this server's image, sorted; empty: use the image as is."""
    if not server.is_database or not extensible(server.image):
        return []
    return sorted({PACKAGES[e].package for e in extensions_on(stack, server) if e in PACKAGES})


def recipe(stack: Stack, server: ServerSpec) -> str:
    """The Dockerfile of a server's image. $PG_MAJOR is the image's own variable, so the
    packages match its major whatever the tag says (a digest pin included). `--reinstall`:
    an image slimmed by deleting a package's files (dpkg still lists it) gets them back;
    on an image without the package it is a plain install."""
    names = " ".join(p.replace("{major}", "${PG_MAJOR}") for p in packages(stack, server))
    return (
        f"# Generated by devenv from {stack.manifest_name}: do not edit. The extensions its "
        f"services list that {server.image} lacks.\n"
        f"FROM {server.image}\n"
        "# Empty unless DEVENV_APT_UPDATE_OPTIONS is set where `devenv up` runs (e.g. a frozen\n"
        "# mirror: -o Acquire::Check-Valid-Until=false).\n"
        f"ARG {APT_ARG}=\n"
        f"RUN set -eux; apt-get ${APT_ARG} update; \\\n"
        f"    apt-get install -y --reinstall --no-install-recommends {names}; \\\n"
        "    rm -rf /var/lib/apt/lists/*\n"
    )


APT_ARG = "APT_UPDATE_OPTIONS"


def build_section(server: ServerSpec) -> dict[str, object]:
    """Compose `build:` of a server with a recipe; the apt options come from the environment
    of whoever builds (devenv or plain compose), empty by default."""
    return {"context": f"./images/{server.name}",
            "args": {APT_ARG: "${DEVENV_APT_UPDATE_OPTIONS:-}"}}


def built_image(stack: Stack, server: ServerSpec) -> str | None:
    """The tag devenv builds the server's image under, named by the recipe's hash (a changed
    recipe is a new tag, hence a rebuild); None when the server uses its image as is."""
    if not packages(stack, server):
        return None
    digest = hashlib.sha256(recipe(stack, server).encode()).hexdigest()[:12]
    return f"devenv/{stack.project}-{server.name}:{digest}"
