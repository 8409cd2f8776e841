"""`devenv export kubernetes` on paper: golden files, CNPG CRD schemas, the kubernetes client's
models, each mapping rule, and the errors for what CloudNativePG cannot carry.

`UPDATE_GOLDEN=1 pytest tests/model/test_kubernetes.py` rewrites tests/golden/kubernetes/<name>/.
"""

from __future__ import annotations

import copy
import functools
import os
import shutil
import textwrap
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from devenv import __version__
from devenv.errors import DevenvError
from devenv.model import facts, kubernetes
from devenv.model.credentials import Secrets, needed
from devenv.model.kinds.redis import acl_lines
from devenv.model.manifest import parse
from devenv.model.replicas import REPLICATION_ROLE
from devenv.model.resolve import load_stack, resolve
from devenv.model.stack import Stack

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CRDS = REPO.parent / "shared" / "k8s" / "cnpg-crds"
EXAMPLES = {"capsule": REPO / "devenv.yaml", "pcc": REPO / "examples" / "pcc" / "devenv.yaml"}
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
CORE_MODELS = {("v1", "Namespace"): "V1Namespace", ("v1", "Secret"): "V1Secret",
               ("v1", "Service"): "V1Service", ("apps/v1", "StatefulSet"): "V1StatefulSet",
               ("batch/v1", "Job"): "V1Job"}
ALL_KINDS = """
project: kinds
environment: ci
roles: {migration: flyway, admin: boss}
servers:
  db: {kind: postgres, image: "postgres:17", settings: {max_connections: 50, work_mem: 8MB}}
  ts: {kind: timescaledb}
  cache: {kind: valkey, persistence: none}
  pool: {kind: pgbouncer, target: db, pool_mode: session, default_pool_size: 7}
services:
  auth: {postgres: db, pgbouncer: pool, redis: true, extensions: [pg_stat_statements, vector]}
  users: {postgres: db, pgbouncer: pool, reads: [auth]}
  metrics: {postgres: ts, extensions: [timescaledb], redis: cache}
"""


# examples/all (issue 24's every-feature stack) as a team takes it to CloudNativePG: the core
# server on an operand image it built FROM ghcr.io/cloudnative-pg/postgresql with pg_partman,
# pg_cron and pg_repack (no CNPG image carries them), the legacy server on PostgreSQL 18 so
# PostGIS comes from CNPG's extension image; pg_cron, the replica, pooled services and reads
# as committed.
ALL_ON_CNPG = {"image: postgres:18\n": "image: ghcr.io/acme/cnpg-postgres:18-launch\n",
               "image: postgres:17\n": "image: postgres:18\n"}
PG18_EXTENSIONS = """
project: x
servers:
  db: {kind: postgres, image: "postgres:18"}
services:
  geo: {postgres: db, extensions: [postgis, postgis_topology, vector, citext]}
  series: {postgres: db, extensions: [timescaledb]}
"""


def all_on_cnpg_text() -> str:
    text = (REPO / "examples" / "all" / "devenv.yaml").read_text()
    for old, new in ALL_ON_CNPG.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def example(name: str) -> Stack:
    return load_stack(EXAMPLES[name], display="devenv.yaml")


def stack_of(text: str) -> Stack:
    manifest, located = parse(textwrap.dedent(text).lstrip("\n"))
    return resolve(manifest, located, root=Path("/project"))


def lines_of(text: str) -> dict[Any, int]:
    from devenv.model.yamlio import load_with_lines

    return load_with_lines(textwrap.dedent(text).lstrip("\n"), source="devenv.yaml")[1]


def fake_secrets(stack: Stack) -> Secrets:
    return Secrets({k: f"FakePw{i:03d}x" for i, k in enumerate(needed(stack))})


def rendered(stack: Stack, namespace: str = "ns", *, external: bool = False
             ) -> dict[PurePosixPath, str]:
    return kubernetes.files(stack, namespace, external=external)


