"""`devenv reset` end to end: one service's data back to its migrated and seeded state, alone.

A copy of the capsule stack (plus a `web` service with neither database nor Redis) lives for
the whole module; a copy of pcc checks that `reads` survive a reset of the read database. The
tests run in file order on one worker: later ones build on the template earlier ones made.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from devenv.console import Console
from devenv.engine.context import Context, attach
from devenv.model.resolve import load_stack
from tests.integration.stacks import CAPSULE, PCC, CopiedStack, copied

pytestmark = pytest.mark.xdist_group("test_reset")

SEEDED = "developer"  # a row of seeds/auth/01_roles.csv


def _add_web(manifest: dict[str, Any]) -> None:
    manifest["services"]["web"] = {"postgres": False, "redis": False,
                                   "env": {"GREETING": "hello"}}


def connect(url: str, **kwargs: Any) -> psycopg.Connection[tuple[Any, ...]]:
    # prepare_threshold=None: PgBouncer in transaction mode and server-side prepared statements.
    return psycopg.connect(url, autocommit=True, connect_timeout=10, prepare_threshold=None,
                           **kwargs)


def one(url: str, query: str, params: tuple[Any, ...] = ()) -> Any:
    with connect(url) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def context(stack: CopiedStack) -> Context:
    return attach(load_stack(stack.manifest), Console(quiet=True))


def admin_url(stack: CopiedStack, service: str, database: str = "postgres") -> str:
    ctx = context(stack)
    svc = ctx.stack.services[service]
    assert svc.server is not None
    return ctx.admin_url(ctx.stack.servers[svc.server], database)


def row_counts(url: str) -> dict[str, int]:
    """Rows of every table (the ledgers included) in the database behind `url`."""
    with connect(url) as conn:
        tables = [str(r[0]) for r in conn.execute(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
            "AND schemaname NOT LIKE '\\_timescaledb%' ORDER BY 1")]
        return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
                for t in tables}


def templates(stack: CopiedStack, service: str) -> list[str]:
    with connect(admin_url(stack, service)) as conn:
        return sorted(str(r[0]) for r in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            ("%\\_tpl\\_%",)))


def no_traceback(text: str) -> None:
    assert "Traceback" not in text, text


@pytest.fixture(scope="module")
def cap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    with copied(CAPSULE, tmp_path_factory.mktemp("capsule"), prefix="t-reset",
                edit=_add_web) as stack:
        stack.ok("up")
        yield stack


@pytest.fixture(scope="module")
def after_up(cap: CopiedStack) -> dict[str, dict[str, int]]:
    """Row counts of auth and monitor right after `up`, before any test wrote anything."""
    return {s: row_counts(cap.env(s)["DATABASE_DIRECT_URL"]) for s in ("auth", "monitor")}


# -- one service back, the others untouched ----------------------------------------------------
def test_reset_auth_restores_seeds_and_leaves_billing_alone(
        cap: CopiedStack, after_up: dict[str, dict[str, int]]) -> None:
    auth, billing = cap.env("auth"), cap.env("billing")
    with connect(auth["DATABASE_DIRECT_URL"]) as conn:
        conn.execute("INSERT INTO roles (name, description) VALUES ('zz_mine', 'test row')")
        conn.execute("DELETE FROM role_permissions WHERE role_id = "
                     "(SELECT id FROM roles WHERE name = %s)", (SEEDED,))
    with connect(billing["DATABASE_DIRECT_URL"]) as conn:
        conn.execute("INSERT INTO currencies (code, name, symbol, minor_units, active) "
                     "VALUES ('XTS', 'Testing', 'T', 2, true)")
    auth_redis = redis.Redis.from_url(auth["REDIS_URL"])
    billing_redis = redis.Redis.from_url(billing["REDIS_URL"])
    for i in range(30):
        auth_redis.set(f"auth:session:{i}", "x")
    billing_redis.set("billing:invoice:1", "kept")
    assert row_counts(auth["DATABASE_DIRECT_URL"]) != after_up["auth"]

    held_direct = connect(auth["DATABASE_DIRECT_URL"])
    held_pooled = connect(auth["DATABASE_URL"])
    held_billing = connect(billing["DATABASE_URL"])  # through the same PgBouncer
    held_pooled.execute("SELECT 1")
    held_billing.execute("SELECT 1")
    try:
        result = cap.devenv("reset", "auth")
        assert result.code == 0, result.explain()
        no_traceback(result.stderr)
        assert "auth" in result.stdout

        # Billing's open connection (same PgBouncer) never noticed.
        assert held_billing.execute("SELECT count(*) FROM currencies WHERE code = 'XTS'"
                                    ).fetchone() == (1,)
        # Auth's app reconnects through PgBouncer and sees the seeded state.
        with connect(auth["DATABASE_URL"]) as again:
            assert again.execute("SELECT count(*) FROM roles WHERE name = 'zz_mine'"
                                 ).fetchone() == (0,)
    finally:
        for conn in (held_direct, held_pooled, held_billing):
            conn.close()

    assert row_counts(auth["DATABASE_DIRECT_URL"]) == after_up["auth"]
    assert one(auth["DATABASE_DIRECT_URL"], "SELECT count(*) FROM role_permissions rp JOIN "
               "roles r ON r.id = rp.role_id WHERE r.name = %s", (SEEDED,)) > 0
    assert one(billing["DATABASE_DIRECT_URL"],
               "SELECT count(*) FROM currencies WHERE code = 'XTS'") == 1
    assert list(auth_redis.scan_iter(match="auth:*")) == []
    assert billing_redis.get("billing:invoice:1") == b"kept"
    auth_redis.close()
    billing_redis.close()


def test_pooled_connection_held_across_reset_can_reconnect(cap: CopiedStack) -> None:
    """An app's pool: its old connection may fail once, a new one through PgBouncer works."""
    url = cap.env("auth")["DATABASE_URL"]
    held = connect(url)
    held.execute("SELECT 1")
    cap.ok("reset", "auth")
    try:
        held.execute("SELECT count(*) FROM roles").fetchone()
    except psycopg.OperationalError:
        pass  # KILL closed it: the pool throws it away and opens another
    finally:
        held.close()
    for _ in range(3):  # and keeps working
        assert one(url, "SELECT count(*) FROM roles WHERE name = %s", (SEEDED,)) == 1


