"""Host ports of servers and replicas: a kept port someone else holds stops `up` by name."""

from __future__ import annotations

import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv.engine.docker import ContainerState
from devenv.engine.ports import assign_auto, check_free
from devenv.errors import DevenvError
from devenv.model.manifest import parse
from devenv.model.resolve import resolve
from devenv.model.stack import Stack


def stack_of(port: int) -> Stack:
    manifest, located = parse(textwrap.dedent(f"""
        project: ports
        servers:
          db: {{kind: postgres, port: {port}, replicas: 2}}
        services:
          app: {{postgres: true}}
    """))
    return resolve(manifest, located, root=Path("/project"))


@pytest.fixture
def held() -> Iterator[int]:
    """A port another process listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_replica_port_is_chosen_once_and_kept() -> None:
    stack = stack_of(free_port())
    first = assign_auto(stack, {})
    assert set(first) == {"db-replica-1", "db-replica-2"}
    assert assign_auto(stack, first) == first


def test_a_kept_replica_port_held_by_another_process_is_refused_by_name(held: int) -> None:
    stack = stack_of(free_port())
    ports = {"db-replica-1": free_port(), "db-replica-2": held}
    with pytest.raises(DevenvError) as caught:
        check_free(stack, [stack.servers["db"]], ports, {}, [])
    assert caught.value.message == (f"port {held} for replica 'db-replica-2' is already in use by "
                                 "another process")
    assert caught.value.hint is not None
    assert '"db-replica-2" from the ports of .devenv/state.json' in caught.value.hint


def test_a_replica_port_held_by_another_project_names_its_container(held: int) -> None:
    stack = stack_of(free_port())
    foreign = ContainerState("id", "other-db-1", "db", "other", "running", "", "", (held,))
    with pytest.raises(DevenvError, match=f"port {held} for replica 'db-replica-1' is already "
                       "in use by container other-db-1 of project 'other'"):
        check_free(stack, [stack.servers["db"]], {"db-replica-1": held,
                                                   "db-replica-2": free_port()}, {}, [foreign])


def test_our_own_running_replica_on_its_port_is_fine(held: int) -> None:
    stack = stack_of(free_port())
    mine = ContainerState("id", "ports-db-replica-1-1", "db-replica-1", "ports", "running", "",
                          "", (held,))
    check_free(stack, [stack.servers["db"]], {"db-replica-1": held, "db-replica-2": free_port()},
               {"db-replica-1": mine}, [])


def test_the_servers_own_port_keeps_its_manifest_hint(held: int) -> None:
    stack = stack_of(held)
    with pytest.raises(DevenvError) as caught:
        check_free(stack, [stack.servers["db"]], assign_auto(stack, {}), {}, [])
    assert caught.value.message == (f"port {held} for server 'db' is already in use by "
                                    "another process")
    assert caught.value.hint is not None and "`servers.db.port` in devenv.yaml" in caught.value.hint


def test_our_crash_looping_server_holding_its_port_between_restarts_is_not_another_process(
        held: int) -> None:
    """A bad setting fixed after a failed `up`: the container still restarts (it lists no
    ports while "restarting", yet its proxy may hold the port at that moment)."""
    stack = stack_of(held)
    looping = ContainerState("id", "ports-db-1", "db", "ports", "restarting", "", "", ())
    check_free(stack, [stack.servers["db"]], assign_auto(stack, {}), {"db": looping}, [])
    exited = ContainerState("id", "ports-db-1", "db", "ports", "exited", "", "", ())
    with pytest.raises(DevenvError, match="already in use by another process"):
        check_free(stack, [stack.servers["db"]], assign_auto(stack, {}), {"db": exited}, [])


def fixed_stack(server_port: int, replica_port: int) -> Stack:
    manifest, located = parse(textwrap.dedent(f"""
        project: ports
        servers:
          db: {{kind: postgres, port: {server_port}, replicas: [{{port: {replica_port}}}, {{}}]}}
        services:
          app: {{postgres: true}}
    """))
    return resolve(manifest, located, root=Path("/project"))


def test_a_replica_port_set_in_the_manifest_is_not_chosen_or_kept() -> None:
    stack = fixed_stack(free_port(), 7201)
    assert set(assign_auto(stack, {"db-replica-1": 40000, "db-replica-2": 40001})) == {
        "db-replica-2"}


def test_a_replica_port_set_in_the_manifest_is_checked_free_before_start(held: int) -> None:
    stack = fixed_stack(free_port(), held)
    with pytest.raises(DevenvError) as caught:
        check_free(stack, [stack.servers["db"]], assign_auto(stack, {}), {}, [])
    assert caught.value.message == (f"port {held} for replica 'db-replica-1' is already in use "
                                    "by another process")
    assert caught.value.hint == ("stop what holds it, or change `servers.db.replicas.0.port` in "
                                 "devenv.yaml (or set it to `auto`)")


def based(base: int, fixed: int) -> Stack:
    manifest, located = parse(textwrap.dedent(f"""
        project: ports
        ports: {{base: {base}}}
        servers:
          a: {{kind: postgres, replicas: 1}}
          b: {{kind: postgres, port: {fixed}}}
          cache: {{kind: redis}}
        services:
          app: {{postgres: a, redis: true}}
          other: {{postgres: b}}
    """))
    return resolve(manifest, located, root=Path("/project"))


def test_ports_base_gives_each_server_then_replica_the_next_free_port_and_keeps_it(
        held: int) -> None:
    """The base is the held port: it is skipped, as is the port set in the manifest."""
    stack = based(held, held + 1)
    assert stack.servers["a"].port is None and stack.servers["b"].port == held + 1
    chosen = assign_auto(stack, {})
    ports = sorted(chosen.values())
    assert list(chosen) == ["a", "cache", "a-replica-1"]  # servers in order, then replicas
    assert held not in ports and held + 1 not in ports
    assert ports[0] >= held + 2 and len(set(ports)) == 3
    assert assign_auto(stack, chosen) == chosen  # kept, as `auto` is
