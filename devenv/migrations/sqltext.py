"""Pure helpers over SQL text: file decoding, positions for error messages, statement splitting.

Kept apart from the database code so that every rule here is a fast unit test.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from devenv.errors import DevenvError

NO_TRANSACTION = "-- devenv:no-transaction"


def display_path(path: Path, root: Path) -> str:
    """The path as the user typed it in the manifest: relative to `root` when it is inside it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def read_sql_file(path: Path, *, shown: str) -> str:
    """The file's text (a UTF-8 BOM dropped); empty and non-UTF-8 files are refused by name."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DevenvError(
            f"{shown} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at line {line})",
            "Save the file as UTF-8.",
        ) from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise DevenvError(f"{shown} is empty", "Fill it in, or delete the file.")
    return text


def checksum(sql: str) -> str:
    """sha256 hex of the SQL with line endings normalised to LF.

    Normalising means a checkout with CRLF line endings (git autocrlf) is not reported as drift.
    """
    return hashlib.sha256(sql.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def first_line(sql: str) -> str:
    """The first non-blank line, stripped: where a `-- devenv:no-transaction` header sits."""
    for line in sql.splitlines():
        if line.strip():
            return line.strip()
    return ""


def wants_no_transaction(sql: str) -> bool:
    return " ".join(first_line(sql).lower().split()) == NO_TRANSACTION


@dataclass(frozen=True)
class Location:
    line: int  # 1-based
    column: int  # 1-based, in characters
    text: str  # the whole line, without its line ending


def locate(text: str, offset: int) -> Location:
    """Line, column and line text of a 0-based character offset into `text`."""
    offset = max(0, min(offset, len(text)))
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    if end == -1:
        end = len(text)
    return Location(text.count("\n", 0, offset) + 1, offset - start + 1,
                    text[start:end].rstrip("\r"))


def excerpt(location: Location) -> str:
    """The offending line with a caret under the column, indented under the message."""
    prefix = f"  {location.line} | "
    line = location.text.replace("\t", " ")
    caret = " " * (len(prefix) - 2) + "| " + " " * (location.column - 1) + "^"
    return f"{prefix}{line}\n{caret}"


@dataclass(frozen=True)
class Statement:
    start: int  # 0-based character offset in the text that was split
    sql: str


def split_statements(sql: str) -> list[Statement]:
    """Split a script into statements the way psql does, for scripts run outside a transaction.

    PostgreSQL runs a multi-statement query string as one implicit transaction, in which
    CREATE INDEX CONCURRENTLY and friends are refused, so such scripts go one statement at a
    time. Understands quotes, E'' strings, quoted identifiers, dollar quotes and (nested)
    comments; it does not understand SQL-standard `BEGIN ATOMIC` bodies (use `$$` bodies there).
    Statements that are only comments or blanks are dropped.
    """
    out: list[Statement] = []
    i, n = 0, len(sql)
    start = 0
    meaningful = False

    def flush(end: int) -> None:
        if meaningful:
            out.append(Statement(start, sql[start:end]))

    while i < n:
        c = sql[i]
        if c == "-" and sql.startswith("--", i):
            nl = sql.find("\n", i)
            i = n if nl == -1 else nl + 1
            continue
        if c == "/" and sql.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if sql.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif sql.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            continue
        if c == ";":
            flush(i + 1)
            i += 1
            start, meaningful = i, False
            continue
        if not c.isspace():
            meaningful = True
        if c == "'":
            backslashes = i > 0 and sql[i - 1] in "eE" and (i < 2 or not _ident(sql[i - 2]))
            i = _skip_quoted(sql, i, "'", backslashes=backslashes)
        elif c == '"':
            i = _skip_quoted(sql, i, '"', backslashes=False)
        elif c == "$" and (i == 0 or not _ident(sql[i - 1])):
            tag_end = i + 1
            while tag_end < n and _ident(sql[tag_end]) and sql[tag_end] != "$":
                tag_end += 1
            tag = sql[i:tag_end + 1]
            if tag_end < n and sql[tag_end] == "$" and not tag[1:2].isdigit():
                close = sql.find(tag, tag_end + 1)
                i = n if close == -1 else close + len(tag)
            else:
                i += 1
        else:
            i += 1
    flush(n)
    return out


def _ident(c: str) -> bool:
    return c.isalnum() or c in "_$"


def _skip_quoted(sql: str, i: int, quote: str, *, backslashes: bool) -> int:
    """Index just past the quoted string opening at `i` ('' or "" doubles the quote)."""
    i += 1
    n = len(sql)
    while i < n:
        c = sql[i]
        if backslashes and c == "\\":
            i += 2
            continue
        if c == quote:
            if i + 1 < n and sql[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return n


def words(sql: str, limit: int = 0) -> list[str]:
    """The statement's tokens, upper-cased, outside comments and quotes: words (`schema.name`
    stays split at the dot), and `(`, `)`, `=`, `,` as their own tokens; a quoted string or
    identifier or a dollar-quoted body is one `'` token. `limit` > 0 stops after that many."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n and (not limit or len(out) < limit):
        c = sql[i]
        if c.isspace():
            i += 1
        elif c == "-" and sql.startswith("--", i):
            nl = sql.find("\n", i)
            i = n if nl == -1 else nl + 1
        elif c == "/" and sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
        elif c == "'":
            backslashes = i > 0 and sql[i - 1] in "eE"
            i = _skip_quoted(sql, i, "'", backslashes=backslashes)
            out.append("'")
        elif c == '"':
            i = _skip_quoted(sql, i, '"', backslashes=False)
            out.append("'")
        elif c == "$" and (tag := _dollar_tag(sql, i)):
            close = sql.find(tag, i + len(tag))
            i = n if close == -1 else close + len(tag)
            out.append("'")
        elif _ident(c) and c != "$":
            end = i
            while end < n and _ident(sql[end]):
                end += 1
            out.append(sql[i:end].upper())
            i = end
        else:
            if c in "(),=":
                out.append(c)
            i += 1
    return out