def test_reset_database_is_owned_by_the_service_and_closed_to_public(cap: CopiedStack) -> None:
    cap.ok("reset", "auth")
    ctx = context(cap)
    svc = ctx.stack.services["auth"]
    with connect(admin_url(cap, "auth")) as conn:
        owner, public = conn.execute(
            "SELECT pg_get_userbyid(datdba), has_database_privilege('public', datname, "
            "'CONNECT') FROM pg_database WHERE datname = %s", (svc.database,)).fetchone()  # type: ignore[misc]
    assert owner == svc.role
    assert public is False
    assert one(cap.env("auth")["DATABASE_DIRECT_URL"], "SELECT current_user") == svc.role


def test_edited_migration_rebuilds_template_and_reset_reflects_it(cap: CopiedStack) -> None:
    cap.ok("reset", "auth")  # a template exists
    before = templates(cap, "auth")
    assert len(before) == 1, before
    last = sorted((cap.root / "migrations" / "auth").glob("V*.sql"),
                  key=lambda p: [int(x) for x in p.name[1:].split("__")[0].split(".")])[-1]
    assert last.name.startswith("V1.24.0"), last
    last.write_text(last.read_text() + "\nCOMMENT ON VIEW user_effective_permissions IS "
                    "'edited by test_reset';\n")
    result = cap.devenv("reset", "auth")
    assert result.code == 0, result.explain()
    after = templates(cap, "auth")
    assert len(after) == 1 and after != before, (before, after)
    assert one(cap.env("auth")["DATABASE_DIRECT_URL"],
               "SELECT obj_description('user_effective_permissions'::regclass, 'pg_class')"
               ) == "edited by test_reset"
    assert one(cap.env("auth")["DATABASE_DIRECT_URL"],
               "SELECT count(*) FROM roles WHERE name = %s", (SEEDED,)) == 1


