"""A hostile or careless service sharing the stack (issue 14), on the real engine: each test
performs the attack and shows it fails, or that devenv notices and repairs what it did."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from devenv.console import Console
from devenv.engine.context import attach
from devenv.errors import DevenvError
from devenv.model.resolve import load_stack
from tests.integration.stacks import PCC, CopiedStack, copied


@pytest.fixture(scope="module")
def pcc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    with copied(PCC, tmp_path_factory.mktemp("pcc"), prefix="t-attack") as stack:
        stack.ok("up")
        yield stack


def url_of(stack: CopiedStack, service: str, database: str | None = None) -> str:
    url = stack.env(service)["DATABASE_DIRECT_URL"]
    return url if database is None else make_conninfo(url, dbname=database)


def admin(stack: CopiedStack) -> psycopg.Connection[tuple[object, ...]]:
    ctx = attach(load_stack(stack.manifest), Console(quiet=True))
    return ctx.admin_session("alloydb")


def test_a_service_cannot_enter_the_admin_database(pcc: CopiedStack) -> None:
    """Where devenv takes its template and reset locks: a service there could hold them."""
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(url_of(pcc, "client", "postgres"), connect_timeout=5).close()


def test_a_held_reset_lock_fails_in_time_naming_its_holder(
        pcc: CopiedStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from devenv.data import golden, reset

    monkeypatch.setattr(golden, "RESET_WAIT_S", 1.0)
    ctx = attach(load_stack(pcc.manifest), Console(quiet=True))
    svc = ctx.stack.services["client"]
    golden.ensure_template(ctx, svc, say=False)
    with admin(pcc) as holder:
        holder.execute("SET application_name = 'a stuck tool'")
        holder.execute("SELECT pg_advisory_lock(hashtext('devenv:reset:client'))")
        pid = holder.info.backend_pid
        started = time.monotonic()
        with pytest.raises(DevenvError) as failed:
            reset.reset_database(ctx, svc)
        assert time.monotonic() - started < 15
    message = failed.value.message
    assert message.startswith("waited 1 s for another reset of client: held by pid "
                              f"{pid} (role postgres, application 'a stuck tool', database "
                              "postgres, since "), message
    assert failed.value.hint is not None and "pg_terminate_backend" in failed.value.hint


def test_two_resets_of_one_service_at_once_both_succeed(pcc: CopiedStack) -> None:
    """Without a standby (each CLI resets itself): they used to race on DROP/CREATE."""
    env = {"DEVENV_STANDBY": "0", "DEVENV_SPARES": "0"}
    command = [sys.executable, "-m", "devenv.cli", "reset", "task_builder"]
    import os

    full = {**os.environ, **env}
    full.pop("DEVENV_FILE", None)
    procs = [subprocess.Popen(command, cwd=pcc.root, env=full, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    for code, out, err in outcomes:
        assert code == 0, f"exit {code}\n{out}\n{err}"
        assert "task_builder: restored from its template" in out
    with psycopg.connect(url_of(pcc, "task_builder")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_service_opening_its_database_to_all_is_undone_by_the_next_up(
        pcc: CopiedStack) -> None:
    client_db = conninfo_to_dict(url_of(pcc, "client"))["dbname"]
    with psycopg.connect(url_of(pcc, "client"), autocommit=True) as conn:  # as its owner
        conn.execute(f'GRANT CONNECT ON DATABASE "{client_db}" TO PUBLIC')
    # The attack works until devenv looks: another service walks in.
    psycopg.connect(url_of(pcc, "user", str(client_db)), connect_timeout=5).close()
    doctor = pcc.devenv("doctor")
    assert doctor.code == 1
    assert (f"FAIL  service isolation: alloydb: PUBLIC may connect to database {client_db}"
            in doctor.stdout), doctor.explain()
    result = pcc.ok("up")
    assert "is up to date" in result.stdout  # the warm path, one catalog query per server
    assert (f"warning: server 'alloydb': isolation had drifted (PUBLIC may connect to database "
            f"{client_db}); repaired: revoked PUBLIC access to database {client_db}"
            in result.stderr), result.explain()
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(url_of(pcc, "user", str(client_db)), connect_timeout=5).close()
    assert "drifted" not in pcc.ok("up").stderr  # repaired for good
    assert "ok    service isolation: each service database" in pcc.devenv("doctor").stdout


def test_a_server_that_dies_while_up_waits_is_reported_at_once(tmp_path: Path) -> None:
    def crash(data: dict[str, object]) -> None:
        servers = data["servers"]
        assert isinstance(servers, dict)
        servers["alloydb"]["settings"] = {"shared_buffers": "900TB"}  # no machine has that

    with copied(PCC, tmp_path, prefix="t-crash", edit=crash) as stack:
        started = time.monotonic()
        result = stack.devenv("up", "--timeout", "300")
        took = time.monotonic() - started
    assert result.code == 1, result.explain()
    assert took < 120, f"waited {took:.0f} s: up should stop when the container dies"
    assert "server 'alloydb' is not ready (its container " in result.stderr, result.explain()
    assert "shared_buffers" in result.stderr or "memory" in result.stderr, result.explain()


def test_redis_key_names_are_private_only_on_a_server_of_the_services_own(
        tmp_path: Path) -> None:
    """ACL key patterns keep other services' values out of reach, not their key names: SCAN,
    RANDOMKEY and DBSIZE see the whole keyspace (README: what is isolated). A service that
    must not even see names gets a Redis server of its own, one line in the manifest."""
    import uuid

    import redis as redis_lib

    from tests.integration.stacks import CopiedStack

    project = f"t-keys-{uuid.uuid4().hex[:10]}"
    (tmp_path / "devenv.yaml").write_text(
        f"project: {project}\n"
        "servers:\n  shared: {kind: redis, port: auto}\n  own: {kind: redis, port: auto}\n"
        "services:\n  a: {redis: shared}\n  b: {redis: shared}\n  c: {redis: own}\n")
    stack = CopiedStack(tmp_path, project)
    try:
        stack.ok("up")
        clients = {s: redis_lib.Redis.from_url(stack.env(s)["REDIS_URL"]) for s in "abc"}
        clients["a"].set("a:secret-name", "value")
        clients["c"].set("c:other", "value")
        with pytest.raises(redis_lib.exceptions.NoPermissionError):
            clients["b"].get("a:secret-name")  # values stay private on a shared server
        assert b"a:secret-name" in set(clients["b"].scan_iter())  # names do not
        assert set(clients["c"].scan_iter()) == {b"c:other"}  # a server of its own: nothing
        for client in clients.values():
            client.close()
    finally:
        stack.teardown()


def test_provisioning_is_bounded_by_the_up_deadline(pcc: CopiedStack) -> None:
    """`up --timeout` bounds provisioning too: a session holding a role's row lock (here an
    open ALTER ROLE) made provisioning wait for ever."""
    from devenv.engine import provision

    ctx = attach(load_stack(pcc.manifest), Console(quiet=True))
    server = ctx.stack.servers["alloydb"]
    role = ctx.stack.services["metric_builder"].role
    with admin(pcc) as conn:
        conn.execute(f'ALTER ROLE "{role}" PASSWORD \'drifted-away\'')  # provisioning fixes it
    with admin(pcc) as holder:
        holder.autocommit = False
        holder.execute(f'ALTER ROLE "{role}" CONNECTION LIMIT 50')  # row lock, not committed
        started = time.monotonic()
        with pytest.raises(DevenvError) as failed:
            provision.reconcile_server(ctx, server, deadline=time.monotonic() + 2)
        assert time.monotonic() - started < 15
        holder.rollback()
    assert failed.value.message.startswith(
        "provisioning server 'alloydb' did not finish in time"), failed.value.message
    actions = provision.reconcile_server(ctx, server)
    assert f"set password of role {role}" in actions, actions


def test_a_reader_holding_the_migration_lock_cannot_hang_migrate(
        pcc: CopiedStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """auth reads user's database, so it can connect there and take user's migration lock."""
    from devenv.engine.migrate import migrate_service
    from devenv.migrations import lock

    monkeypatch.setattr(lock, "WAIT_S", 1.0)
    ctx = attach(load_stack(pcc.manifest), Console(quiet=True))
    user_db = conninfo_to_dict(url_of(pcc, "user"))["dbname"]
    with psycopg.connect(url_of(pcc, "auth", str(user_db)), autocommit=True) as reader:
        reader.execute("SELECT pg_advisory_lock(%s)", (lock.SCHEMA_LOCK,))
        pid = reader.info.backend_pid
        started = time.monotonic()
        with pytest.raises(DevenvError) as failed:
            migrate_service(ctx, ctx.stack.services["user"])
        assert time.monotonic() - started < 15
    role = ctx.stack.services["auth"].role
    assert failed.value.message.startswith(
        f"waited 1 s for the migration lock of this database: held by pid {pid} (role {role}, "
    ), failed.value.message



# Issue 27, item 1: a view named like a catalog, in a schema the service owns, put ahead of
# pg_catalog by the database's own search_path, runs the service's function as the superuser.
# COST: the planner runs the cheapest condition first, so it runs before any other filter.
# A migration plants it: the service's own code, which also runs into its template.
_PLANT = """
DO $d$ BEGIN
  EXECUTE format($q$CREATE FUNCTION public.pwn() RETURNS boolean LANGUAGE plpgsql
    COST 0.0001 AS $f$
    BEGIN
      IF current_setting('is_superuser') = 'on' THEN ALTER ROLE %I SUPERUSER; END IF;
      RETURN true;
    END $f$$q$, current_user);
  EXECUTE format('ALTER DATABASE %I SET search_path = public, pg_catalog', current_database());
