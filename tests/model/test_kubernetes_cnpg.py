"""`devenv export kubernetes` read the way CloudNativePG reads it (issue 26).

The CRD schemas (test_kubernetes.py) say what the API server accepts; these tests say what the
operator then does with it. Each one replays a rule of the operator, quoted here with the file
it is in, in cloudnative-pg/cloudnative-pg at v1.30.0 (the newest release) and, where it is the
same there, v1.27.0 (the oldest CNPG the export supports). Each failed on the export before it.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
import yaml

from devenv.errors import DevenvError
from devenv.model import kubernetes
from devenv.model.resolve import load_stack
from devenv.model.stack import ADMIN_USER, Stack
from tests.model.test_kubernetes import (
    PG18_EXTENSIONS,
    REPO,
    all_on_cnpg_text,
    all_stacks,
    documents,
    example,
    fake_secrets,
    lines_of,
    of_kind,
    one,
    stack_of,
)

ALL = REPO / "examples" / "all" / "devenv.yaml"
DOCS = REPO / "docs" / "kubernetes.md"


def all_on_cnpg() -> Stack:
    return stack_of(all_on_cnpg_text())


# -- pg_hba.conf as CNPG writes it --------------------------------------------------------------

# pkg/postgres/configuration.go, hbaTemplateString (v1.30.0 lines 98-131; v1.27.0 lines 95-128,
# the same rules): fixed rules, then the Cluster's `.spec.postgresql.pg_hba` (USER-DEFINED RULES),
# then the default rule. PostgreSQL uses the first line whose type, database and user match.
CNPG_FIXED_RULES = [
    "local all cnpg_metrics_exporter peer map=cnpg_metrics_exporter",  # 1.30 only
    "local all all peer map=local",
    "hostssl postgres streaming_replica all cert map=cnpg_streaming_replica",
    "hostssl replication streaming_replica all cert map=cnpg_streaming_replica",
    "hostssl all cnpg_pooler_pgbouncer all cert map=cnpg_pooler_pgbouncer",
]
# `host all all all {{.DefaultAuthenticationMethod}}`: scram-sha-256 from PostgreSQL 14
# (docs/src/postgresql_conf.md, "The pg_hba section").
CNPG_DEFAULT_RULE = "host all all all scram-sha-256"


def cnpg_pg_hba(cluster: dict[str, Any]) -> list[str]:
    return [*CNPG_FIXED_RULES, *cluster["spec"].get("postgresql", {}).get("pg_hba", []),
            CNPG_DEFAULT_RULE]


def _names(field: str) -> list[tuple[str, bool]]:
    """A pg_hba database or user field: its names, each with whether it was quoted."""
    out = []
    for part in re.findall(r'"[^"]*"|[^,]+', field):
        out.append((part[1:-1], True) if part.startswith('"') else (part, False))
    return out


def hba_method(lines: list[str], connection: str, database: str, user: str) -> str:
    """The auth method PostgreSQL picks: `connection` is local, host (no TLS) or hostssl;
    database "replication" stands for a physical replication connection."""
    for line in lines:
        fields = shlex.split(line, posix=False)
        kind, databases, users = fields[0], _names(fields[1]), _names(fields[2])
        method = fields[3] if kind == "local" else fields[4]
        if kind == "local" and connection != "local":
            continue
        if kind == "host" and connection not in ("host", "hostssl"):
            continue
        if kind == "hostssl" and connection != "hostssl":
            continue
        replication = database == "replication"
        if not any((name == "all" and not quoted and not replication)
                   or (name == "replication" and not quoted and replication)
                   or (name == database and (quoted or name not in ("all", "replication")))
                   for name, quoted in databases):
            continue
        if not any((name == "all" and not quoted) or name == user for name, quoted in users):
            continue
        return method
    return "none"


def service_roles(stack: Stack, server: str) -> list[str]:
    return sorted({s.role for s in stack.services.values() if s.server == server and s.role})


def test_standbys_keep_the_postgres_database_and_services_are_rejected_there() -> None:
    """Item 1. CNPG's streaming_replica opens ordinary connections to the primary's `postgres`
    database: the replication slot synchronizer (internal/management/controller/slots/runner/
    runner.go, `primaryPool.Connection("postgres")`, v1.30.0 line 126, v1.27.0 line 121) and
    pg_rewind (pkg/management/postgres/instance.go GetPrimaryConnInfo, `dbname=postgres`,
    v1.30.0 line 1508). It is allowed in pg_hba and never granted CONNECT (internal/cmd/
    manager/instance/run/lifecycle/run.go configureStreamingReplicaUser): it needs PUBLIC's."""
    stack = example("pcc")
    cluster = one(documents(stack), "Cluster", "alloydb")
    assert cluster["spec"]["instances"] == 2
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    assert "postInitSQL" not in initdb  # no REVOKE ALL ON DATABASE postgres FROM PUBLIC
    hba = cnpg_pg_hba(cluster)
    assert hba_method(hba, "hostssl", "postgres", "streaming_replica") == "cert"
    assert hba_method(hba, "hostssl", "replication", "streaming_replica") == "cert"
    assert hba_method(hba, "hostssl", "postgres", "cnpg_pooler_pgbouncer") == "cert"
    assert hba_method(hba, "local", "postgres", "cnpg_metrics_exporter") == "peer"
    roles = service_roles(stack, "alloydb")
    assert len(roles) == 7
    for role in roles:
        for connection in ("host", "hostssl"):
            assert hba_method(hba, connection, "postgres", role) == "reject", role
        assert hba_method(hba, "hostssl", f"{role.removesuffix('_api_user')}_db_devtest",
                          role) == "scram-sha-256"
    # As locally: the admin, the migration and admin roles may connect to `postgres`.
    for person in (ADMIN_USER, "pcc_flyway_user", "pcc_admin_user"):
        assert hba_method(hba, "hostssl", "postgres", person) == "scram-sha-256", person