def test_reset_hard_rebuilds_from_files(cap: CopiedStack,
                                        after_up: dict[str, dict[str, int]]) -> None:
    auth = cap.env("auth")
    with connect(auth["DATABASE_DIRECT_URL"]) as conn:
        conn.execute("INSERT INTO roles (name) VALUES ('zz_hard')")
    redis.Redis.from_url(auth["REDIS_URL"]).set("auth:hard", "1")
    result = cap.devenv("reset", "auth", "--hard")
    assert result.code == 0, result.explain()
    no_traceback(result.stderr)
    assert one(auth["DATABASE_DIRECT_URL"],
               "SELECT count(*) FROM roles WHERE name = 'zz_hard'") == 0
    assert row_counts(auth["DATABASE_DIRECT_URL"]) == after_up["auth"]
    assert redis.Redis.from_url(auth["REDIS_URL"]).get("auth:hard") is None
    with connect(admin_url(cap, "auth")) as conn:
        owner, public = conn.execute(
            "SELECT pg_get_userbyid(datdba), has_database_privilege('public', datname, "
            "'CONNECT') FROM pg_database WHERE datname = %s", (auth["PGDATABASE"],)
        ).fetchone()  # type: ignore[misc]
    assert (owner, public) == (auth["PGUSER"], False)


def test_reset_monitor_keeps_its_hypertable(cap: CopiedStack,
                                            after_up: dict[str, dict[str, int]]) -> None:
    url = cap.env("monitor")["DATABASE_DIRECT_URL"]
    with connect(url) as conn:
        conn.execute("INSERT INTO metrics (time, service, name, value) "
                     "VALUES (now(), 'test', 'zz_reset', 1)")
    result = cap.devenv("reset", "monitor")
    assert result.code == 0, result.explain()
    assert one(url, "SELECT count(*) FROM metrics WHERE name = 'zz_reset'") == 0
    assert one(url, "SELECT count(*) FROM timescaledb_information.hypertables "
               "WHERE hypertable_name = 'metrics'") == 1
    assert row_counts(url) == after_up["monitor"]
    # Twice in a row: the scheduler must not block cloning from the template.
    assert cap.devenv("reset", "monitor").code == 0
    with connect(url) as conn:
        conn.execute("INSERT INTO metrics (time, service, name, value) "
                     "VALUES (now(), 'test', 'after', 2)")


def _without_web(stack: CopiedStack) -> dict[str, Any]:
    data = stack.read_manifest()
    reduced = dict(data, services={k: v for k, v in data["services"].items() if k != "web"})
    stack.write_manifest(reduced)
    return data


def test_reset_all(cap: CopiedStack) -> None:
    envs = {s: cap.env(s) for s in ("auth", "billing", "deploy")}
    with connect(envs["billing"]["DATABASE_DIRECT_URL"]) as conn:
        conn.execute("DELETE FROM currencies WHERE code = 'XTS'")
        conn.execute("INSERT INTO currencies (code, name, symbol, minor_units, active) "
                     "VALUES ('XTA', 'All', 'A', 2, true)")
    redis.Redis.from_url(envs["deploy"]["REDIS_URL"]).set("deploy:x", "1")
    original = _without_web(cap)  # --all with `web` is the next test
    try:
        result = cap.devenv("reset", "--all")
    finally:
        cap.write_manifest(original)
    assert result.code == 0, result.explain()
    no_traceback(result.stderr)
    for name in ("auth", "billing", "deploy", "monitor"):
        assert f"{name}: restored from its template" in result.stdout
    assert one(envs["billing"]["DATABASE_DIRECT_URL"],
               "SELECT count(*) FROM currencies WHERE code = 'XTA'") == 0
    assert redis.Redis.from_url(envs["deploy"]["REDIS_URL"]).get("deploy:x") is None


def test_reset_all_skips_services_without_data(cap: CopiedStack) -> None:
    result = cap.devenv("reset", "--all")
    assert result.code == 0, result.explain()
    assert "web" not in result.stdout


