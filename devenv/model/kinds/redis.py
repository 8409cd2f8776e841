"""Redis and Valkey: one ACL user per service, limited to its key prefix (works on a Cluster too).

The server runs as the image's own user (uid 999), as a plain `redis:8` container does: the
official entrypoints (docker-library/redis docker-entrypoint.sh, valkey-io/valkey-container
docker-entrypoint.sh) drop root only when their first argument is the server binary. The ACL
file is a Compose secret: bind-mounted read-only with the host file's owner and mode (0600),
which only root in the container can read. So the command, still root, copies it to a file of
the server's user and then hands over to the image's entrypoint with the server binary first.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from devenv.model.secrets import Secrets
from devenv.model.stack import ServerSpec, Stack, secret_target

ACL_FILE = "/tmp/devenv-users.acl"
ACL_SECRET = "users-acl"
ACL_SEARCH_SECRET = "users-acl-search"  # the same, for a server that loads the search module
DEFAULT_SECRET = "default-password"  # for the healthcheck's AUTH only
PERSISTENCE = {
    "aof": ["--appendonly", "yes"],
    "rdb": ["--appendonly", "no", "--save", "60 1"],
    "none": ["--appendonly", "no", "--save", "''"],
}
# A script running this long makes the server answer BUSY to everyone else, and only then
# can it be killed (`devenv redis kill-script`): Redis's default, 5 s, is long to wait for a
# local stack to answer again (issue 27). `busy-reply-threshold`: Redis >= 7.0, Valkey.
BUSY_REPLY_MS = "1000"
# What a service's ACL user may run (README "Security"): everything on its own keys and
# channels, minus admin and dangerous commands, minus whatever changes code that another
# service runs. Functions are one namespace per server: FUNCTION LOAD REPLACE of another
# service's library would make its next FCALL run foreign code with its rights, so FUNCTION
# (load, delete, flush, restore, kill, list, dump) is the default user's alone; FCALL of what it
# loaded stays allowed. EVAL/EVALSHA/SCRIPT LOAD stay: a script is named by its SHA-1, so no
# one can replace another's, and every command inside runs under the caller's key patterns;
# SCRIPT FLUSH (drops everyone's cache), SCRIPT KILL (another's running script) and SCRIPT
# DEBUG (forks the server) go. Subcommand rules need Redis >= 7.0.
# What told a service about the others, or kept its data out of `reset`'s reach (issue 27
# item 12): CLIENT TRACKING (BCAST PREFIX b: sent it every key b wrote, as b wrote it: no key
# pattern is checked there before redis/redis#15371, not in Redis 7, 8.0 or Valkey 8; one rule
# covers both modes, so no client-side caching on a shared server); SELECT other than 0 and
# MOVE (keys in another logical database, where `reset` does not look; a Cluster has only 0);
# PUBSUB (every service's channel names and subscriber counts); MEMORY but MEMORY USAGE of a
# key of its own (STATS, DOCTOR, MALLOC-STATS describe the whole server; PURGE acts on it).
SERVICE_RULES = ("+@all -@admin -@dangerous -function -script|flush -script|kill "
                 "-script|debug -client|tracking -select +select|0 -move -pubsub -memory "
                 "+memory|usage")


# Redis 8's official image builds its modules in (BUILD_WITH_MODULES on amd64 and arm64) and its
# entrypoint loads every *.so of this folder (redis/docker-library-redis, docker-entrypoint.sh).
# The search module (RediSearch) registers the ACL category `search` when it loads
# (RediSearch tests/pytests/test_acl.py); a rule naming it is an error on a server without the
# module, which aborts the start. So the container picks one of two ACL files, by whether the
# module is there to be loaded.
SEARCH_MODULE = "/usr/local/lib/redis/modules/redisearch.so"
# On open-source Redis, FT.CREATE, FT.ALIASADD/ALIASUPDATE/ALIASDEL and FT.DICTADD/DICTDEL
# check no key pattern (issue 27 item 13): a service could index another's prefix and read its
# values through FT.SEARCH, or repoint or delete its aliases; indexes, aliases and dictionaries
# are one namespace per server. So the module is the default user's unless the server says
# `search: true` (services that trust each other, or a server of one service's own); then
# FT.DROPINDEX, in @dangerous, is given back too.
SEARCH_DENIED = "-@search"
SEARCH_ALLOWED = "+ft.dropindex"


def acl_lines(server: ServerSpec, stack: Stack, secrets: Secrets, *,
              search_module: bool = False) -> list[str]:
    """ACL rules with SHA-256 password hashes: the plain passwords never enter the container.
    `search_module`: the rules for a server that loads the search module."""

    def digest(user: str) -> str:
        return hashlib.sha256(secrets.get(server.name, user).encode()).hexdigest()

    rules = SERVICE_RULES
    if search_module:
        rules += " " + (SEARCH_ALLOWED if server.search else SEARCH_DENIED)
    lines = [f"user default on #{digest('default')} ~* &* +@all"]
    for svc in stack.services.values():
        if svc.redis == server.name:
            prefix = svc.key_prefix
            lines.append(f"user {svc.name} on #{digest(svc.name)} resetchannels ~{prefix}* "
                         f"&{prefix}* {rules}")
    return lines


@dataclass(frozen=True)
class Redis:
    image: str
    binary: str = "redis-server"
    cli: str = "redis-cli"
    user: str = "redis"  # uid 999 in both images
    search_module: str | None = SEARCH_MODULE  # loaded by the image's entrypoint when present
    family: str = "redis"
    port: int = 6379

    def users(self, server: ServerSpec, stack: Stack) -> list[str]:
        return ["default"]  # the healthcheck's and devenv's; services have ACL users

    def compose_service(self, server: ServerSpec, stack: Stack) -> dict[str, Any]:
        args = " ".join(["--aclfile", ACL_FILE, *PERSISTENCE[server.persistence],
                         "--busy-reply-threshold", BUSY_REPLY_MS])
        source = secret_target(server.name, ACL_SECRET)
        copy = f"cp {source} {ACL_FILE}"
        if self.search_module is not None:
            search = secret_target(server.name, ACL_SEARCH_SECRET)
            copy = (f"if [ -s {self.search_module} ]; then cp {search} {ACL_FILE}; "
                    f"else {copy}; fi")
        script = (f"{copy} && chown {self.user} {ACL_FILE} "
                  f"&& chmod 0400 {ACL_FILE} && exec docker-entrypoint.sh {self.binary} {args}")
        password = secret_target(server.name, DEFAULT_SECRET)
        return {
            "image": server.image,
            "command": ["sh", "-c", script],
            "volumes": [f"{server.name}-data:/data"],
            "healthcheck": {
                # AUTH through stdin: the password is in no process's arguments or config; a
                # NOAUTH or LOADING reply holds no PONG.
                "test": ["CMD-SHELL", f"printf 'AUTH %s\\nPING\\n' \"$$(cat {password})\" | "
                         f"{self.cli} -p {server.container_port} | grep -q PONG"],
            },
        }

    def config_files(self, server: ServerSpec, stack: Stack) -> dict[str, str]:
        return {}

    def secret_files(self, server: ServerSpec, stack: Stack, secrets: Secrets) -> dict[str, str]:
        files = {ACL_SECRET: "\n".join(acl_lines(server, stack, secrets)) + "\n"}
        if self.search_module is not None:
            files[ACL_SEARCH_SECRET] = "\n".join(
                acl_lines(server, stack, secrets, search_module=True)) + "\n"
        files[DEFAULT_SECRET] = secrets.get(server.name, "default")
        return files


# Redis 8: the current major; it loads a Redis 7 volume (RDB/AOF are forward compatible).
# Teams that want the BSD-licensed fork say `kind: valkey`.
REDIS = Redis("redis:8")
# Valkey's image loads no module (valkey-bundle is another image, with its own configuration).
VALKEY = Redis("valkey/valkey:8", binary="valkey-server", cli="valkey-cli", user="valkey",
               search_module=None)