@pytest.mark.parametrize("name", ["capsule", "pcc", "all-kinds"])
def test_no_cluster_revokes_what_cnpg_relies_on(name: str) -> None:
    for cluster in of_kind(documents(all_stacks()[name]), "Cluster"):
        text = yaml.safe_dump(cluster["spec"]).lower()
        assert "revoke" not in text and "postinitsql" not in text


def test_a_role_pg_hba_would_read_as_a_keyword_is_quoted() -> None:
    assert kubernetes._hba_name("auth_api_user") == "auth_api_user"
    assert kubernetes._hba_name("all") == '"all"'
    assert kubernetes._hba_name("Odd-Name") == '"Odd-Name"'
    assert hba_method(['host postgres "all" all reject', CNPG_DEFAULT_RULE], "host",
                      "postgres", "someone") == "scram-sha-256"


# -- managed extensions -------------------------------------------------------------------------

# pkg/postgres/configuration.go (v1.30.0 lines 430-438 and 460-470; v1.27.0 lines 413-421 and
# 443-453): the managed extensions CNPG creates and drops itself, by parameter namespace.
CNPG_MANAGED = {"pgaudit": "pgaudit", "pg_stat_statements": "pg_stat_statements"}


def cnpg_is_used(extension: str, parameters: dict[str, str]) -> bool:
    """ManagedExtension.IsUsed: a parameter whose name starts with `<namespace>.`."""
    return any(k.startswith(CNPG_MANAGED[extension] + ".") for k in parameters)


def _managed_extensions_are_kept(stack: Stack) -> int:
    docs = documents(stack)
    checked = 0
    for database in of_kind(docs, "Database"):
        cluster = one(docs, "Cluster", database["spec"]["cluster"]["name"])
        parameters = cluster["spec"].get("postgresql", {}).get("parameters", {})
        for ext in database["spec"].get("extensions", []):
            if ext["name"] in CNPG_MANAGED:
                assert cnpg_is_used(ext["name"], parameters), (database["spec"]["name"], ext)
                checked += 1
    return checked


def test_managed_extensions_a_database_declares_are_used_so_cnpg_never_drops_them() -> None:
    """Item 2. At every instance manager start CNPG runs `DROP EXTENSION` for a managed
    extension that IsUsed says is unused, in every database that accepts connections
    (internal/management/controller/instance_controller.go reconcileExtensions, v1.30.0 line
    780, v1.27.0 line 711); docs/src/declarative_database_management.md warns that a Database
    declaring one conflicts with that."""
    assert _managed_extensions_are_kept(stack_of(
        "project: x\nservices: {auth: {postgres: true, extensions: [pg_stat_statements, "
        "pgaudit]}}\n")) == 2
    assert _managed_extensions_are_kept(all_on_cnpg()) == 2  # launch: both