def test_reset_checks_every_named_service_before_touching_any(cap: CopiedStack) -> None:
    url = cap.env("auth")["DATABASE_DIRECT_URL"]
    with connect(url) as conn:
        conn.execute("INSERT INTO roles (name) VALUES ('zz_untouched')")
    try:
        result = cap.devenv("reset", "auth", "web")
        assert result.code == 1, result.explain()
        assert "nothing to reset" in result.stderr
        assert one(url, "SELECT count(*) FROM roles WHERE name = 'zz_untouched'") == 1
    finally:
        cap.ok("reset", "auth")


def test_reset_unknown_service_is_a_clear_error(cap: CopiedStack) -> None:
    result = cap.devenv("reset", "nosuch")
    assert result.code == 1, result.explain()
    no_traceback(result.stdout + result.stderr)
    assert "nosuch" in result.stdout + result.stderr


def test_reset_service_without_data_is_a_clear_error(cap: CopiedStack) -> None:
    result = cap.devenv("reset", "web")
    assert result.code == 1, result.explain()
    no_traceback(result.stdout + result.stderr)
    assert "web" in result.stdout + result.stderr
    assert "nothing to reset" in result.stdout + result.stderr


def test_reset_without_names_is_a_clear_error(cap: CopiedStack) -> None:
    result = cap.devenv("reset")
    assert result.code == 2, result.explain()
    assert result.stderr.endswith("Error: name the services to reset, or pass --all\n")
    no_traceback(result.stdout + result.stderr)


# -- Redis keys: SCAN + UNLINK under the service's prefix only ---------------------------------
def redis_admin(stack: CopiedStack, service: str) -> str:
    ctx = context(stack)
    server = ctx.stack.services[service].redis
    assert server is not None
    return ctx.redis_admin_url(ctx.stack.servers[server])


def test_unlink_prefix_removes_only_the_prefix(cap: CopiedStack) -> None:
    from devenv.data import keys

    url = redis_admin(cap, "auth")
    client = redis.Redis.from_url(url)
    prefix = "kf[1]*:"  # glob characters are matched literally
    kept = ["kf[1]x", "kf1:x", "auth:other"]
    client.mset({**{f"{prefix}{i}": i for i in range(1200)}, **dict.fromkeys(kept, "k")})
    try:
        assert keys.unlink_prefix_at(url, prefix) == 1200  # more than one UNLINK batch
        assert keys.unlink_prefix_at(url, prefix) == 0
        # SCAN may return a key twice (while Redis resizes its table): compare sets.
        assert set(client.scan_iter(match="kf*")) == {k.encode() for k in kept[:2]}
        assert client.get("auth:other") == b"k"
    finally:
        client.delete(*kept, *(f"{prefix}{i}" for i in range(1200)))
        client.close()


def test_reset_reports_an_unreachable_redis_in_one_line(cap: CopiedStack) -> None:
    from dataclasses import replace

    from devenv.data import reset
    from devenv.errors import DevenvError

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctx = context(cap)
    server = ctx.stack.servers[str(ctx.stack.services["auth"].redis)]
    servers = {**ctx.stack.servers, server.name: replace(server, port=port)}
    ctx = replace(ctx, stack=replace(ctx.stack, servers=servers))
    with pytest.raises(DevenvError) as failed:
        reset._unlink_keys(ctx, ctx.stack.services["auth"])
    message = failed.value.message
    assert failed.value.hint == ("is the stack up? `devenv status` shows it, `devenv up` "
                                 "starts it")
    assert message.startswith("cannot clear Redis keys of 'auth' (") and "\n" not in message
    assert str(port) in message, message