def documents(stack: Stack, *, with_secrets: bool = True) -> list[dict[str, Any]]:
    """Every Kubernetes object the export writes (Secrets with fake passwords)."""
    texts = [t for p, t in rendered(stack).items() if p.suffix == ".yaml"
             and p.name != kubernetes.KUSTOMIZATION]
    if with_secrets:
        texts += kubernetes.secret_files(stack, fake_secrets(stack)).values()
    return [d for t in texts for d in yaml.safe_load_all(t) if d is not None]


def all_stacks() -> dict[str, Stack]:
    return {**{n: example(n) for n in EXAMPLES}, "all-kinds": stack_of(ALL_KINDS),
            "all-on-cnpg": stack_of(all_on_cnpg_text()),
            "pg18-extensions": stack_of(PG18_EXTENSIONS)}


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, [d["metadata"]["name"] for d in of_kind(docs, kind)])
    return found[0]


# -- golden files and determinism ---------------------------------------------------------


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_golden(name: str) -> None:
    stack = example(name)
    out = rendered(stack, kubernetes.k8s_name(stack.project))
    folder = GOLDEN / "kubernetes" / name
    if UPDATE:
        shutil.rmtree(folder, ignore_errors=True)
        for rel, text in out.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
    committed = {PurePosixPath(p.relative_to(folder).as_posix()): p.read_text()
                 for p in sorted(folder.rglob("*")) if p.is_file()}
    assert sorted(committed) == sorted(out), "set UPDATE_GOLDEN=1 to rewrite tests/golden/"
    for rel, text in out.items():
        assert text == committed[rel], f"{rel} differs from tests/golden/kubernetes/{name}/{rel}"


@pytest.mark.parametrize("name", ["capsule", "pcc", "all-kinds"])
def test_rendering_twice_gives_identical_bytes(name: str) -> None:
    assert rendered(all_stacks()[name]) == rendered(all_stacks()[name])


@pytest.mark.parametrize("name", ["capsule", "pcc", "all-kinds"])
def test_every_file_says_it_is_generated_and_from_what(name: str) -> None:
    for rel, text in rendered(all_stacks()[name]).items():
        assert text.startswith("# Generated by devenv from devenv.yaml: do not edit."), rel
    secrets = kubernetes.secret_files(all_stacks()[name], fake_secrets(all_stacks()[name]))
    assert all(t.startswith("# Generated by devenv") for t in secrets.values())


@pytest.mark.parametrize("name", ["capsule", "pcc", "all-kinds"])
def test_no_password_reaches_the_committed_files(name: str) -> None:
    stack = all_stacks()[name]
    creds = fake_secrets(stack)
    committed = "\n".join(rendered(stack).values())
    assert not any(p in committed for p in creds.all())
    secrets = "\n".join(kubernetes.secret_files(stack, creds).values())
    # CNPG's Pooler authenticates on its own, and its standbys replicate with certificates.
    assert all(creds.get(*k.split("/", 1)) in secrets for k in needed(stack)
               if not k.endswith(("/pgbouncer", f"/{REPLICATION_ROLE}")))


# -- proof without a cluster: CRD schemas and the official client's models ------------------


def _crd_schemas() -> dict[str, dict[str, Any]]:
    if not CRDS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{CRDS} is missing: CI clones the repo with ../shared beside it")
        pytest.skip(f"no CNPG CRDs at {CRDS}")
    return copy.deepcopy(_load_crds())


@functools.cache
def _load_crds() -> dict[str, dict[str, Any]]:
    """Parsed once: the four CRDs are 1 MB of YAML (seconds with the pure-Python loader)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    out = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.load(path.read_text(), Loader=loader)
        version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
        out[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return out


def strict(schema: Any) -> Any:
    """The CRD schema with unknown fields refused: the API server would prune them silently,
    so a typo in a field name would otherwise pass."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if ("properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


@pytest.mark.parametrize("name", ["capsule", "pcc", "all-kinds", "all-on-cnpg",
                                  "pg18-extensions"])
