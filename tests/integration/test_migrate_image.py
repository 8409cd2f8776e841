"""The Kubernetes export's migrate image, built and run for real (issue 25).

`devenv export kubernetes` writes images/migrate/: its Dockerfile, a wheelhouse of this very
checkout with its dependencies for python:3.13-slim, and app/ (the manifest, migrations and
seeds). The image is built from that folder alone (pip --no-index: no package index), and its
container runs the Job's own command, `devenv -f /app/devenv.yaml migrate SERVICE
--in-cluster`, against a local stack with the variables of the exported `<service>-env` Secret
(the local values: the stack is this machine's, not a cluster's). The migrations and seeds
apply; a second run applies nothing.
"""

from __future__ import annotations

import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import yaml

from tests.integration.stacks import CopiedStack, copied

MANIFEST = """
project: mig
servers:
  db: {kind: postgres, image: "postgres:18", port: 7400}
services:
  auth:
    postgres: db
    env:
      AUTH_DB_NAME: "{{ db.name }}"
  billing:
    postgres: db
    reads: [auth]
"""
FILES = {
    "migrations/auth/V1__users.sql": "CREATE TABLE users (id int PRIMARY KEY, email text);\n",
    "migrations/auth/V2__tokens.sql": "CREATE TABLE tokens (user_id int REFERENCES users);\n",
    "seeds/auth/01_users.sql": "INSERT INTO users VALUES (1, 'ada@example.com'), "
                               "(2, 'alan@example.com');\n",
    "migrations/billing/V1__invoices.sql": "CREATE TABLE invoices (id int, total numeric);\n",
    "seeds/billing/01_invoices.csv": "id,total\n1,9.50\n",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    source = tmp_path_factory.mktemp("source")
    (source / "devenv.yaml").write_text(textwrap.dedent(MANIFEST).lstrip())
    for name, text in FILES.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    with copied(source, tmp_path_factory.mktemp("mig"), prefix="mig") as made:
        made.ok("up", "--no-migrate")  # roles and databases, as CNPG makes them; no tables
        yield made


@pytest.fixture(scope="module")
def image(stack: CopiedStack) -> Iterator[str]:
    stack.ok("export", "kubernetes", "-o", "k8s")
    context = stack.root / "k8s" / "images" / "migrate"
    tag = f"devenv-test-migrate-{uuid.uuid4().hex[:10]}:1"
    built = subprocess.run(["docker", "build", "-q", "-t", tag, str(context)],
                           capture_output=True, text=True, timeout=600, check=False)
    assert built.returncode == 0, built.stdout + built.stderr
    try:
        yield tag
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


def exported(stack: CopiedStack, kind: str, name: str, file: str) -> dict[str, Any]:
    for doc in yaml.safe_load_all((stack.root / "k8s" / file).read_text()):
        if doc and doc["kind"] == kind and doc["metadata"]["name"] == name:
            assert isinstance(doc, dict)
            return doc
    raise AssertionError(f"no {kind} {name} in {file}")


def job(stack: CopiedStack, image: str, service: str) -> subprocess.CompletedProcess[str]:
    """The Job's container, as Kubernetes would run it: its args, its Secret's variables."""
    spec = exported(stack, "Job", f"{service}-migrate", "jobs.yaml")["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["envFrom"] == [{"secretRef": {"name": f"{service}-env"}}]
    names = exported(stack, "Secret", f"{service}-env", "secrets.yaml")["stringData"]
    local = stack.env(service)
    assert set(names) == set(local), "the Secret holds the local .env's variables"
    env = [arg for name in sorted(names) for arg in ("-e", f"{name}={local[name]}")]
    return subprocess.run(["docker", "run", "--rm", "--network", "host", *env,
                           "--user", "10001", image, *container["args"]],
                          capture_output=True, text=True, timeout=300, check=False)


def line_ms(out: str, name: str) -> str:
    """The timing at the end of the line naming `name` (it varies)."""
    line = next(x for x in out.splitlines() if name in x and (" in " in x))
    return line.rsplit(" in ", 1)[1]


def rows(stack: CopiedStack, service: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(stack.env(service)["DATABASE_DIRECT_URL"]) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def test_the_image_has_no_index_name_and_no_local_secret(stack: CopiedStack,
                                                         image: str) -> None:
    listing = subprocess.run(["docker", "run", "--rm", "--network", "none", image, "sh", "-c",
                              "devenv --version; find /app | sort; pip list 2>/dev/null"],
                             capture_output=True, text=True, timeout=120, check=True).stdout
    assert listing.splitlines()[0].startswith("devenv-stack ")
    assert "/app/.devenv" not in listing and "/app/k8s" not in listing
    assert "/app/migrations/auth/V2__tokens.sql" in listing
    assert "/app/seeds/billing/01_invoices.csv" in listing
    packages = {line.split()[0].lower() for line in listing.splitlines() if " " in line}
    assert "devenv-stack" in packages and "devenv" not in packages


def test_the_job_migrates_and_seeds_then_a_second_run_applies_nothing(
        stack: CopiedStack, image: str) -> None:
    first = job(stack, image, "auth")
    out = first.stdout + first.stderr
    assert first.returncode == 0, out
    assert [line for line in out.splitlines() if " applied " in line or "seeded" in line] == [
        "  auth: applied migrations/auth/V1__users.sql in " + line_ms(out, "V1__users.sql"),
        "  auth: applied migrations/auth/V2__tokens.sql in " + line_ms(out, "V2__tokens.sql"),
        "  auth: seeded seeds/auth/01_users.sql in " + line_ms(out, "01_users.sql")]
    assert out.splitlines()[-1] == "auth: up to date"
    assert rows(stack, "auth", "SELECT id, email FROM users ORDER BY id") == [
        (1, "ada@example.com"), (2, "alan@example.com")]
    assert rows(stack, "auth", "SELECT to_regclass('tokens') IS NOT NULL") == [(True,)]
    ledger = rows(stack, "auth", "SELECT count(*) FROM devenv.devenv_schema_history")

    billing = job(stack, image, "billing")
    assert billing.returncode == 0, billing.stdout + billing.stderr
    assert rows(stack, "billing", "SELECT id, total::text FROM invoices") == [(1, "9.50")]
    reader = stack.env("billing")["DATABASE_DIRECT_URL"].rsplit("/", 1)[0] + "/auth"
    with psycopg.connect(reader) as conn:  # billing reads auth: the grants hold
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (2,)

    second = job(stack, image, "auth")
    again = second.stdout + second.stderr
    assert second.returncode == 0, again
    assert again.splitlines() == ["  auth: migrations/auth is up to date", "auth: up to date"]
    assert rows(stack, "auth", "SELECT count(*) FROM devenv.devenv_schema_history") == ledger
    assert rows(stack, "auth", "SELECT count(*) FROM users") == [(2,)]