END $d$;
CREATE VIEW public.pg_extension AS SELECT * FROM pg_catalog.pg_extension WHERE public.pwn();
CREATE VIEW public.pg_namespace AS SELECT * FROM pg_catalog.pg_namespace WHERE public.pwn();
CREATE VIEW public.pg_default_acl AS SELECT * FROM pg_catalog.pg_default_acl WHERE public.pwn();
"""


def test_a_service_cannot_run_its_code_in_an_admin_session(tmp_path: Path) -> None:
    """Provisioning (`down` then `up`) and a template build (the first `reset`) open admin
    sessions in the service's database: none of them may resolve a name to its objects."""
    import uuid

    from tests.integration.stacks import CopiedStack

    project = f"t-pwn-{uuid.uuid4().hex[:10]}"
    (tmp_path / "devenv.yaml").write_text(
        f"project: {project}\n"
        "servers:\n  pg: {kind: postgres, port: auto}\n"
        "services:\n  a: {postgres: true, extensions: [pgcrypto]}\n"
        "  b: {postgres: true, reads: [a]}\n")
    (tmp_path / "migrations" / "a").mkdir(parents=True)
    (tmp_path / "migrations" / "a" / "V1__plant.sql").write_text(_PLANT)
    stack = CopiedStack(tmp_path, project)
    try:
        stack.ok("up")  # provisions, then migrates: the plant is in place from here on
        role = str(conninfo_to_dict(url_of(stack, "a"))["user"])

        def superuser() -> bool:
            """Whether it is, put back to NOSUPERUSER: each step below is tried alone."""
            with admin_of(stack, "pg") as conn:
                row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s",
                                   (role,)).fetchone()
                conn.execute(f'ALTER ROLE "{role}" NOSUPERUSER')
            assert row is not None
            return bool(row[0])

        assert not superuser()
        stack.ok("down")
        stack.ok("up")
        after_up = superuser()
        stack.ok("reset", "a", env={"DEVENV_STANDBY": "0", "DEVENV_SPARES": "0"})  # a template
        after_template = superuser()
        assert (after_up, after_template) == (False, False), \
            "an admin session ran the service's function as the superuser"
    finally:
        stack.teardown()