# -- spares: the next reset's copy, made in the background ------------------------------------
def spare(stack: CopiedStack, service: str, *, wait: float = 60) -> tuple[str, int, bool, str]:
    """(name, oid, allows connections, owner) of the service's ready spare, once it exists."""
    from devenv.data import golden, spares

    ctx = context(stack)
    svc = ctx.stack.services[service]
    deadline = time.monotonic() + wait
    with connect(admin_url(stack, service)) as conn:
        template = golden.ready_template(conn, ctx, svc)
        assert template is not None, "no template yet: reset the service first"
        name = spares.spare_name(svc, template)
        while True:
            row = conn.execute(
                "SELECT oid, datallowconn, pg_get_userbyid(datdba), "
                "shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                (name,)).fetchone()
            if row is not None and row[3] == f"devenv:spare:{service}:{template[-12:]}":
                return name, int(row[0]), bool(row[1]), str(row[2])
            assert time.monotonic() < deadline, (
                f"no spare {name} after {wait} s; spares.log:\n"
                + (stack.root / ".devenv" / "spares.log").read_text())
            time.sleep(0.2)


def database_row(stack: CopiedStack, service: str) -> tuple[int, bool, str, Any]:
    """(oid, allows connections, owner, comment) of the service's database."""
    ctx = context(stack)
    with connect(admin_url(stack, service)) as conn:
        row = conn.execute(
            "SELECT oid, datallowconn, pg_get_userbyid(datdba), "
            "shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (ctx.stack.services[service].database,)).fetchone()
    assert row is not None
    return int(row[0]), bool(row[1]), str(row[2]), row[3]


def test_reset_swaps_in_the_spare_the_previous_reset_made(cap: CopiedStack) -> None:
    cap.ok("reset", "auth")
    name, oid, allows, owner = spare(cap, "auth")
    role = context(cap).stack.services["auth"].role
    # Closed (TimescaleDB's scheduler must not join it), owned like the real database.
    assert (allows, owner) == (False, role)
    log = cap.root / ".devenv" / "spares.log"
    assert log.stat().st_mode & 0o777 == 0o600
    assert "auth: spare ready" in log.read_text()

    auth = cap.env("auth")
    with connect(auth["DATABASE_DIRECT_URL"]) as conn:
        conn.execute("INSERT INTO roles (name) VALUES ('zz_spare')")
    result = cap.devenv("reset", "auth")
    assert result.code == 0, result.explain()
    # The spare became auth's database: same oid, open, owned by auth, no devenv comment.
    assert database_row(cap, "auth") == (oid, True, role, None)
    assert one(auth["DATABASE_DIRECT_URL"],
               "SELECT count(*) FROM roles WHERE name = 'zz_spare'") == 0
    assert one(auth["DATABASE_DIRECT_URL"],
               "SELECT count(*) FROM roles WHERE name = %s", (SEEDED,)) == 1
    with connect(admin_url(cap, "auth")) as conn:
        assert conn.execute("SELECT has_database_privilege('public', %s, 'CONNECT')",
                            (auth["PGDATABASE"],)).fetchone() == (False,)
    assert one(auth["DATABASE_URL"], "SELECT current_user") == role  # through PgBouncer
    # And the next spare is made again, a new database.
    again = spare(cap, "auth")
    assert again[0] == name and again[1] != oid


def test_reset_of_a_timescaledb_service_uses_its_spare_too(cap: CopiedStack) -> None:
    cap.ok("reset", "monitor")
    _, oid, allows, _ = spare(cap, "monitor")
    assert allows is False
    cap.ok("reset", "monitor")
    assert database_row(cap, "monitor")[:2] == (oid, True)
    assert one(cap.env("monitor")["DATABASE_DIRECT_URL"],
               "SELECT count(*) FROM timescaledb_information.hypertables") > 0


def test_a_reset_during_a_refill_waits_for_its_spare(cap: CopiedStack) -> None:
    from devenv.data import golden, reset, spares

    cap.ok("reset", "auth")
    spare(cap, "auth")  # that reset's refill is done
    ctx = context(cap)
    svc = ctx.stack.services["auth"]
    with connect(admin_url(cap, "auth")) as conn:
        conn.execute(f'DROP DATABASE "{spares.spare_name(svc, golden.ensure_template(ctx, svc))}"')
        spares.refill_in_background(ctx.stack, [svc])
        deadline = time.monotonic() + 30
        while conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                           "AND objid::int = hashtext('devenv:spare:auth')").fetchone() == (0,):
            assert time.monotonic() < deadline, "the refill never took its lock"
            time.sleep(0.01)
    assert reset.reset_database(ctx, svc) is True  # it waited and took the refill's spare


def billing_spares(stack: CopiedStack) -> list[str]:
    with connect(admin_url(stack, "billing")) as conn:
        return [str(r[0]) for r in conn.execute(
            "SELECT datname FROM pg_database WHERE "
            "shobj_description(oid, 'pg_database') LIKE 'devenv:spare:billing:%'")]


def test_spares_can_be_turned_off(cap: CopiedStack) -> None:
    cap.ok("reset", "billing")
    name = spare(cap, "billing")[0]  # the refill this reset started has finished
    wait_for("no standby", standby_socket(cap).exists, cap)
    with connect(admin_url(cap, "billing")) as conn:
        conn.execute(f'DROP DATABASE "{name}"')
    served = log_text(cap).count("standby: reset billing (")
    skipped = log_text(cap).count("standby: no refill of billing (DEVENV_SPARES is off)")
    cap.ok("reset", "billing", env={"DEVENV_SPARES": "0"})
    # The standby ran it, in the CLI's environment: it made no spare either.
    assert log_text(cap).count("standby: reset billing (") == served + 1
    wait_for("the served reset's decision about its refill", lambda: log_text(cap).count(
        "standby: no refill of billing (DEVENV_SPARES is off)") > skipped, cap)
    assert billing_spares(cap) == []


def test_a_database_named_like_a_spare_but_not_made_by_devenv_is_never_touched(
        cap: CopiedStack) -> None:
    from devenv.data import golden, spares

    cap.ok("reset", "billing", env={"DEVENV_SPARES": "0"})  # the template, no spare
    ctx = context(cap)
    svc = ctx.stack.services["billing"]
    with connect(admin_url(cap, "billing")) as conn:
        template = golden.ready_template(conn, ctx, svc)
        assert template is not None
        name = spares.spare_name(svc, template)
        conn.execute(f'CREATE DATABASE "{name}"')  # the admin's, with a comment of its own
        conn.execute(f"COMMENT ON DATABASE \"{name}\" IS 'a colleague''s copy'")
        oid = conn.execute("SELECT oid FROM pg_database WHERE datname = %s",
                           (name,)).fetchone()
    try:
        left_out = "billing: spare left out: a database of that name is not devenv's"
        for n in (1, 2):  # no spare to take; each reset's refill must leave it alone
            cap.ok("reset", "billing")
            wait_for(f"refill {n} to decide", lambda n=n: log_text(cap).count(left_out) >= n,
                     cap)
        with connect(admin_url(cap, "billing")) as conn:
            assert conn.execute("SELECT oid FROM pg_database WHERE datname = %s",
                                (name,)).fetchone() == oid
        assert "billing: no spare" not in (cap.root / ".devenv" / "spares.log").read_text()
        assert one(cap.env("billing")["DATABASE_DIRECT_URL"],
                   "SELECT count(*) FROM currencies") > 0
    finally:
        with connect(admin_url(cap, "billing")) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


# -- the standby: the previous reset's process runs the next one -------------------------------
def log_text(stack: CopiedStack) -> str:
    return (stack.root / ".devenv" / "spares.log").read_text()


def wait_for(what: str, check: Callable[[], bool], stack: CopiedStack, wait: float = 30) -> None:
    deadline = time.monotonic() + wait
    while not check():
        assert time.monotonic() < deadline, f"{what} after {wait} s; spares.log:\n" + log_text(
            stack)
        time.sleep(0.05)


def standby_socket(stack: CopiedStack) -> Path:
    return stack.root / ".devenv" / "standby.sock"


def fresh_standby(stack: CopiedStack) -> None:
    """Stop whatever standby there is; one reset in process starts the next."""
    from devenv.data import standby

    standby.stop(stack.manifest)
    wait_for("the standby still listens", lambda: not standby_socket(stack).exists(), stack)
    stack.ok("reset", "auth")
    wait_for("no standby", standby_socket(stack).exists, stack)


def test_the_next_reset_is_run_by_the_previous_resets_standby(cap: CopiedStack) -> None:
    fresh_standby(cap)
    assert stat.S_IMODE(standby_socket(cap).stat().st_mode) == 0o600
    served = log_text(cap).count("standby: reset auth (")
    auth = cap.env("auth")
    with connect(auth["DATABASE_DIRECT_URL"]) as conn:
        conn.execute("INSERT INTO roles (name, description) VALUES ('zz_standby', 'test row')")
    result = cap.ok("reset", "auth")
    assert result.stdout.startswith("auth: restored from its template, 0 Redis key(s) removed (")
    assert log_text(cap).count("standby: reset auth (") == served + 1
    assert one(auth["DATABASE_DIRECT_URL"],
               "SELECT count(*) FROM roles WHERE name = 'zz_standby'") == 0


def test_an_error_from_the_standby_reads_as_the_clis_own(cap: CopiedStack) -> None:
    wait_for("no standby", standby_socket(cap).exists, cap)

    def run(env: dict[str, str]) -> tuple[int, str, str]:
        """From a subfolder, so the manifest's path in the message is the shell's."""
        done = subprocess.run(
            [sys.executable, "-m", "devenv.cli", "-f", "../devenv.yaml", "reset", "auth",
             "nosuch"], cwd=cap.root / "migrations", capture_output=True, text=True,
            env={k: v for k, v in os.environ.items() if k != "DEVENV_FILE"} | env, check=False)
        return done.returncode, done.stdout, done.stderr

    served = run({})
    assert "standby: reset auth nosuch failed: no service named 'nosuch'" in log_text(cap)
    assert served == run({"DEVENV_STANDBY": "0"})
    assert served[0] == 1
    assert served[2].startswith("error: no service named 'nosuch' in devenv.yaml"), served


def test_a_standby_with_other_code_exits_and_the_cli_resets(
        cap: CopiedStack, tmp_path: Path) -> None:
    import devenv

    fresh_standby(cap)
    auth = cap.env("auth")
    with connect(auth["DATABASE_DIRECT_URL"]) as conn:
        conn.execute("INSERT INTO roles (name, description) VALUES ('zz_stale', 'test row')")
    # Another devenv: the same code in another folder (another checkout or install).
    shutil.copytree(Path(devenv.__file__).parent, tmp_path / "devenv",
                    ignore=shutil.ignore_patterns("__pycache__"))
    result = cap.ok("reset", "auth", env={"PYTHONPATH": str(tmp_path)})
    assert "auth: restored from its template" in result.stdout
    assert "standby: exits (devenv's code changed)" in log_text(cap)
    assert one(auth["DATABASE_DIRECT_URL"],
               "SELECT count(*) FROM roles WHERE name = 'zz_stale'") == 0
    # That reset's own refill stands by next; removing its socket ends it too.
    wait_for("no new standby", standby_socket(cap).exists, cap)
    standby_socket(cap).unlink()
    wait_for("the standby outlived its socket",
             lambda: "standby: exits (.devenv/standby.sock was removed)" in log_text(cap), cap)


# -- pcc: `reads` survive a reset of the read database ---------------------------------------
@pytest.fixture(scope="module")
def pcc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedStack]:
    with copied(PCC, tmp_path_factory.mktemp("pcc"), prefix="t-reset-pcc") as stack:
        stack.ok("up")
        yield stack


