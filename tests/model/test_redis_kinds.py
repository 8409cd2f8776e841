"""Redis and Valkey render the same isolation; the server starts as the image's user (pure)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from devenv.model.credentials import Secrets, needed
from devenv.model.kinds.redis import SERVICE_RULES, acl_lines
from devenv.model.manifest import parse
from devenv.model.render import compose_data, state_files
from devenv.model.resolve import resolve

STACK = """
project: demo
servers:
  cache: {kind: redis}
  kv: {kind: valkey, persistence: rdb}
services:
  a: {postgres: false, redis: cache}
  b: {postgres: false, redis: kv}
"""


def test_valkey_is_redis_with_its_own_binary_and_user() -> None:
    manifest, located = parse(textwrap.dedent(STACK).lstrip("\n"))
    stack = resolve(manifest, located, root=Path("/p"))
    assert stack.servers["kv"].image == "valkey/valkey:8"
    assert stack.servers["cache"].image == "redis:8"
    services = compose_data(stack)["services"]
    for name, binary, user, cli in (("cache", "redis-server", "redis", "redis-cli"),
                                    ("kv", "valkey-server", "valkey", "valkey-cli")):
        script = services[name]["command"][2]
        # Root copies the 0600 secret for the server's user, then the image's entrypoint gets
        # the server binary first, so it drops to uid 999 itself.
        assert script.startswith(f"cp /run/secrets/{name}-users-acl /tmp/devenv-users.acl && "
                                 f"chown {user} /tmp/devenv-users.acl")
        assert f"&& exec docker-entrypoint.sh {binary} --aclfile /tmp/devenv-users.acl" in script
        assert services[name]["secrets"] == [f"{name}-users-acl", f"{name}-default-password"]
        health = services[name]["healthcheck"]["test"][1]
        assert f"$$(cat /run/secrets/{name}-default-password)" in health and cli in health
        assert "environment" not in services[name] and "env_file" not in services[name]
    secrets = Secrets({k: f"pw-{k}" for k in needed(stack)})
    files = state_files(stack, secrets, {})
    assert files[Path(".devenv/secrets/kv/default-password")] == "pw-kv/default"
    lines = acl_lines(stack.servers["kv"], stack, secrets)
    assert lines[1].endswith(f"~b:* &b:* {SERVICE_RULES}")
    assert "pw-kv/b" not in "".join(lines)  # hashes only


def test_service_rules_keep_eval_and_take_function_and_script_flush() -> None:
    assert SERVICE_RULES.split()[:7] == ["+@all", "-@admin", "-@dangerous", "-function",
                                         "-script|flush", "-script|kill", "-script|debug"]


def test_service_rules_take_what_shows_other_services_or_escapes_reset() -> None:
    """Issue 27 item 12; the attacks themselves: tests/integration/test_attacks_low.py."""
    assert SERVICE_RULES.split()[7:] == ["-client|tracking", "-select", "+select|0", "-move",
                                         "-pubsub", "-memory", "+memory|usage"]