def test_every_cnpg_resource_validates_against_the_v1_30_crd(name: str) -> None:
    import jsonschema

    schemas = _crd_schemas()
    checked = 0
    for doc in documents(all_stacks()[name]):
        if doc["apiVersion"] != kubernetes.CNPG_API or doc["kind"] == "ImageCatalog":
            continue
        schema = strict(schemas[doc["kind"]])
        schema["properties"]["metadata"] = {"type": "object"}  # ObjectMeta: checked below
        jsonschema.Draft7Validator(schema).validate(doc)
        checked += 1
    assert checked >= 3


def test_the_strict_schema_refuses_an_unknown_field() -> None:
    import jsonschema

    schema = strict(_crd_schemas()["Database"])
    doc = copy.deepcopy(of_kind(documents(example("capsule")), "Database")[0])
    doc["spec"]["extensionz"] = []
    with pytest.raises(jsonschema.ValidationError, match="extensionz"):
        jsonschema.Draft7Validator(schema).validate(doc)


def test_image_catalog_has_the_shape_cnpg_documents() -> None:
    """No ImageCatalog CRD is in ../shared: its v1 shape (spec.images[] of major, image)."""
    catalogs = of_kind(documents(example("capsule")), "ImageCatalog")
    assert [c["spec"] for c in catalogs] == [
        {"images": [{"major": 18, "image": "timescale/timescaledb-ha:pg18"}]}]


def _round_trip(doc: dict[str, Any], model: str) -> Any:
    from kubernetes.client import ApiClient

    client = ApiClient()
    obj = client._ApiClient__deserialize(doc, model)  # type: ignore[attr-defined]
    return client.sanitize_for_serialization(obj)


@pytest.mark.parametrize("name", ["capsule", "pcc", "all-kinds", "all-on-cnpg"])
def test_every_core_resource_round_trips_through_the_kubernetes_client(name: str) -> None:
    seen = set()
    for doc in documents(all_stacks()[name]):
        if doc["apiVersion"] == kubernetes.CNPG_API:
            from kubernetes.client import V1ObjectMeta  # every CNPG object's metadata too

            assert _round_trip(doc["metadata"], "V1ObjectMeta") == doc["metadata"]
            assert V1ObjectMeta(**doc["metadata"]).name == doc["metadata"]["name"]
            continue
        model = CORE_MODELS[(doc["apiVersion"], doc["kind"])]
        assert _round_trip(doc, model) == doc, f"{model} {doc['metadata']['name']}"
        seen.add(model)
    assert {"V1Namespace", "V1Secret", "V1Job"} <= seen


def test_the_round_trip_notices_an_unknown_field_and_a_wrong_type() -> None:
    job = copy.deepcopy(of_kind(documents(example("capsule")), "Job")[0])
    job["spec"]["backofLimit"] = 3
    assert _round_trip(job, "V1Job") != job
    job = copy.deepcopy(of_kind(documents(example("capsule")), "Job")[0])
    job["spec"]["backoffLimit"] = "6"
    with pytest.raises(ValueError, match="backoffLimit"):
        _round_trip(job, "V1Job")


@pytest.mark.parametrize("name", ["capsule", "pcc", "all-kinds", "all-on-cnpg",
                                  "pg18-extensions"])
def test_names_are_dns_labels_and_unique(name: str) -> None:
    import re

    docs = documents(all_stacks()[name])
    keys = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys))
    for _, value in keys:
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", value), value
    # The Services the namespace gets: CNPG's `<cluster>-rw/-ro/-r` (pkg/specs/services.go,
    # v1.30.0), one per Pooler named after it (pkg/specs/pgbouncer/services.go), Redis's own.
    services = [f"{d['metadata']['name']}-{kind}" for d in of_kind(docs, "Cluster")
                for kind in ("rw", "ro", "r")]
    services += [d["metadata"]["name"] for d in of_kind(docs, "Pooler")]
    services += [d["metadata"]["name"] for d in of_kind(docs, "Service")]
    assert len(services) == len(set(services)), services


# -- mapping rules ------------------------------------------------------------------------


