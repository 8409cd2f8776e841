"""Migrations run by another tool (`alembic upgrade head`, `npm run migrate`...).

The command runs through the shell, as the user wrote it in the manifest, with the service's
connection variables added to the environment; its output is streamed line by line and its last
lines kept for the error message.
"""

from __future__ import annotations

import os
import subprocess
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path

from devenv.errors import DevenvError

TAIL_LINES = 20


def run_command(command: str, *, cwd: Path, env: Mapping[str, str],
                on_output: Callable[[str], None]) -> None:
    """Run `command` in `cwd`; a non-zero exit is a DevenvError with the code and output tail."""
    if not cwd.is_dir():
        raise DevenvError(f"Cannot run `{command}`: the directory {cwd} does not exist",
                          "Fix the migration command's working directory in the manifest.")
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    with subprocess.Popen(
        command, shell=True, cwd=cwd, env={**os.environ, **env}, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
        errors="replace", bufsize=1,
    ) as process:
        assert process.stdout is not None
        try:
            for raw in process.stdout:
                line = raw.rstrip("\r\n")
                tail.append(line)
                on_output(line)
            code = process.wait()
        except BaseException:  # Ctrl-C: do not leave the tool running
            process.kill()
            raise
    if code != 0:
        shown = "\n".join(f"  {line}" for line in tail) or "  (no output)"
        raise DevenvError(f"`{command}` failed with exit code {code}; its last output lines:\n"
                          f"{shown}",
                          f"Fix the problem above, then run the migrations again (from {cwd}).")


# Where the usual tools keep their current version (table, column, how to pick the current
# one): what `devenv status` shows for a service another tool migrates (issue 28).
TOOL_LEDGERS = (
    ("alembic", "alembic_version", "SELECT version_num FROM {} LIMIT 1"),
    ("flyway", "flyway_schema_history",
     "SELECT version FROM {} WHERE success AND version IS NOT NULL "
     "ORDER BY installed_rank DESC LIMIT 1"),
    ("schema_migrations", "schema_migrations", "SELECT max(version::text) FROM {}"),
)


def tool_version(conninfo: str) -> str | None:
    """The version the tool's own ledger holds, e.g. `ae1027a6acf (alembic)`, when one of the
    usual ledgers is in the database's search path; None otherwise. Each table is looked up
    in the catalog first, so no ERROR reaches the server's log."""
    from psycopg import sql  # noqa: PLC0415 - psycopg, ~0.2 s: callers have loaded it already

    from devenv.migrations.connect import connect  # noqa: PLC0415 - same

    with connect(conninfo) as conn:
        for tool, table, query in TOOL_LEDGERS:
            found = conn.execute("SELECT to_regclass(%s)::text", (table,)).fetchone()
            if found is None or found[0] is None:
                continue
            row = conn.execute(sql.SQL(query).format(sql.Identifier(table))).fetchone()
            if row is not None and row[0] is not None:
                return f"{row[0]} ({tool})"
    return None