def admin_of(stack: CopiedStack, server: str) -> psycopg.Connection[tuple[object, ...]]:
    ctx = attach(load_stack(stack.manifest), Console(quiet=True))
    return ctx.admin_session(server)


def test_a_service_made_superuser_is_reported_and_repaired(pcc: CopiedStack) -> None:
    """Issue 27, item 2: with `client` superuser (however it got there), warm `up` and doctor
    said all was fine. Every right beyond the manifest's is named, and `up` takes it back."""
    role = str(conninfo_to_dict(url_of(pcc, "client"))["user"])
    with admin(pcc) as conn:
        conn.execute(f'ALTER ROLE "{role}" SUPERUSER CREATEROLE REPLICATION BYPASSRLS')
        conn.execute(f'GRANT pg_read_all_data TO "{role}"')
    with psycopg.connect(url_of(pcc, "client"), autocommit=True) as conn:  # now superuser
        conn.execute(f'GRANT pg_execute_server_program TO "{role}"')
        conn.execute("CREATE ROLE t_backdoor LOGIN SUPERUSER")  # a way back in
    found = [f"role {role} is SUPERUSER", f"role {role} is CREATEROLE",
             f"role {role} is REPLICATION", f"role {role} is BYPASSRLS",
             f"role {role} is a member of pg_execute_server_program",
             f"role {role} is a member of pg_read_all_data",
             "role t_backdoor is SUPERUSER (a role devenv does not manage)"]
    doctor = pcc.devenv("doctor")
    assert doctor.code == 1, doctor.explain()
    assert ("FAIL  service isolation: " + "; ".join(f"alloydb: {f}" for f in found)
            in doctor.stdout), doctor.explain()
    result = pcc.ok("up")
    assert "is up to date" in result.stdout, result.explain()  # the warm path
    done = [f"removed SUPERUSER from role {role}", f"removed CREATEROLE from role {role}",
            f"removed REPLICATION from role {role}", f"removed BYPASSRLS from role {role}",
            f"revoked pg_execute_server_program from role {role}",
            f"revoked pg_read_all_data from role {role}",
            "removed SUPERUSER from role t_backdoor"]
    assert (f"warning: server 'alloydb': isolation had drifted ({'; '.join(found)}); "
            f"repaired: {', '.join(done)}" in result.stderr), result.explain()
    with admin(pcc) as conn:
        rights = conn.execute(
            "SELECT rolname, rolsuper, rolcreaterole, rolreplication, rolbypassrls, "
            "pg_has_role(rolname, 'pg_read_all_data', 'MEMBER') FROM pg_roles "
            "WHERE rolname = ANY(%s) ORDER BY rolname", ([role, "t_backdoor"],)).fetchall()
        conn.execute("DROP ROLE t_backdoor")
    assert rights == [(role, False, False, False, False, False),
                      ("t_backdoor", False, False, False, False, False)]
    assert "drifted" not in pcc.ok("up").stderr
    assert "ok    service isolation: each service database" in pcc.devenv("doctor").stdout


