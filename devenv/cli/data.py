"""`devenv reset` and `devenv db clone | drop | prune | list`: a running stack's data.

Resets put a service's data back to its migrated and seeded state; clones are isolated
databases for test suites in any language.
"""

from __future__ import annotations

import json

from devenv.console import Console
from devenv.data import clones
from devenv.data import reset as resets
from devenv.engine import replication
from devenv.engine.context import attach, select
from devenv.errors import DevenvError
from devenv.masking import mask_values
from devenv.model import facts
from devenv.model.stack import Stack


def reset(stack: Stack, console: Console, *, names: list[str], all_: bool, hard: bool) -> None:
    resets.reset(stack, console, names=names, all_=all_, hard=hard)


def clone(stack: Stack, console: Console, *, name: str, as_json: bool,
          show_secrets: bool) -> None:
    ctx = attach(stack, console)
    svc = select(stack, [name])[0]
    database = clones.clone(ctx, svc)
    if svc.server is not None and stack.servers[svc.server].replicas:
        # its DATABASE_READONLY_URL must work when this returns: the clone reaches them by WAL
        replication.wait_replayed(ctx, stack.servers[svc.server])
    variables = facts.env_vars(stack, svc, ctx.secrets, ctx.ports, database=database)
    if not show_secrets:
        variables = mask_values(variables, ctx.secrets.all())
    if as_json:
        console.result(json.dumps({"database": database, "url": variables["DATABASE_URL"],
                                   "env": variables}, indent=2), raw=show_secrets)
    else:
        console.result(variables["DATABASE_URL"], raw=show_secrets)
    if not show_secrets and not as_json:
        console.note("(password masked: add --show-secrets to print it, e.g. for a script)")


def drop(stack: Stack, console: Console, *, database: str) -> None:
    ctx = attach(stack, console)
    for server, name, tag in clones.list_clones(ctx):
        service = tag.split(":", 1)[0]
        if name == database and service in stack.services:
            clones.drop_clone(ctx, stack.services[service], name)
            console.say(f"dropped {name} (clone of {service} on {server})")
            return
    raise DevenvError(f"'{database}' is not a clone of this project: refusing to drop it",
                      hint="`devenv db list` shows the clones; real databases are never dropped")


def prune(stack: Stack, console: Console) -> None:
    from devenv.data import testapi  # noqa: PLC0415 - serve-tests' templates (issue 31)

    ctx = attach(stack, console)
    # a running `devenv serve-tests` keeps its own: made ahead, or in a suite's hands now
    dropped = clones.prune(ctx, keep=testapi.live_owner)
    console.say(f"dropped {len(dropped)} clone(s)")
    templates = testapi.prune_templates(ctx, keep=testapi.live_owner)
    if templates:
        console.say(f"dropped {len(templates)} template(s) of a test API that is gone")
    kept = [name for _, name, tag in clones.list_clones(ctx) if testapi.live_owner(tag)]
    if kept:
        console.say(f"kept {len(kept)} clone(s) of the running `devenv serve-tests` (stopping "
                    "it drops them)")


def list_(stack: Stack, console: Console, *, as_json: bool) -> None:
    rows = clones.list_clones(attach(stack, console))
    if as_json:
        console.result(json.dumps([{"server": s, "database": d, "service": v.split(":")[0],
                                    "owner": v.split(":", 1)[1] if ":" in v else None}
                                   for s, d, v in rows], indent=2))
        return
    if not rows:  # on stderr: stdout stays one line per clone, none here
        console.note(f"no clones of project {stack.project} "
                     "(`devenv db clone SERVICE` makes one)")
    for server, database, tag in rows:
        console.result(f"{database}  ({tag} on {server})")