def test_reads_survive_reset_of_the_read_database(pcc: CopiedStack) -> None:
    user = pcc.env("user")
    with connect(user["DATABASE_DIRECT_URL"]) as conn:
        conn.execute("DELETE FROM user_preferences")
        conn.execute("DELETE FROM user_profiles")
    result = pcc.devenv("reset", "user")
    assert result.code == 0, result.explain()
    url = pcc.env("auth")["USER_DATABASE_URL"]
    assert one(url, "SELECT count(*) FROM user_profiles") > 0
    with connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("INSERT INTO user_profiles (user_id, email, first_name, last_name) "
                     "VALUES (gen_random_uuid(), 'x@example.com', 'x', 'y')")
    # The reset database is still closed to PUBLIC and to services that do not read it.
    with connect(admin_url(pcc, "user")) as conn:
        public = conn.execute("SELECT has_database_privilege('public', %s, 'CONNECT')",
                              (user["PGDATABASE"],)).fetchone()
    assert public == (False,)
    with pytest.raises(psycopg.OperationalError):
        connect(pcc.env("client")["DATABASE_DIRECT_URL"].rsplit("/", 1)[0] + "/"
                + user["PGDATABASE"]).close()
    # Migrations still run against it afterwards (the migration role can connect).
    result = pcc.devenv("migrate", "user")
    assert result.code == 0, result.explain()