def _dollar_tag(sql: str, i: int) -> str:
    """`$tag$` opening at `i`, or "" when `$` starts no dollar quote there."""
    if i > 0 and _ident(sql[i - 1]):
        return ""
    end = i + 1
    while end < len(sql) and _ident(sql[end]) and sql[end] != "$":
        end += 1
    if end < len(sql) and sql[end] == "$" and not sql[i + 1:i + 2].isdigit():
        return sql[i:end + 1]
    return ""


def _skip_block_comment(sql: str, i: int) -> int:
    """Index just past the (nested) `/* ... */` comment opening at `i`."""
    depth, i, n = 1, i + 2, len(sql)
    while i < n and depth:
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
        else:
            i += 1
    return i


def lead(sql: str) -> int:
    """Offset of a statement's first real character, past blanks, `--` and `/* */` comments:
    where an error without a server position points."""
    i, n = 0, len(sql)
    while i < n:
        if sql[i].isspace():
            i += 1
        elif sql.startswith("--", i):
            nl = sql.find("\n", i)
            i = n if nl == -1 else nl + 1
        elif sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
        else:
            return i
    return 0


_CONTROL = {"BEGIN": "open", "START": "open", "COMMIT": "commit", "END": "commit",
            "ROLLBACK": "rollback", "ABORT": "rollback"}


def control(statement: Statement) -> str | None:
    """`open`, `commit` or `rollback` for a top-level transaction statement (BEGIN, START
    TRANSACTION, COMMIT, END, ROLLBACK, ABORT; not ROLLBACK TO SAVEPOINT), else None."""
    head = words(statement.sql, 3)
    if not head or head[0] not in _CONTROL:
        return None
    if head[0] == "START" and head[1:2] != ["TRANSACTION"]:
        return None
    if head[0] == "BEGIN" and head[1:2] == ["ATOMIC"]:
        return None
    if head[0] == "ROLLBACK" and "TO" in head[1:3]:
        return None
    if head[0] in ("COMMIT", "ROLLBACK") and head[1:2] == ["PREPARED"]:
        return None
    return _CONTROL[head[0]]