def test_a_setting_of_the_managed_extension_stands_in_for_the_export_s() -> None:
    spec = one(documents(stack_of("""
    project: x
    servers: {db: {kind: postgres, settings: {pg_stat_statements.max: 10000}}}
    services: {auth: {postgres: db, extensions: [pg_stat_statements]}}
    """)), "Cluster", "db")["spec"]
    assert spec["postgresql"]["parameters"] == {"pg_stat_statements.max": "10000"}


def test_no_managed_extension_parameter_without_the_extension() -> None:
    spec = one(documents(example("capsule")), "Cluster", "auth-db")["spec"]
    assert not any(cnpg_is_used(e, spec.get("postgresql", {}).get("parameters", {}))
                   for e in CNPG_MANAGED)


# -- pg_cron ------------------------------------------------------------------------------------


def test_pg_cron_runs_its_jobs_in_background_workers() -> None:
    """Item 3. With cron.use_background_workers off (its default), pg_cron runs each job over
    libpq to cron.host, `localhost` by default (citusdata/pg_cron src/pg_cron.c, _PG_init):
    TCP, where CNPG's default rule asks for a password the job has not got."""
    stack = all_on_cnpg()
    cluster = one(documents(stack), "Cluster", "core")
    parameters = cluster["spec"]["postgresql"]["parameters"]
    assert parameters["cron.use_background_workers"] == "on"
    assert parameters["cron.database_name"] == "orders_dev"
    assert "pg_cron" in cluster["spec"]["postgresql"]["shared_preload_libraries"]
    # what a libpq job would meet: the job's role has no password to give
    assert hba_method(cnpg_pg_hba(cluster), "host", "orders_dev", "orders_svc") == "scram-sha-256"


# -- read-only traffic --------------------------------------------------------------------------


def test_a_pooled_service_reads_through_a_ro_pooler() -> None:
    """Item 4. A Pooler's PgBouncer sends every database to `<cluster>-<type>`
    (pkg/management/pgbouncer/config/config.go pgBouncerIniTemplateString, `* =
    host={{.Pooler.Spec.Cluster.Name}}-{{.Pooler.Spec.Type}}`, v1.30.0 line 85), and its Service
    is named after the Pooler (pkg/specs/pgbouncer/services.go, v1.30.0 line 63)."""
    stack = example("pcc")
    docs = documents(stack)
    ro = one(docs, "Pooler", "pgbouncer-alloydb-ro")["spec"]
    rw = one(docs, "Pooler", "pgbouncer-alloydb")["spec"]
    assert ro["type"] == "ro" and ro["cluster"] == {"name": "alloydb"}
    assert ro["pgbouncer"] == rw["pgbouncer"] and rw["type"] == "rw"
    env = one(docs, "Secret", "auth-env")["stringData"]
    password = fake_secrets(stack).get("alloydb", "auth_api_user")
    assert env["DATABASE_READONLY_URL"] == (
        f"postgresql://auth_api_user:{password}@pgbouncer-alloydb-ro:5432/auth_db_devtest")
    assert env["DATABASE_READONLY_DIRECT_URL"] == (
        f"postgresql://auth_api_user:{password}@alloydb-ro:5432/auth_db_devtest")
    assert (env["PGHOST_READONLY"], env["PGPORT_READONLY"]) == ("alloydb-ro", "5432")
    assert env["DATABASE_URL"].endswith("@pgbouncer-alloydb:5432/auth_db_devtest")


def test_no_ro_pooler_without_standbys_and_unpooled_reads_go_to_the_ro_service() -> None:
    assert [p["spec"]["type"] for p in of_kind(documents(example("capsule")), "Pooler")] == [
        "rw", "rw", "rw"]
    docs = documents(stack_of("""
    project: x
    servers: {db: {kind: postgres, replicas: 1}}
    services:
      a: {postgres: db, env: {READS: "{{ env.get('DATABASE_READONLY_URL') }}"}}
    """))
    env = one(docs, "Secret", "a-env")["stringData"]
    assert env["DATABASE_READONLY_URL"].endswith("@db-ro:5432/a")
    assert env["READS"] == env["DATABASE_READONLY_URL"]  # templates see the in-cluster URL
    assert of_kind(docs, "Pooler") == []


# -- extensions from their own images -----------------------------------------------------------

