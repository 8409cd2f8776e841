"""How one script must run, decided from its statements before anything runs. Pure.

- `transaction` (the default): the whole file in one transaction with its ledger row.
- `wrapped`: the file is one `BEGIN; ...; COMMIT;` block of its own (golang-migrate's docs
  write them so): its inside runs in devenv's transaction, opened with the file's own BEGIN (so
  its isolation level holds), together with the ledger row: still all or nothing.
- `statements`: statement by statement in autocommit, as psql runs a file, recorded as
  started before the first one. For a file marked `-- devenv:no-transaction` (or Flyway's
  `executeInTransaction=false`, dbmate's `transaction:false`); a file whose every statement
  cannot run in a transaction (CREATE INDEX CONCURRENTLY, VACUUM...: Flyway runs those
  outside one without a marker); and a file that manages its own transactions otherwise
  (several BEGIN/COMMIT blocks, statements between them), run as written.

A file mixing statements that cannot run in a transaction with ordinary ones is refused, as
Flyway refuses it (its `mixed` setting is off by default): run half in a transaction and half
outside, and a failure leaves it in a state nobody chose.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from devenv.errors import DevenvError
from devenv.migrations.formats import Script
from devenv.migrations.sqltext import (
    NO_TRANSACTION,
    Statement,
    control,
    lead,
    locate,
    outside_only,
    split_statements,
    words,
)

Mode = Literal["transaction", "wrapped", "statements"]
_NEUTRAL = {"SET", "RESET"}  # session settings run the same inside a transaction or outside


@dataclass(frozen=True)
class Plan:
    mode: Mode
    script: Script  # for `wrapped`: the part between the file's BEGIN and COMMIT
    begin: str = "BEGIN"  # the statement that opens the transaction
    why: str = ""  # for `statements`: why, for messages
    own_transactions: bool = False  # the file has its own BEGIN/COMMIT


def line_of(script: Script, statement: Statement) -> int:
    return locate(script.text, script.start + statement.start + lead(statement.sql)).line


def plan(script: Script) -> Plan:
    """The plan for `script`; a DevenvError naming file and line when it cannot run as is."""
    if not script.transactional:
        return Plan("statements", script, why=script.marker or NO_TRANSACTION)
    statements = split_statements(script.sql)
    controls = [(s, c) for s in statements if (c := control(s)) is not None]
    outside = [(s, label) for s in statements if (label := outside_only(s)) is not None]
    if controls:
        return _own_transactions(script, statements, controls)
    if not outside:
        return Plan("transaction", script)
    ordinary = [s for s in statements
                if outside_only(s) is None and (words(s.sql, 1) or [""])[0] not in _NEUTRAL]
    first, label = outside[0]
    if not ordinary:
        return Plan("statements", script,
                    why=f"{label} at line {line_of(script, first)} cannot run in one")
    other = ordinary[0]
    raise DevenvError(
        f"{script.shown}:{line_of(script, first)}: {label} cannot run inside a transaction, "
        f"but the file also has statements that run in one (line {line_of(script, other)}: "
        f"{_head(other)}): devenv, like Flyway, does not run a file that mixes them; nothing "
        "was run",
        f"Move the {label} statement into a migration of its own (devenv runs such a file "
        "outside a transaction, as Flyway does), or run the whole file outside a transaction, "
        f"statement by statement, with a first line `{NO_TRANSACTION}` (Flyway: "
        f"`executeInTransaction=false` in {script.shown}.conf); a failure then leaves it "
        "partly applied.")


def _own_transactions(script: Script, statements: list[Statement],
                      controls: list[tuple[Statement, str]]) -> Plan:
    depth_open: Statement | None = None
    for statement, kind in controls:
        depth_open = statement if kind == "open" else None
    if depth_open is not None:
        raise DevenvError(
            f"{script.shown}:{line_of(script, depth_open)}: this BEGIN is never committed: the "
            "file would end inside an open transaction; nothing was run",
            "End the block with COMMIT; (or remove the BEGIN and let devenv run the file in "
            "its own transaction).")
    first, last = statements[0], statements[-1]
    if (len(controls) == 2 and controls[0] == (first, "open") and controls[1][0] is last
            and controls[1][1] == "commit" and len(statements) > 2
            and not any(outside_only(s) for s in statements)):
        inner = replace(script, start=script.start + first.start + len(first.sql),
                        end=script.start + last.start)
        return Plan("wrapped", inner, begin=first.sql.strip(), own_transactions=True)
    return Plan("statements", script, own_transactions=True,
                why=f"it manages its own transactions ({_head(controls[0][0])} at line "
                    f"{line_of(script, controls[0][0])})")


def _head(statement: Statement) -> str:
    """The statement's first line, trimmed, for a message."""
    text = statement.sql[lead(statement.sql):].strip()
    first = text.splitlines()[0] if text else ""
    return first if len(first) <= 60 else first[:57] + "..."