def test_a_postgres_server_is_a_cluster_of_one_instance_on_cnpg_s_image() -> None:
    spec = one(documents(stack_of(ALL_KINDS)), "Cluster", "db")["spec"]
    assert spec["instances"] == 1  # no replicas: the primary alone
    assert spec["imageName"] == "ghcr.io/cloudnative-pg/postgresql:17-standard-trixie"
    assert spec["postgresql"]["parameters"] == {"max_connections": "50", "work_mem": "8MB",
                                                "pg_stat_statements.track": "top"}
    assert spec["postgresql"]["shared_preload_libraries"] == ["pg_stat_statements"]
    assert spec["enableSuperuserAccess"] is True
    assert spec["superuserSecret"] == {"name": "db-superuser"}
    assert spec["storage"] == {"size": "1Gi"}
    assert spec["bootstrap"]["initdb"] == {
        "database": "auth", "owner": "auth", "secret": {"name": "db-role-auth"}}
    assert spec["postgresql"]["pg_hba"] == ["host postgres auth,users all reject"]


def test_a_timescaledb_server_runs_timescaledb_ha_from_an_image_catalog() -> None:
    docs = documents(stack_of(ALL_KINDS))
    spec = one(docs, "Cluster", "ts")["spec"]
    assert "imageName" not in spec
    assert spec["imageCatalogRef"] == {"apiGroup": "postgresql.cnpg.io", "kind": "ImageCatalog",
                                       "name": "ts-images", "major": 18}
    assert (spec["postgresUID"], spec["postgresGID"]) == (1000, 1000)
    assert spec["postgresql"]["shared_preload_libraries"] == ["timescaledb"]
    assert spec["postgresql"]["parameters"] == {"timescaledb.telemetry_level": "off"}
    assert one(docs, "ImageCatalog", "ts-images")["spec"]["images"] == [
        {"major": 18, "image": "timescale/timescaledb-ha:pg18"}]


def test_service_roles_are_managed_roles_and_the_shared_roles_members_of_each_owner() -> None:
    roles = one(documents(example("pcc")), "Cluster", "alloydb")["spec"]["managed"]["roles"]
    owners = [f"{s}_api_user" for s in ("auth", "client", "user", "metric_builder",
                                        "metric_tracker", "task_builder", "task_tracker")]
    assert [r["name"] for r in roles] == [*owners, "pcc_flyway_user", "pcc_admin_user"]
    assert roles[0] == {"name": "auth_api_user", "ensure": "present", "login": True,
                        "inherit": True,
                        "passwordSecret": {"name": "alloydb-role-auth-api-user"}}
    assert roles[-2]["inRoles"] == owners and roles[-2]["createdb"] is False
    assert roles[-1]["inRoles"] == owners and roles[-1]["createrole"] is True


def test_each_service_gets_a_database_it_owns_with_its_extensions() -> None:
    docs = documents(example("capsule"))
    assert one(docs, "Database", "auth-db-auth")["spec"] == {
        "cluster": {"name": "auth-db"}, "name": "auth", "owner": "auth", "ensure": "present",
        "template": "template0", "databaseReclaimPolicy": "retain",
        "extensions": [{"name": "citext", "ensure": "present"},
                       {"name": "pgcrypto", "ensure": "present"}]}
    pcc = of_kind(documents(example("pcc")), "Database")
    assert [d["spec"]["name"] for d in pcc] == [
        f"{s}_db_devtest" for s in ("auth", "client", "user", "metric_builder",
                                    "metric_tracker", "task_builder", "task_tracker")]
    assert {d["spec"]["cluster"]["name"] for d in pcc} == {"alloydb"}