def outside_only(statement: Statement) -> str | None:
    """What a statement is when PostgreSQL (or TimescaleDB) refuses to run it inside a
    transaction block, as a short label (`CREATE INDEX CONCURRENTLY`...); None otherwise.

    The statements Flyway runs outside a transaction without being told: index builds and
    drops CONCURRENTLY, REINDEX CONCURRENTLY / SCHEMA / DATABASE / SYSTEM, VACUUM, CREATE /
    DROP DATABASE, ALTER DATABASE ... SET TABLESPACE, CREATE / DROP TABLESPACE, ALTER SYSTEM,
    CREATE / DROP SUBSCRIPTION, DISCARD ALL, a bare CLUSTER, DETACH PARTITION ... CONCURRENTLY,
    a TimescaleDB continuous aggregate created WITH DATA (its default) and
    CALL refresh_continuous_aggregate.
    """
    w = words(statement.sql)
    if not w:
        return None
    head = w[0]
    rest = w[1:]
    if head == "CREATE":
        kind = rest[1:2] if rest[:1] == ["UNIQUE"] else rest[:1]
        after = rest[2:3] if rest[:1] == ["UNIQUE"] else rest[1:2]
        if kind == ["INDEX"] and after == ["CONCURRENTLY"]:
            return "CREATE INDEX CONCURRENTLY"
        if rest[:1] in (["DATABASE"], ["TABLESPACE"], ["SUBSCRIPTION"]):
            return f"CREATE {rest[0]}"
        if rest[:2] == ["MATERIALIZED", "VIEW"] and _continuous(w) and not _no_data(w):
            return "CREATE MATERIALIZED VIEW ... WITH (timescaledb.continuous)"
        return None
    if head == "DROP":
        if rest[:2] == ["INDEX", "CONCURRENTLY"]:
            return "DROP INDEX CONCURRENTLY"
        if rest[:1] in (["DATABASE"], ["TABLESPACE"], ["SUBSCRIPTION"]):
            return f"DROP {rest[0]}"
        return None
    if head == "REINDEX":
        body = _after_options(rest)
        if body[1:2] == ["CONCURRENTLY"]:
            return "REINDEX ... CONCURRENTLY"
        if body[:1] in (["SCHEMA"], ["DATABASE"], ["SYSTEM"]):
            return f"REINDEX {body[0]}"
        return None
    if head == "VACUUM":
        return "VACUUM"
    if head == "ALTER":
        if rest[:1] == ["SYSTEM"]:
            return "ALTER SYSTEM"
        if rest[:1] == ["DATABASE"] and "TABLESPACE" in rest and "SET" in rest:
            return "ALTER DATABASE ... SET TABLESPACE"
        if rest[:1] == ["TABLE"] and "DETACH" in rest and rest[-1:] == ["CONCURRENTLY"]:
            return "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY"
        return None
    if head == "DISCARD" and rest[:1] == ["ALL"]:
        return "DISCARD ALL"
    if head == "CLUSTER" and not [t for t in _after_options(rest) if t != "VERBOSE"]:
        return "CLUSTER"
    if head == "CALL" and "REFRESH_CONTINUOUS_AGGREGATE" in rest[:3]:
        return "CALL refresh_continuous_aggregate"
    return None


def _after_options(tokens: list[str]) -> list[str]:
    """Tokens after a leading parenthesised option list (`REINDEX (VERBOSE) ...`)."""
    if tokens[:1] != ["("]:
        return tokens
    depth = 0
    for i, t in enumerate(tokens):
        depth += (t == "(") - (t == ")")
        if depth == 0:
            return tokens[i + 1:]
    return []


def _continuous(w: list[str]) -> bool:
    return any(w[i] == "TIMESCALEDB" and w[i + 1] == "CONTINUOUS"
               for i in range(len(w) - 1))


def _no_data(w: list[str]) -> bool:
    return w[-3:] == ["WITH", "NO", "DATA"]