def test_reset_names_the_sessions_it_ends_on_the_database(pcc: CopiedStack) -> None:
    """Dropping user's database ends a reader's session and a person's psql too: say so."""
    reader = connect(pcc.env("auth")["USER_DATABASE_URL"])
    admin = pcc.ok("env", "--role", "admin", "user", "--show-secrets", "--json").stdout
    person = connect(json.loads(admin)["DATABASE_URL"], application_name="psql")
    try:
        result = pcc.ok("reset", "user")
        lines = result.stdout.splitlines()
        assert lines[0].startswith("user: restored from its template"), result.explain()
        assert lines[1] == ("  closed 2 session(s) on user_db_devtest: auth (reads user), "
                            "psql"), result.explain()
        with pytest.raises(psycopg.OperationalError, match="terminating connection"):
            reader.execute("SELECT 1")
    finally:
        reader.close()
        person.close()
    quiet = pcc.ok("reset", "user")  # nobody connected: no such line
    assert "session" not in quiet.stdout, quiet.explain()


def test_reads_survive_hard_reset(pcc: CopiedStack) -> None:
    result = pcc.devenv("reset", "user", "--hard")
    assert result.code == 0, result.explain()
    assert one(pcc.env("auth")["USER_DATABASE_URL"], "SELECT count(*) FROM user_profiles") > 0



