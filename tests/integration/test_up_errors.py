"""`devenv up` when it cannot or should not start everything: exit 1, a message that names
what to change, a hint, and never a traceback. Also `devenv up <service>` starting only what
that service needs.

Only the last tests start containers (one capsule copy, `devenv up auth`); the port tests use
throwaway copies that fail before anything starts.
"""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.stacks import (
    CAPSULE,
    CopiedStack,
    Result,
    copied,
    free_ports,
)

pytestmark = pytest.mark.xdist_group("test_up_errors")

NO_DAEMON = "unix:///tmp/devenv-no-such.sock"


def assert_user_error(result: Result) -> list[str]:
    """Exit 1, an `error:` and a `hint:`, no traceback and nothing of a bug report."""
    assert result.code == 1, result.explain()
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert "a bug" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: "), result.stderr
    assert any(line.startswith("hint: ") for line in lines), result.stderr
    return lines


def with_port(stack: CopiedStack, server: str, port: int) -> None:
    data = stack.read_manifest()
    data["servers"][server]["port"] = port
    stack.write_manifest(data)
    stack.ports[server] = port


@pytest.fixture
def throwaway(tmp_path: Path) -> Iterator[CopiedStack]:
    with copied(CAPSULE, tmp_path / "capsule", prefix="t-errors-port") as stack:
        yield stack


# -- ports ------------------------------------------------------------------------------------
def test_port_taken_by_another_process(throwaway: CopiedStack) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with_port(throwaway, "billing-db", port)
        result = throwaway.devenv("up")
    lines = assert_user_error(result)
    assert lines[0] == (f"error: port {port} for server 'billing-db' is already in use by "
                        "another process")
    assert "`servers.billing-db.port`" in result.stderr and "devenv.yaml" in result.stderr
    assert throwaway.containers() == {}, "nothing may start when a port is taken"


@pytest.fixture
def foreign_redis() -> Iterator[tuple[str, str, int]]:
    """A container of another (devenv-labelled) project publishing a free port."""
    port = free_ports(1)[0]
    name = f"devenv-test-foreign-{uuid.uuid4().hex[:8]}"
    project = f"t-foreign-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--rm", "--name", name, "-p",
                    f"127.0.0.1:{port}:6379", "--label", f"dev.devenv.project={project}",
                    "--label", "dev.devenv.test=1", "redis:7"],
                   check=True, capture_output=True)
    try:
        yield name, project, port
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, check=False)


def test_port_published_by_a_container_of_another_project(
        throwaway: CopiedStack, foreign_redis: tuple[str, str, int]) -> None:
    name, project, port = foreign_redis
    with_port(throwaway, "redis", port)
    result = throwaway.devenv("up")
    lines = assert_user_error(result)
    assert lines[0] == (f"error: port {port} for server 'redis' is already in use by container "
                        f"{name} of project '{project}'")
    assert "`servers.redis.port`" in result.stderr and "devenv.yaml" in result.stderr
    assert throwaway.containers() == {}


def _time_wait_port() -> int:
    """A port nothing listens on, holding a TIME_WAIT socket from a server-side close.

    That is what a published port looks like after `devenv down` whenever the server (docker-
    proxy, PgBouncer) closed a client connection first. The listener sets SO_REUSEADDR as
    docker-proxy (Go) does, so Docker itself can publish the port again at once.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = int(srv.getsockname()[1])
        with socket.create_connection(("127.0.0.1", port)):
            conn, _ = srv.accept()
            conn.close()  # the server closes first: TIME_WAIT on 127.0.0.1:<port>
            time.sleep(0.1)
    return port


def _redis_only(manifest: dict[str, Any]) -> None:
    manifest["servers"] = {"redis": {"kind": "redis", "port": 1}}
    manifest["services"] = {"cache": {"redis": True}}


def test_a_port_in_time_wait_is_not_in_use(tmp_path: Path) -> None:
    """`devenv down && devenv up` at once: leftovers in TIME_WAIT are not a listener."""
    with copied(CAPSULE, tmp_path / "redis", prefix="t-errors-tw", edit=_redis_only) as stack:
        port = _time_wait_port()
        with_port(stack, "redis", port)
        result = stack.devenv("up")
        assert result.code == 0, result.explain()


# -- Docker not reachable ---------------------------------------------------------------------
def test_daemon_not_reachable(throwaway: CopiedStack) -> None:
    result = throwaway.devenv("up", env={"DOCKER_HOST": NO_DAEMON})
    lines = assert_user_error(result)
    assert len(lines) == 2, result.stderr  # one line of cause, one of hint
    assert lines[0].startswith("error: the Docker daemon is not running or not reachable")
    assert "/tmp/devenv-no-such.sock" in lines[0] or "No such file" in lines[0]
    assert lines[1].startswith("hint: start Docker")


def test_status_with_daemon_not_reachable(throwaway: CopiedStack) -> None:
    result = throwaway.devenv("status", env={"DOCKER_HOST": NO_DAEMON})
    lines = assert_user_error(result)
    assert len(lines) == 2, result.stderr


# -- service selection ------------------------------------------------------------------------
def test_unknown_service_lists_the_services(throwaway: CopiedStack) -> None:
    result = throwaway.devenv("up", "nosuch")
    assert result.code == 1, result.explain()
    assert "Traceback" not in result.stderr
    first = result.stderr.strip().splitlines()[0]
    assert first == ("error: no service named 'nosuch' in devenv.yaml "
                     "(services: auth, billing, deploy, monitor)")
    assert throwaway.containers() == {}


@pytest.fixture(scope="module")
def auth_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CopiedStack, Result]]:
    with copied(CAPSULE, tmp_path_factory.mktemp("capsule"), prefix="t-errors-auth") as stack:
        yield stack, stack.devenv("up", "auth")


def test_up_one_service_provisions_it_and_writes_only_its_env_file(
        auth_only: tuple[CopiedStack, Result]) -> None:
    stack, result = auth_only
    assert result.code == 0, result.explain()
    assert (stack.root / ".devenv" / "env" / "auth.env").exists()
    for other in ("billing", "deploy", "monitor"):
        assert not (stack.root / ".devenv" / "env" / f"{other}.env").exists()
    running = stack.containers()
    assert {"auth-db", "pgbouncer", "redis"} <= set(running), running
    assert "monitor-db" not in running


def test_up_one_service_starts_only_the_servers_it_needs(
        auth_only: tuple[CopiedStack, Result]) -> None:
    """Not billing-db/deploy-db: PgBouncer must not pull them in through compose depends_on."""
    stack, result = auth_only
    assert result.code == 0, result.explain()
    assert sorted(stack.containers()) == ["auth-db", "pgbouncer", "redis"]