def test_a_pgbouncer_is_a_pooler_per_pooled_cluster() -> None:
    capsule = of_kind(documents(example("capsule")), "Pooler")
    assert [p["metadata"]["name"] for p in capsule] == [
        "pgbouncer-auth-db", "pgbouncer-billing-db", "pgbouncer-deploy-db"]  # monitor: unpooled
    assert capsule[0]["spec"] == {
        "cluster": {"name": "auth-db"}, "instances": 1, "type": "rw",
        "pgbouncer": {"poolMode": "transaction", "parameters": {
            "default_pool_size": "10", "min_pool_size": "0", "reserve_pool_size": "0",
            "max_client_conn": "200"}}}
    kinds = of_kind(documents(stack_of(ALL_KINDS)), "Pooler")
    assert [(p["metadata"]["name"], p["spec"]["pgbouncer"]["poolMode"]) for p in kinds] == [
        ("pool-db", "session")]


def test_redis_is_a_statefulset_with_the_local_acl_in_a_secret() -> None:
    stack = example("capsule")
    docs = documents(stack)
    sts = one(docs, "StatefulSet", "redis")["spec"]
    container = sts["template"]["spec"]["containers"][0]
    assert container["args"] == ["redis-server", "--port", "6379", "--aclfile",
                                 "/etc/devenv/users.acl", "--appendonly", "yes"]
    assert sts["template"]["spec"]["securityContext"]["runAsUser"] == 999
    assert sts["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    acl = one(docs, "Secret", "redis-acl")["stringData"]["users.acl"]
    creds = fake_secrets(stack)
    assert acl == "\n".join(acl_lines(stack.servers["redis"], stack, creds)) + "\n"
    assert one(docs, "Service", "redis")["spec"]["ports"][0]["port"] == 6379
    valkey = one(documents(stack_of(ALL_KINDS)), "StatefulSet", "cache")["spec"]
    assert valkey["template"]["spec"]["containers"][0]["args"][0] == "valkey-server"
    assert "volumeClaimTemplates" not in valkey  # persistence: none


def test_each_service_env_secret_holds_exactly_its_local_variables_with_in_cluster_hosts() -> None:
    stack = example("capsule")
    creds = fake_secrets(stack)
    docs = documents(stack)
    for svc in stack.services.values():
        local = facts.env_vars(stack, svc, creds, {})
        inside = one(docs, "Secret", f"{svc.name}-env")["stringData"]
        assert list(inside) == list(local)
    auth = one(docs, "Secret", "auth-env")["stringData"]
    assert auth["DATABASE_URL"].endswith("@pgbouncer-auth-db:5432/auth")
    assert auth["DATABASE_DIRECT_URL"].endswith("@auth-db-rw:5432/auth")
    assert auth["REDIS_URL"].endswith("@redis:6379/0")
    assert auth["AUTH_SERVICE_DB_HOST"] == "auth-db-rw"
    reads = one(documents(example("pcc")), "Secret", "auth-env")["stringData"]
    assert reads["USER_DATABASE_URL"].endswith("@alloydb-rw:5432/user_db_devtest")


def test_each_database_service_gets_a_migrate_job_running_devenv_itself() -> None:
    jobs = of_kind(documents(example("pcc")), "Job")
    assert len(jobs) == 7
    pod = jobs[0]["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"] == ["devenv", "-f", "/app/devenv.yaml", "migrate",
                                            "auth", "--in-cluster"]
    assert pod["containers"][0]["envFrom"] == [{"secretRef": {"name": "auth-env"}}]
    assert pod["containers"][0]["image"] == kubernetes.MIGRATE_IMAGE


def test_the_image_is_built_from_its_own_folder_with_a_wheelhouse_never_an_index() -> None:
    """Issue 25: devenv from the wheelhouse the export writes beside the recipe, installed
    with --no-index on python:3.13-slim; the project's folders come from app/ beside it."""
    text = kubernetes.dockerfile(example("capsule"))
    assert text.splitlines()[3:] == [
        "FROM python:3.13-slim",
        "COPY wheels/ /tmp/wheels/",
        'RUN pip install --no-cache-dir --no-index --find-links /tmp/wheels '
        f'"devenv-stack=={__version__}" \\',
        "    && rm -rf /tmp/wheels \\",
        "    && useradd --create-home --uid 10001 devenv",
        "COPY --chown=10001:10001 app/ /app/",
        "WORKDIR /app",
        "USER 10001",
    ]


def test_the_image_s_folders_are_normalised_and_listed_once() -> None:
    stack = stack_of("""
    project: x
    services:
      a: {postgres: true, migrations: {command: "alembic upgrade head", cwd: "svc/a/./"}}
      b: {postgres: true, migrations: "db/b/../b", seeds: "db/seeds/"}
      c: {postgres: true, migrations: "db/b"}
    """)
    assert [f.path for f in kubernetes.folders(stack)] == [
        "db/b", "db/seeds", "seeds/a", "seeds/c", "svc/a"]


@pytest.mark.parametrize(("service", "message"), [
    ('{postgres: true, migrations: ".devenv"}',
     "devenv.yaml:3: services.a.migrations: '.devenv' is inside .devenv/, devenv's private "
     "folder (local passwords); keep migrations and seeds in a folder of their own"),
    ('{postgres: true, seeds: "seeds/../.devenv/env"}',
     "devenv.yaml:3: services.a.seeds: 'seeds/../.devenv/env' is inside .devenv/, devenv's "
     "private folder (local passwords); keep migrations and seeds in a folder of their own"),
])
def test_a_migrations_or_seeds_folder_inside_devenv_is_refused_when_the_manifest_loads(
        service: str, message: str) -> None:
    """Issue 27 items 15 and 16: not only the migrate image would ship .devenv/ (passwords);
    `up` would run its files. Refused before anything, with the line."""
    with pytest.raises(DevenvError) as raised:
        stack_of(f"""
        project: x
        services:
          a: {service}
        """)
    assert raised.value.message == message


@pytest.mark.parametrize(("service", "message"), [
    ('{postgres: true, migrations: {command: "alembic upgrade head", cwd: "sub/.."}}',
     "devenv.yaml:3: services.a.migrations.cwd: 'sub/..' is the project root: the migrate "
     "image copies the manifest and each service's own folders, never the whole project "
     "(.devenv/ holds the local passwords); give it a folder of its own, e.g. migrations/a"),
    ('{postgres: true, migrations: "../shared/migrations"}',
     "devenv.yaml:3: services.a.migrations.path: '../shared/migrations' is outside the "
     "project: the migrate image's build context holds only folders under it"),
])
def test_a_folder_that_would_put_the_project_or_devenv_s_secrets_in_the_image_is_refused(
        service: str, message: str) -> None:
    """Issue 27 item 15: `cwd: "sub/.."` (the root) or a folder equal to .devenv copied the
    local passwords into the migrate image. Refused at the manifest line, before any file."""
    text = f"""
    project: x
    services:
      a: {service}
    """
    stack = stack_of(text)
    with pytest.raises(DevenvError) as raised:
        kubernetes.files(stack, "ns", external=False, lines=lines_of(text))
    assert raised.value.message == message
    assert raised.value.hint == ("`devenv export kubernetes` copies these folders into "
                                 "images/migrate/app/ for the migrate image")


def test_kustomization_lists_every_file_and_the_secrets_unless_external() -> None:
    stack = example("capsule")
    out = rendered(stack, "pr-42")
    kustom = yaml.safe_load(out[PurePosixPath("kustomization.yaml")])
    yamls = sorted(str(p) for p in out if p.suffix == ".yaml" and p.name != "kustomization.yaml"
                   and len(p.parts) == 1)
    assert sorted(kustom["resources"]) == sorted([*yamls, "secrets.yaml"])
    assert kustom["namespace"] == "pr-42"
    assert yaml.safe_load(out[PurePosixPath("namespace.yaml")])["metadata"]["name"] == "pr-42"
    external = yaml.safe_load(rendered(stack, "pr-42", external=True)[
        PurePosixPath("kustomization.yaml")])
    assert "secrets.yaml" not in external["resources"]
    assert out[PurePosixPath(".gitignore")].splitlines()[1:] == [
        "# The migrate image's build context, filled by each export.",
        "/images/migrate/wheels/", "/images/migrate/app/",
        "# Passwords: never committed.", "/secrets.yaml", "/passwords.json"]


def test_external_mode_names_every_secret_the_manifests_reference() -> None:
    stack = example("pcc")
    text = "\n".join(rendered(stack, external=True).values())
    names = kubernetes.secret_names(stack)
    assert "alloydb-superuser" in names and "auth-env" in names
    referenced = {line.split("name: ", 1)[1] for line in text.splitlines()
                  if "name: " in line and line.strip().startswith("name: ")}
    assert {n for n in names if not n.endswith("-env")} <= referenced
    assert {kubernetes.k8s_name(s, "env") for s in stack.services} <= referenced


# -- errors -------------------------------------------------------------------------------


def test_an_extension_cnpg_cannot_declare_is_an_error_at_its_manifest_line() -> None:
    text = """
    project: x
    services:
      auth:
        postgres: true
        extensions: [citext, pg_partman]
    """
    with pytest.raises(DevenvError) as err:
        kubernetes.files(stack_of(text), "x", external=False, lines=lines_of(text))
    assert err.value.message == (
        "devenv.yaml:5: services.auth.extensions.1: extension 'pg_partman' is not in "
        "ghcr.io/cloudnative-pg/postgresql:18-standard-trixie, so a CloudNativePG Database "
        "cannot declare it")
    assert err.value.hint == (
        "build an image FROM ghcr.io/cloudnative-pg/postgresql with it, with 'cnpg' in its "
        "name, and set servers.postgres.image to it (exported as is; locally devenv runs it "
        "too), or drop the extension; on postgres:18 the export mounts postgis, "
        "postgis_raster, postgis_topology, timescaledb from CNPG's extension images")


def test_an_operand_image_the_team_built_is_used_as_is_with_its_extensions() -> None:
    stack = stack_of("""
    project: x
    servers: {db: {kind: postgres, image: "ghcr.io/acme/cnpg-postgres:17-partman"}}
    services: {auth: {postgres: db, extensions: [pg_partman]}}
    """)
    spec = one(documents(stack), "Cluster", "db")["spec"]
    assert spec["imageName"] == "ghcr.io/acme/cnpg-postgres:17-partman"


def test_a_timescaledb_image_cnpg_cannot_run_is_an_error() -> None:
    text = """
    project: x
    servers:
      ts:
        kind: timescaledb
        image: "example/tsdb:2"
    services: {m: {postgres: ts}}
    """
    with pytest.raises(DevenvError) as err:
        kubernetes.files(stack_of(text), "x", external=False, lines=lines_of(text))
    assert err.value.message == ("devenv.yaml:5: servers.ts.image: no CloudNativePG image for "
                                 "timescaledb image example/tsdb:2")
    assert err.value.hint is not None and "timescale/timescaledb-ha:pgNN" in err.value.hint


def test_a_timescaledb_major_with_no_ha_image_is_an_error() -> None:
    stack = stack_of("""
    project: x
    servers: {ts: {kind: timescaledb, image: "timescale/timescaledb:2.14.2-pg14"}}
    services: {m: {postgres: ts}}
    """)
    with pytest.raises(DevenvError) as err:
        kubernetes.files(stack, "x", external=False)
    assert err.value.message == (
        "devenv.yaml: servers.ts.image: timescale/timescaledb:2.14.2-pg14 (PostgreSQL 14): "
        "timescale/timescaledb-ha, the TimescaleDB image CloudNativePG can run, has PostgreSQL "
        "15-18 only")


def test_a_postgres_image_that_is_not_the_official_one_is_an_error() -> None:
    stack = stack_of("""
    project: x
    servers: {db: {kind: postgres, image: "postgis/postgis:17-3.5"}}
    services: {m: {postgres: db}}
    """)
    with pytest.raises(DevenvError, match=r"no CloudNativePG image for postgis/postgis:17-3\.5"):
        kubernetes.files(stack, "x", external=False)