def test_postgresql_18_mounts_extensions_from_cnpg_s_extension_images() -> None:
    """Item 5. `.spec.postgresql.extensions` mounts each image at /extensions/<name> and
    appends its share/ and lib/ to extension_control_path and dynamic_library_path
    (pkg/specs/volumes.go CreateExtensionVolumes; pkg/postgres/configuration.go
    setExtensionControlPath, v1.30.0 line 950; createExtensionVolumes in v1.27.0). The images
    and their fields are those of cloudnative-pg/postgres-extensions-containers."""
    docs = documents(stack_of(PG18_EXTENSIONS))
    spec = one(docs, "Cluster", "db")["spec"]
    assert spec["imageName"] == "ghcr.io/cloudnative-pg/postgresql:18-standard-trixie"
    assert spec["postgresql"]["extensions"] == [
        {"name": "postgis",
         "image": {"reference": "ghcr.io/cloudnative-pg/postgis-extension:3.6.4-18-trixie"},
         "ld_library_path": ["system"],
         "env": [{"name": "GDAL_DATA", "value": "${image_root}/share/gdal"},
                 {"name": "PROJ_DATA", "value": "${image_root}/share/proj"}]},
        {"name": "timescaledb-oss",
         "image": {"reference": "ghcr.io/cloudnative-pg/timescaledb-oss:2.29.2-18-trixie"}}]
    assert spec["postgresql"]["shared_preload_libraries"] == ["timescaledb"]
    assert spec["postgresql"]["parameters"]["timescaledb.telemetry_level"] == "off"
    geo = one(docs, "Database", "db-geo")["spec"]["extensions"]
    assert [e["name"] for e in geo] == ["postgis", "postgis_topology", "vector", "citext"]


def test_before_postgresql_18_an_extension_image_is_a_located_error() -> None:
    text = """
    project: x
    servers:
      db: {kind: postgres, image: "postgres:17"}
    services:
      geo:
        postgres: db
        extensions: [vector, postgis]
    """
    with pytest.raises(DevenvError) as err:
        kubernetes.files(stack_of(text), "x", external=False, lines=lines_of(text))
    assert err.value.message == (
        "devenv.yaml:7: services.geo.extensions.1: extension 'postgis' is not in "
        "ghcr.io/cloudnative-pg/postgresql:17-standard-trixie, and CloudNativePG mounts it "
        "from its own image (ghcr.io/cloudnative-pg/postgis-extension) on PostgreSQL 18 only")


def test_an_extension_no_cnpg_image_carries_is_still_a_located_error() -> None:
    text = """
    project: x
    servers: {db: {kind: postgres, image: "postgres:18"}}
    services:
      a:
        postgres: db
        extensions: [postgis, pg_partman]
    """
    with pytest.raises(DevenvError) as err:
        kubernetes.files(stack_of(text), "x", external=False, lines=lines_of(text))
    assert err.value.message == (
        "devenv.yaml:6: services.a.extensions.1: extension 'pg_partman' is not in "
        "ghcr.io/cloudnative-pg/postgresql:18-standard-trixie, so a CloudNativePG Database "
        "cannot declare it")


# -- what CNPG's webhook refuses, the export never writes ---------------------------------------


@pytest.mark.parametrize(("setting", "said"), [
    ("listen_addresses: '*'", "CloudNativePG sets listen_addresses itself"),
    ("recovery_min_apply_delay: 5s", "CloudNativePG sets recovery_min_apply_delay itself"),
    ("shared_preload_libraries: pg_stat_statements", "sets shared_preload_libraries itself"),
    ("wal_level: minimal", "wal_level must be replica or logical"),
    ("wal_log_hints: false", "wal_log_hints on for standbys"),
])
def test_a_setting_cnpg_s_webhook_refuses_is_a_located_error(setting: str, said: str) -> None:
    """internal/webhook/v1/cluster_webhook.go validateConfiguration (v1.30.0 lines 1043-1180,
    v1.27.0 the same checks): FixedConfigurationParameters (pkg/postgres/configuration.go) are
    refused, and so are wal_level minimal with archive_mode on and wal_log_hints off with
    instances > 1."""
    text = f"""
    project: x
    servers:
      db:
        kind: postgres
        replicas: 1
        settings:
          {setting}
    services: {{a: {{postgres: db}}}}
    """
    with pytest.raises(DevenvError) as err:
        kubernetes.files(stack_of(text), "x", external=False, lines=lines_of(text))
    key = setting.split(":", 1)[0]
    assert err.value.message.startswith(f"devenv.yaml:7: servers.db.settings.{key}: ")
    assert said in err.value.message


