"""Benchmark: devenv's migrate() against psql on 500 small migrations.

Run with `python bench/migrate.py` (Docker and a host `psql` needed). Starts its own throwaway
server, then applies the same generated folder to three fresh databases:

1. devenv `migrate()`: one connection, one transaction per file with its ledger row;
2. the floor named in the issue: host `psql -1 -f FILE` once per file (a process and a
   connection per file, no ledger);
3. a tighter floor for reference: one psql session that runs every file in its own
   transaction (`BEGIN; \\i FILE; COMMIT;`), still without a ledger.

The host psql is used rather than `docker exec ... psql`, which would add a container exec per
file and so flatter devenv: the host client is the fairer (faster) floor.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: E402

from devenv.migrations import load_migrations, migrate  # noqa: E402
from tests.integration.servers import running_postgres  # noqa: E402

COUNT = 500


def generate(folder: Path) -> list[Path]:
    files = []
    for i in range(1, COUNT + 1):
        path = folder / f"V{i}__create_t_{i}.sql"
        path.write_text(f"CREATE TABLE t_{i} (id integer PRIMARY KEY, name text NOT NULL);\n"
                        f"INSERT INTO t_{i} (id, name) VALUES ({i}, 'row {i}');\n",
                        encoding="utf-8")
        files.append(path)
    return files


def fresh_database(admin: str) -> str:
    """A new database owned by a new login role; its conninfo (the role's, not the admin's)."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'bench'").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name),
                                                                   sql.Identifier(name)))
    return make_conninfo(admin, user=name, password="bench", dbname=name)


def count_tables(conninfo: str) -> int:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 't\\_%'").fetchone()
    return int(row[0]) if row else 0


def psql_env(conninfo: str) -> dict[str, str]:
    parts = conninfo_to_dict(conninfo)
    return {"PATH": "/usr/bin:/bin", "PGHOST": str(parts["host"]), "PGPORT": str(parts["port"]),
            "PGUSER": str(parts["user"]), "PGPASSWORD": str(parts["password"]),
            "PGDATABASE": str(parts["dbname"])}


def main() -> int:
    psql = shutil.which("psql")
    if psql is None:
        print("no host psql: install postgresql-client", file=sys.stderr)
        return 2
    version = subprocess.run([psql, "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp, running_postgres() as admin:
        root = Path(tmp)
        folder = root / "migrations" / "bench"
        folder.mkdir(parents=True)
        files = generate(folder)
        migrations = load_migrations(folder, root=root)

        target = fresh_database(admin)
        started = time.perf_counter()
        result = migrate(target, migrations)
        devenv_s = time.perf_counter() - started
        assert len(result.applied) == COUNT and count_tables(target) == COUNT

        target = fresh_database(admin)
        env = psql_env(target)
        started = time.perf_counter()
        for path in files:
            subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(path)],
                           env=env, check=True)
        per_file_s = time.perf_counter() - started
        assert count_tables(target) == COUNT

        target = fresh_database(admin)
        driver = root / "all.sql"
        driver.write_text("".join(f"BEGIN;\n\\i {p}\nCOMMIT;\n" for p in files), encoding="utf-8")
        started = time.perf_counter()
        subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(driver)],
                       env=psql_env(target), check=True)
        session_s = time.perf_counter() - started
        assert count_tables(target) == COUNT

    print(f"{COUNT} migrations (CREATE TABLE + INSERT each), host client {version}")
    print(f"  devenv migrate():                      {devenv_s:7.2f} s  "
          f"({devenv_s / COUNT * 1000:.1f} ms/file, with ledger rows)")
    print(f"  floor: psql -1 -f FILE, once per file: {per_file_s:7.2f} s  "
          f"({per_file_s / COUNT * 1000:.1f} ms/file, no ledger)")
    print(f"  reference: one psql session, BEGIN/\\i/COMMIT per file: {session_s:.2f} s "
          f"(no ledger)")
    ratio = devenv_s / per_file_s
    print(f"  ratio devenv / floor: {ratio:.2f}x (target <= 1.5x): "
          f"{'OK' if ratio <= 1.5 else 'OVER TARGET'}")
    print(f"  ratio devenv / one psql session: {devenv_s / session_s:.2f}x")
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
