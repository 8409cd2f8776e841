"""Redis and Valkey render the same isolation; the server starts as the image's user (pure)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from devenv.model.credentials import Secrets, needed
from devenv.model.kinds.redis import SEARCH_MODULE, SERVICE_RULES, acl_lines
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
        copy = f"cp /run/secrets/{name}-users-acl /tmp/devenv-users.acl"
        if name == "cache":  # Redis 8's image may load the search module: its own rules
            copy = (f"if [ -s {SEARCH_MODULE} ]; then cp /run/secrets/cache-users-acl-search "
                    f"/tmp/devenv-users.acl; else {copy}; fi")
        assert script.startswith(f"{copy} && chown {user} /tmp/devenv-users.acl")
        assert f"&& exec docker-entrypoint.sh {binary} --aclfile /tmp/devenv-users.acl" in script
        assert services[name]["secrets"] == [
            f"{name}-users-acl", *([f"{name}-users-acl-search"] if name == "cache" else []),
            f"{name}-default-password"]
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


SEARCH_STACK = """
project: demo
servers:
  shared: {kind: redis}
  mine: {kind: redis, search: true}
  kv: {kind: valkey}
services:
  a: {redis: shared}
  b: {redis: shared}
  c: {redis: mine}
  d: {redis: kv}
"""


def test_the_search_module_is_the_default_users_unless_the_server_opts_in() -> None:
    """Issue 27 item 13. RediSearch's FT.CREATE, FT.ALIAS* and FT.DICT* check no key pattern on
    open-source Redis, so on a server that loads the module a service gets `-@search`; a server
    with `search: true` gets FT.DROPINDEX back instead (it is in @dangerous). A server without
    the module gets neither rule: naming an unknown category aborts Redis's start."""
    manifest, located = parse(textwrap.dedent(SEARCH_STACK).lstrip("\n"))
    stack = resolve(manifest, located, root=Path("/p"))
    secrets = Secrets({k: f"pw-{k}" for k in needed(stack)})
    files = state_files(stack, secrets, {})

    def users(server: str, key: str) -> dict[str, str]:
        text = files[Path(f".devenv/secrets/{server}/{key}")]
        return {line.split()[1]: line for line in text.splitlines()}

    without = users("shared", "users-acl")
    with_module = users("shared", "users-acl-search")
    for svc in ("a", "b"):
        assert without[svc].endswith(f"~{svc}:* &{svc}:* {SERVICE_RULES}")
        assert with_module[svc].endswith(f"~{svc}:* &{svc}:* {SERVICE_RULES} -@search")
    assert with_module["default"] == without["default"]  # the admin keeps the module
    assert users("mine", "users-acl-search")["c"].endswith(f"{SERVICE_RULES} +ft.dropindex")
    assert users("mine", "users-acl")["c"].endswith(f"~c:* &c:* {SERVICE_RULES}")
    # Valkey's image loads no module: one file, no rule about it.
    assert Path(".devenv/secrets/kv/users-acl-search") not in files
    assert "search" not in users("kv", "users-acl")["d"]
    # The container picks the file by whether the image's entrypoint will load the module.
    script = compose_data(stack)["services"]["shared"]["command"][2]
    assert script.startswith(f"if [ -s {SEARCH_MODULE} ]; then cp "
                             "/run/secrets/shared-users-acl-search /tmp/devenv-users.acl; else "
                             "cp /run/secrets/shared-users-acl /tmp/devenv-users.acl; fi && ")
    assert SEARCH_MODULE == "/usr/local/lib/redis/modules/redisearch.so"