def test_up_no_migrate_after_the_volume_was_recreated_provisions_again(cap: CopiedStack) -> None:
    """The warm path must notice a server whose volume was recreated (fixed in 2c335f7)."""
    cap.ok("up", "auth", "--no-migrate")  # records the fingerprint of `up auth`
    assert "up to date" in cap.ok("up", "auth", "--no-migrate").stdout  # the warm path
    ids = cap.containers()
    subprocess.run(["docker", "rm", "-f", "-v", ids["auth-db"]], check=True, capture_output=True)
    volumes = [v for v in cap.volumes() if "auth-db" in v]
    assert volumes
    subprocess.run(["docker", "volume", "rm", "-f", *volumes], check=True, capture_output=True)
    assert cap.compose("up", "-d", "--wait", "auth-db").code == 0
    try:
        result = cap.devenv("up", "auth", "--no-migrate")
        assert result.code == 0, result.explain()
        assert one(cap.env("auth")["DATABASE_DIRECT_URL"], "SELECT current_user") == "auth"
    finally:
        cap.devenv("up", "auth")  # provisions and migrates (the warm check fails with migrate)


def test_info_after_a_reset_labels_the_applied_column_for_what_it_is(cap: CopiedStack) -> None:
    """After a reset the ledger rows are the template's: the column says so, not APPLIED AT."""
    cap.ok("reset", "auth")
    result = cap.ok("info", "auth")
    header = result.stdout.splitlines()[0]
    assert header.split() == ["VERSION", "DESCRIPTION", "STATE", "APPLIED", "TO", "DATA",
                              "DURATION"], result.stdout
    assert "APPLIED AT" not in result.stdout
    assert result.stderr == ("APPLIED TO DATA: when the file ran into the data now in this "
                             "database; after `devenv reset` that is when the service's "
                             "template was built\n")


def test_down_stops_the_standby(cap: CopiedStack) -> None:
    """Last in the module: the stack is down afterwards."""
    cap.ok("reset", "auth")
    wait_for("no standby", standby_socket(cap).exists, cap)
    cap.ok("down")
    assert not standby_socket(cap).exists()
    assert "standby: exits (asked to stop)" in log_text(cap)