# -- examples/all, taken to CloudNativePG -------------------------------------------------------


def test_examples_all_on_cnpg_has_every_behaviour() -> None:
    """The all-features stack (issue 24) with its operand images as a team would build them:
    its replica and pooled services get the ro Pooler, its services are rejected from
    `postgres`, pg_cron runs in background workers, pgaudit and pg_stat_statements are kept,
    PostGIS comes from CNPG's extension image, no REVOKE on `postgres`."""
    stack = all_on_cnpg()
    docs = documents(stack)
    core = one(docs, "Cluster", "core")["spec"]
    assert core["instances"] == 2
    assert core["postgresql"]["pg_hba"] == ["host postgres launch_svc,orders_svc all reject"]
    assert "postInitSQL" not in core["bootstrap"]["initdb"]
    assert core["postgresql"]["parameters"]["cron.use_background_workers"] == "on"
    assert core["postgresql"]["parameters"]["pgaudit.log"] == "none"
    assert core["postgresql"]["parameters"]["pg_stat_statements.track"] == "top"
    assert "extensions" not in core["postgresql"]  # the team's image carries its own
    assert [(p["metadata"]["name"], p["spec"]["type"]) for p in of_kind(docs, "Pooler")] == [
        ("pool-core", "rw"), ("pool-core-ro", "ro")]
    for service in ("launch", "orders"):
        env = one(docs, "Secret", f"{service}-env")["stringData"]
        assert env["DATABASE_READONLY_URL"].endswith(f"@pool-core-ro:5432/{service}_dev")
        assert env["DATABASE_READONLY_DIRECT_URL"].endswith(f"@core-ro:5432/{service}_dev")
    legacy = one(docs, "Cluster", "legacy")["spec"]
    assert [e["name"] for e in legacy["postgresql"]["extensions"]] == ["postgis"]
    assert legacy["postgresql"]["pg_hba"] == ["host postgres geo_svc,jobs_svc all reject"]
    metrics = one(docs, "Cluster", "metrics")["spec"]
    assert metrics["postgresql"]["pg_hba"] == ["host postgres telemetry_svc all reject"]


def test_examples_all_as_committed_names_each_extension_cnpg_cannot_carry() -> None:
    """As committed, core's pg_partman, pg_repack and pg_cron have no CNPG image (timescaledb
    has: timescaledb-oss) and legacy is PostgreSQL 17, too old for PostGIS's image."""
    stack = load_stack(ALL, display="devenv.yaml")
    from devenv.cli.export import _lines

    with pytest.raises(DevenvError) as err:
        kubernetes.files(stack, "all", external=False, lines=_lines(stack))
    refused = re.findall(r"extension '([a-z_]+)'", err.value.message)
    assert refused == ["pg_partman", "pg_repack", "pg_cron"]
    assert "timescaledb" not in err.value.message


# -- docs/kubernetes.md carries the field table -------------------------------------------------

FREE_MAPS = {"parameters", "stringData", "labels"}


def _leaves(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict) and path.rsplit(".", 1)[-1] not in FREE_MAPS:
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{path}.{k}" if path
                                                                    else k)]
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [leaf for item in value for leaf in _leaves(item, f"{path}[]")]
    return [path]


def test_docs_table_names_every_field_the_export_sets_and_its_source() -> None:
    """Item 6: docs/kubernetes.md has a row per field of each CNPG object the export writes,
    with what CNPG does with it and the file it was read in."""
    text = DOCS.read_text()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1].startswith("`"):
            rows[(cells[0], cells[1].strip("`"))] = cells
    stacks = [*all_stacks().values(), all_on_cnpg(), stack_of(PG18_EXTENSIONS)]
    fields = {(d["kind"], leaf) for s in stacks for d in documents(s, with_secrets=False)
              if d["apiVersion"] == kubernetes.CNPG_API for leaf in _leaves(d["spec"], "spec")}
    assert fields
    for kind, leaf in sorted(fields):
        covered = [r for (k, field), r in rows.items()
                   if k == kind and (leaf == field or leaf.startswith((field + ".", field + "[]")))]
        assert covered, f"docs/kubernetes.md has no row for {kind} {leaf}"
        assert re.search(r"v1\.\d+\.\d+", covered[0][3]) and "/" in covered[0][3], covered[0]
    assert "not in the manifest yet" not in text
    assert "newer than" not in text and "DatabaseRole" in text