def _paused_entries(stack: CopiedStack) -> list[str]:
    from devenv.engine import pools

    ctx = attach(load_stack(stack.manifest), Console(quiet=True))
    with ctx.console_session(ctx.stack.servers["pgbouncer"]) as console:
        return pools.paused(console)


def _reset_stopped_in_its_pause(stack: CopiedStack, service: str, database: str,
                                signal_number: int) -> subprocess.Popen[str]:
    """`devenv reset SERVICE` signalled while its pool entries are paused: an admin session
    holds pg_database, so the reset's DROP DATABASE waits right after the pause."""
    import os

    env = {**os.environ, "DEVENV_STANDBY": "0", "DEVENV_SPARES": "0"}
    env.pop("DEVENV_FILE", None)
    with admin(stack) as blocker, blocker.transaction():
        blocker.execute("LOCK TABLE pg_catalog.pg_database IN EXCLUSIVE MODE")
        proc = subprocess.Popen([sys.executable, "-m", "devenv.cli", "reset", service],
                                cwd=stack.root, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while database not in _paused_entries(stack):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the reset never paused its pool entry"
            time.sleep(0.05)
        proc.send_signal(signal_number)
        proc.wait(timeout=30)
        # SIGKILL leaves the blocked DROP behind, as a client that vanished does
        blocker.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE query LIKE 'DROP DATABASE%%' AND pid <> pg_backend_pid()")
    return proc


def test_a_killed_reset_leaves_no_pool_entry_paused(pcc: CopiedStack) -> None:
    """Issue 27, item 4: kill -9 of `reset` left the service's PgBouncer entries paused (its
    pooled queries hung; `up` waited 125 s and blamed the settings; doctor said healthy)."""
    import signal

    from devenv.data import golden

    ctx = attach(load_stack(pcc.manifest), Console(quiet=True))
    golden.ensure_template(ctx, ctx.stack.services["client"], say=False)
    database = str(conninfo_to_dict(url_of(pcc, "client"))["dbname"])
    readonly = f"{database}_readonly"
    terminated = _reset_stopped_in_its_pause(pcc, "client", database, signal.SIGTERM)
    assert terminated.returncode == 130, terminated.communicate()
    assert _paused_entries(pcc) == []  # SIGTERM: resumed on the way out
    killed = _reset_stopped_in_its_pause(pcc, "client", database, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert sorted(_paused_entries(pcc)) == [database, readonly]
    found = [f"PgBouncer 'pgbouncer': client's entry {e} is paused (a `devenv reset` that was "
             "killed leaves it so: its pooled queries wait)" for e in (database, readonly)]
    doctor = pcc.devenv("doctor")
    assert doctor.code == 1, doctor.explain()
    assert f"FAIL  pgbouncer entries: {'; '.join(found)}\n" in doctor.stdout, doctor.explain()
    started = time.monotonic()
    result = pcc.ok("up")
    assert time.monotonic() - started < 30, result.explain()
    assert "is up to date" in result.stdout, result.explain()  # the warm path
    for line in found:
        assert f"warning: {line}; resumed it\n" in result.stderr, result.explain()
    assert _paused_entries(pcc) == []
    with psycopg.connect(pcc.env("client")["DATABASE_URL"], connect_timeout=5) as pooled:
        assert pooled.execute("SELECT 1").fetchone() == (1,)
    assert "ok    pgbouncer entries: none paused" in pcc.devenv("doctor").stdout


def test_a_template_build_killed_before_it_marked_its_database_is_rebuilt(
        pcc: CopiedStack) -> None:
    """Issue 27, item 5: kill -9 between the template's CREATE DATABASE and its COMMENT left
    `<db>_tpl_<hash>` unmarked; every later `reset` and `db clone` exited 3 (DuplicateDatabase).
    An admin session holding pg_shdescription stops the build right there."""
    import os
    import signal

    from devenv.data import golden

    ctx = attach(load_stack(pcc.manifest), Console(quiet=True))
    svc = ctx.stack.services["metric_tracker"]
    name = golden.template_name(svc, golden.template_hash(ctx, svc))
    with admin(pcc) as conn:
        golden.drop_marked(conn, f"{golden.TEMPLATE_MARK}{svc.name}:")
    env = {**os.environ, "DEVENV_STANDBY": "0", "DEVENV_SPARES": "0"}
    env.pop("DEVENV_FILE", None)
    with admin(pcc) as blocker, admin(pcc) as watcher, blocker.transaction():
        blocker.execute("LOCK TABLE pg_catalog.pg_shdescription IN EXCLUSIVE MODE")
        proc = subprocess.Popen([sys.executable, "-m", "devenv.cli", "reset", "metric_tracker"],
                                cwd=pcc.root, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while (build := watcher.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'COMMENT ON DATABASE%'").fetchone()) is None:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the build never reached its COMMENT"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        watcher.execute("SELECT pg_terminate_backend(%s)", (build[0],))
    with admin(pcc) as conn:
        left = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                            "WHERE datname = %s", (name,)).fetchall()
    assert left == [(None,)]  # what the kill left: the database, unmarked
    env_off = {"DEVENV_STANDBY": "0", "DEVENV_SPARES": "0"}
    result = pcc.ok("reset", "metric_tracker", env=env_off)
    assert "metric_tracker: restored from its template" in result.stdout, result.explain()
    clone = pcc.ok("db", "clone", "metric_tracker", "--json")
    pcc.ok("db", "drop", json.loads(clone.stdout)["database"])
    with admin(pcc) as conn:
        mark = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                            "WHERE datname = %s", (name,)).fetchone()
    assert mark is not None and str(mark[0]).endswith(":ready")


def test_a_hard_reset_beside_a_plain_one_waits_before_it_touches_the_pool(
        pcc: CopiedStack) -> None:
    """Issue 27, item 6: `reset --hard` paused the pool before taking the service's reset
    lock, so a plain reset beside it resumed the hard one's pause; the hard one then failed
    ("database ... is not paused") and left the database with no tables."""
    import os

    env = {**os.environ, "DEVENV_STANDBY": "0", "DEVENV_SPARES": "0"}
    env.pop("DEVENV_FILE", None)
    database = str(conninfo_to_dict(url_of(pcc, "task_builder"))["dbname"])
    command = [sys.executable, "-m", "devenv.cli", "reset", "task_builder"]
    with admin(pcc) as holder, admin(pcc) as watcher:
        holder.execute("SELECT pg_advisory_lock(hashtext('devenv:reset:task_builder'))")
        hard = subprocess.Popen([*command, "--hard"], cwd=pcc.root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while watcher.execute("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                              "AND NOT granted").fetchone() is None:
            assert hard.poll() is None, hard.communicate()
            assert time.monotonic() < deadline, "the hard reset never waited for the lock"
            time.sleep(0.05)
        assert _paused_entries(pcc) == []  # waiting, it has not touched the pool
        plain = subprocess.Popen(command, cwd=pcc.root, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        holder.execute("SELECT pg_advisory_unlock(hashtext('devenv:reset:task_builder'))")
        outcomes = [(p.wait(timeout=300), *p.communicate()) for p in (hard, plain)]
    for code, out, err in outcomes:
        assert code == 0, f"exit {code}\n{out}\n{err}"
    assert _paused_entries(pcc) == []
    with psycopg.connect(url_of(pcc, "task_builder", database)) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                              ).fetchone()
    assert tables is not None and int(str(tables[0])) > 0


def test_a_stopped_replica_keeps_bounded_wal_then_is_recloned(tmp_path: Path) -> None:
    """Issue 27, item 9: a stopped replica's slot kept WAL without bound (1.3 GB in 10 s of
    writes) and doctor only said "not running". The cap is max_slot_wal_keep_size; doctor
    says how much the slot keeps, then that it was let go, and `up` re-clones the replica."""
    import uuid

    from devenv.model.kinds.postgres import REPLICA_WAL_CAP

    project = f"t-walcap-{uuid.uuid4().hex[:10]}"
    (tmp_path / "devenv.yaml").write_text(
        f"project: {project}\n"
        "servers:\n  pg: {kind: postgres, port: auto, replicas: [{port: auto}]}\n"
        "services:\n  a: {postgres: true}\n")
    stack = CopiedStack(tmp_path, project)
    replica, slot = "pg-replica-1", "devenv_replica_1"

    def write_wal(megabytes: int) -> None:
        with admin_of(stack, "pg") as conn:
            conn.execute("SELECT pg_logical_emit_message(false, 'devenv-test', "
                         "repeat('x', 1048576)) FROM generate_series(1, %s)", (megabytes,))
            conn.execute("CHECKPOINT")

    def replica_check() -> dict[str, str]:
        checks = {c["name"]: c for c in json.loads(stack.devenv("doctor", "--json").stdout)}
        return dict(checks[f"replica {replica}"])

    try:
        stack.ok("up")
        with admin_of(stack, "pg") as conn:
            cap = conn.execute("SHOW max_slot_wal_keep_size").fetchone()
        assert cap == (REPLICA_WAL_CAP,)
        assert stack.compose("stop", replica).code == 0
        write_wal(64)
        check = replica_check()
        kept = check["detail"].split(f"its slot {slot} keeps ")[1].split(" MB")[0]
        assert 64 <= int(kept) < 512, check
        assert check["detail"] == (
            f"replica '{replica}' is not running (exited); its slot {slot} keeps {kept} MB of "
            f"WAL on 'pg', at most {REPLICA_WAL_CAP} (max_slot_wal_keep_size): past that the "
            "primary lets the slot go and `devenv up` re-clones the replica"), check
        write_wal(600)  # past the cap
        with admin_of(stack, "pg") as conn:
            status = conn.execute("SELECT wal_status FROM pg_replication_slots "
                                  "WHERE slot_name = %s", (slot,)).fetchone()
        assert status == ("lost",)
        lost = (f"replica '{replica}': more than {REPLICA_WAL_CAP} of WAL "
                "(max_slot_wal_keep_size) was written on 'pg' while it did not stream, so the "
                f"primary let its slot {slot} go and recycled that WAL: it cannot catch up")
        assert replica_check() == {
            "name": f"replica {replica}", "status": "fail", "detail": lost,
            "fix": "`devenv up` re-clones it from its primary (its own volume only; the "
                   "primary's data is never touched)"}
        result = stack.ok("up")
        assert f"warning: {lost}\n" in result.stderr, result.explain()
        assert (f"re-cloned replica '{replica}' (its slot was let go: more WAL than "
                "max_slot_wal_keep_size)") in result.stdout, result.explain()
        assert replica_check()["status"] == "ok"
    finally:
        stack.teardown()


def test_a_half_initialised_volume_is_finished_by_the_next_up(tmp_path: Path) -> None:
    """Issue 27, item 11: a first `up` with a bad setting ran initdb, then the image's
    entrypoint stopped before it allowed connections from outside the container; every later
    `up` waited its whole timeout on "no pg_hba.conf entry", and only `down --volumes` helped."""
    import uuid

    project = f"t-half-{uuid.uuid4().hex[:10]}"
    manifest = (f"project: {project}\n"
                "servers:\n  pg: {kind: postgres, port: auto, settings: {shared_buffers: 900TB}}\n"
                "services:\n  a: {postgres: true}\n")
    (tmp_path / "devenv.yaml").write_text(manifest)
    stack = CopiedStack(tmp_path, project)
    try:
        failed = stack.devenv("up", "--timeout", "120")
        assert failed.code == 1, failed.explain()
        assert "shared_buffers" in failed.stderr, failed.explain()
        (tmp_path / "devenv.yaml").write_text(manifest.replace(
            ", settings: {shared_buffers: 900TB}", ""))
        started = time.monotonic()
        result = stack.devenv("up", "--timeout", "60")
        assert result.code == 0, result.explain()
        assert time.monotonic() - started < 50, result.explain()
        assert ("warning: server 'pg': its data volume was half initialised (initdb ran, then "
                "the first start stopped before the image allowed connections from outside the "
                "container); finished it: added `host all all all scram-sha-256` to "
                "pg_hba.conf\n") in result.stderr, result.explain()
        with psycopg.connect(url_of(stack, "a"), connect_timeout=5) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("a",)
        assert "half initialised" not in stack.ok("down").stderr + stack.ok("up").stderr
    finally:
        stack.teardown()


def test_a_busy_script_of_one_service_is_named_and_killed(tmp_path: Path) -> None:
    """Issue 27, item 10: `EVAL "while true do end" 0` made Redis answer BUSY to every
    service; services cannot SCRIPT KILL, devenv had no command for it, and `up` waited its
    timeout and blamed a setting."""
    import hashlib
    import threading
    import uuid

    import redis as redis_lib

    project = f"t-busy-{uuid.uuid4().hex[:10]}"
    (tmp_path / "devenv.yaml").write_text(
        f"project: {project}\n"
        "servers:\n  cache: {kind: redis, port: auto}\n"
        "services:\n  a: {redis: true}\n  b: {redis: true}\n")
    stack = CopiedStack(tmp_path, project)
    spin = "while true do end"
    sha = hashlib.sha1(spin.encode()).hexdigest()
    busy = (f"server 'cache' is busy running a Lua EVAL script {sha}: it answers BUSY to every "
            "client, every service included, until the script ends or is killed")
    hint = "`devenv redis kill-script cache` ends it (SCRIPT KILL as the admin)"
    try:
        stack.ok("up")
        a = redis_lib.Redis.from_url(stack.env("a")["REDIS_URL"], socket_timeout=120)
        b = redis_lib.Redis.from_url(stack.env("b")["REDIS_URL"], socket_timeout=5)
        ended: list[BaseException] = []

        def run() -> None:
            try:
                a.eval(spin, 0)
            except redis_lib.RedisError as exc:
                ended.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while True:  # the attack works: b is answered BUSY, and may not kill it
            try:
                b.set("b:x", "1")
            except redis_lib.ResponseError as exc:
                assert str(exc).startswith("BUSY"), exc
                break
            assert time.monotonic() < deadline, "the script never made the server busy"
            time.sleep(0.2)
        with pytest.raises(redis_lib.exceptions.NoPermissionError):
            b.script_kill()
        doctor = stack.devenv("doctor")
        assert doctor.code == 1, doctor.explain()
        assert f"FAIL  redis scripts: {busy}\n      fix: {hint}\n" in doctor.stdout, \
            doctor.explain()
        with (tmp_path / "devenv.yaml").open("a") as manifest:
            manifest.write("# changed: the next up takes the cold path\n")
        started = time.monotonic()
        up = stack.devenv("up", "--timeout", "60")
        assert time.monotonic() - started < 30, up.explain()
        assert up.code == 1, up.explain()
        assert up.stderr.endswith(f"error: {busy}\nhint: {hint}\n"), up.explain()
        killed = stack.ok("redis", "kill-script")
        assert killed.stdout == f"cache: killed the Lua EVAL script {sha} (SCRIPT KILL)\n"
        thread.join(timeout=10)
        assert ended and "killed" in str(ended[0]), ended
        assert b.set("b:x", "1") is True
        assert stack.ok("redis", "kill-script", "cache").stdout == "cache: no script running\n"
        stack.ok("up")
        assert "ok    redis scripts: no script keeps a server busy" in stack.devenv(
            "doctor").stdout
        a.close()
        b.close()
    finally:
        stack.teardown()


def _standby_pid(stack: CopiedStack) -> int:
    """The pid of the stack's reset standby, once it listens (started by a reset)."""
    from devenv.data.standby import socket_path

    deadline = time.monotonic() + 90
    while not socket_path(stack.manifest).exists():
        assert time.monotonic() < deadline, "no standby listened"
        time.sleep(0.2)
    manifest = str(stack.manifest.resolve())
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"devenv.data.standbyd" in argv and manifest.encode() in argv:
            return int(proc.name)
    raise AssertionError("the standby's process was not found")


def test_a_waiting_or_frozen_standby_holds_no_other_reset(pcc: CopiedStack) -> None:
    """Issue 27, item 7: the resident reset process served one reset at a time, so a reset of
    one service that waited (a lock, a long template build) held every other service's, and
    a frozen one made the CLI wait 600 s in silence; a reader could lock inside a template
    being built."""
    import os
    import signal

    env = {**os.environ}
    env.pop("DEVENV_FILE", None)
    pcc.ok("reset", "client")  # starts the standby
    pid = _standby_pid(pcc)
    with admin(pcc) as holder, admin(pcc) as watcher:
        holder.execute("SELECT pg_advisory_lock(hashtext('devenv:reset:user'))")
        held = subprocess.Popen([sys.executable, "-m", "devenv.cli", "reset", "user"],
                                cwd=pcc.root, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while watcher.execute("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                              "AND NOT granted").fetchone() is None:
            assert held.poll() is None, held.communicate()
            assert time.monotonic() < deadline, "the reset of user never waited"
            time.sleep(0.1)
        started = time.monotonic()
        other = pcc.devenv("reset", "task_builder")
        assert time.monotonic() - started < 20, other.explain()
        assert other.code == 0, other.explain()
        assert "task_builder: restored from its template" in other.stdout
        assert "standby" not in other.stderr, other.explain()  # served by it, beside user's
        holder.execute("SELECT pg_advisory_unlock(hashtext('devenv:reset:user'))")
        code, out, err = held.wait(timeout=120), *held.communicate()
        assert code == 0, f"{out}\n{err}"
    ctx = attach(load_stack(pcc.manifest), Console(quiet=True))
    from devenv.data import golden

    template = golden.template_name(ctx.stack.services["user"],
                                    golden.template_hash(ctx, ctx.stack.services["user"]))
    reader = ctx.stack.services["auth"].role  # auth reads user
    with admin(pcc) as conn:
        enters = conn.execute("SELECT has_database_privilege(%s, %s, 'CONNECT')",
                              (reader, template)).fetchone()
    assert enters == (False,)
    os.kill(pid, signal.SIGSTOP)  # frozen: accepts connections (the backlog), answers none
    try:
        started = time.monotonic()
        frozen = pcc.devenv("reset", "task_builder")
        assert time.monotonic() - started < 20, frozen.explain()
        assert frozen.code == 0, frozen.explain()
        assert "task_builder: restored from its template" in frozen.stdout
        assert ("did not take the request within 2 s (stopped or stuck): resetting in this "
                "process\n") in frozen.stderr, frozen.explain()
    finally:
        os.kill(pid, signal.SIGCONT)
    log = pcc.root / ".devenv" / "spares.log"
    deadline = time.monotonic() + 30
    while "refused a request older than its client waits for" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.2)
