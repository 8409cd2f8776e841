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
