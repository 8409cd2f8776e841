"""A Redis script that runs too long: found, named and killed as the admin (`default`).

One `EVAL "while true do end" 0` of one service makes Redis answer BUSY to every client, every
other service included, past busy-reply-threshold. A service may not SCRIPT KILL (it would end
another's script too), so devenv does it as the admin: `devenv redis kill-script`. `doctor`
names the script and `up` says what is wrong instead of blaming the settings (issue 27).

While a script runs, Redis answers nothing but the matching kill: its BUSY reply says which
(SCRIPT KILL for EVAL, FUNCTION KILL for a function), and its log names the script ("Slow
script detected: ... Script name is: <sha or function>.").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from devenv.engine.context import Context
from devenv.errors import DevenvError, last_line
from devenv.model.stack import ServerSpec

_LOGGED = re.compile(r"Slow script detected: still in execution after (\d+) milliseconds\..*"
                     r"Script name is: (.+?)\.?$")


@dataclass(frozen=True)
class Busy:
    server: str
    function: bool  # FCALL of a function (FUNCTION KILL), else EVAL (SCRIPT KILL)
    name: str  # the script's SHA-1 or the function's name; "" when the log did not say

    @property
    def kill(self) -> str:
        return "FUNCTION KILL" if self.function else "SCRIPT KILL"

    def describe(self) -> str:
        what = f"function {self.name}" if self.function else (
            f"EVAL script {self.name}" if self.name else "EVAL script")
        return (f"server '{self.server}' is busy running a Lua {what}: it answers BUSY to "
                "every client, every service included, until the script ends or is killed")

    def hint(self) -> str:
        return f"`devenv redis kill-script {self.server}` ends it ({self.kill} as the admin)"


def busy(ctx: Context, server: ServerSpec) -> Busy | None:
    """The script keeping `server` busy, or None (answering, or not answering at all)."""
    import redis  # noqa: PLC0415 - redis-py, ~0.1 s: a PostgreSQL-only stack never loads it

    client = redis.Redis.from_url(ctx.redis_admin_url(server), socket_connect_timeout=3,
                                  socket_timeout=3)
    try:
        client.ping()
    except redis.ResponseError as exc:
        return busy_from(ctx, server, str(exc))
    except redis.RedisError:
        return None
    finally:
        client.close()
    return None


def busy_from(ctx: Context, server: ServerSpec, reply: str) -> Busy | None:
    """A BUSY reply as a Busy, its script named from the server's log; None for other replies."""
    if not reply.startswith("BUSY"):
        return None
    name = ""
    for line in ctx.docker.logs_tail(server.name, 200).splitlines():
        found = _LOGGED.search(line.strip())
        if found:
            name = found.group(2)
    return Busy(server.name, "FUNCTION KILL" in reply, name)


def kill(ctx: Context, server: ServerSpec) -> Busy | None:
    """Kill the script keeping `server` busy, as the admin; what was killed (None: nothing
    ran). A script that already wrote cannot be killed (Redis would leave half its writes):
    the error says what ends it then."""
    import redis  # noqa: PLC0415 - as in busy

    found = busy(ctx, server)
    if found is None:
        return None
    client = redis.Redis.from_url(ctx.redis_admin_url(server), socket_connect_timeout=3,
                                  socket_timeout=3)
    try:
        (client.function_kill if found.function else client.script_kill)()
    except redis.ResponseError as exc:
        if "NOTBUSY" in str(exc):
            return None  # it ended meanwhile
        if "UNKILLABLE" in str(exc):
            raise DevenvError(f"{found.describe()}; it has written already, so Redis will not "
                              f"kill it ({last_line(exc)})",
                              hint="only a stop of the server ends it, losing the writes since "
                              "the last save: `devenv down` then `devenv up`") from None
        raise DevenvError(f"{found.kill} on server '{server.name}' failed ({last_line(exc)})"
                          ) from None
    except redis.RedisError as exc:
        raise DevenvError(f"cannot reach server '{server.name}' ({last_line(exc)})") from None
    finally:
        client.close()
    return found
