"""The export's Job (`devenv migrate SERVICE --in-cluster`) on a real PostgreSQL set up the way
CloudNativePG leaves it (issue 26): the service's role owning its database, and CNPG's roles.

The cluster itself cannot be run here; what the Job does to the database can.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from devenv.cli.migrate import migrate_in_cluster
from devenv.console import Console
from devenv.model.resolve import load_stack
from tests.integration.servers import running_postgres

MANIFEST = ("project: demo\nservices:\n  auth: {postgres: true}\n"
            "  users: {postgres: true, reads: [auth]}\n")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_postgres() as admin:
        with psycopg.connect(admin, autocommit=True) as conn:
            for role in ("auth", "users", "someone"):
                conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw-{role}'")
            conn.execute("CREATE DATABASE auth OWNER auth")
            # CNPG 1.30's exporter (pkg/management/postgres/metrics_exporter_role.go):
            # LOGIN INHERIT, a member of pg_monitor, nothing else.
            conn.execute("CREATE ROLE cnpg_metrics_exporter LOGIN INHERIT PASSWORD 'pw-x' "
                         "IN ROLE pg_monitor")
        yield admin


def can_connect(admin: str, user: str) -> bool:
    try:
        with psycopg.connect(make_conninfo(admin, user=user, password=f"pw-{user}"
                                           if user != "cnpg_metrics_exporter" else "pw-x",
                                           dbname="auth"), connect_timeout=5):
            return True
    except psycopg.OperationalError as exc:
        assert "permission denied for database" in str(exc), exc
        return False


def test_the_job_keeps_cnpg_s_metrics_exporter_in_the_service_database(
        server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Job revokes PUBLIC's CONNECT, as `devenv up` does; CNPG's metrics exporter runs its
    default queries in the Cluster's initdb database, the first service's (docs/src/
    monitoring.md, v1.30.0), as a pg_monitor member with no grant of its own: without CONNECT
    for pg_monitor every default metric fails there."""
    (tmp_path / "devenv.yaml").write_text(MANIFEST)
    monkeypatch.setenv("DATABASE_DIRECT_URL", make_conninfo(server, user="auth",
                                                            password="pw-auth", dbname="auth"))
    out = io.StringIO()
    migrate_in_cluster(load_stack(tmp_path / "devenv.yaml"), Console(out=out), name="auth",
                       wait=30)
    said = out.getvalue()
    assert "auth: revoked PUBLIC access to database auth" in said
    assert "auth: granted CONNECT on auth to pg_monitor (CNPG's metrics exporter)" in said
    assert can_connect(server, "cnpg_metrics_exporter")
    assert can_connect(server, "users")  # its reader
    assert not can_connect(server, "someone")  # isolation as locally
    again = io.StringIO()
    migrate_in_cluster(load_stack(tmp_path / "devenv.yaml"), Console(out=again), name="auth",
                       wait=30)
    assert "granted" not in again.getvalue() and "revoked" not in again.getvalue()
