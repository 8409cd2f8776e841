"""`.devenv/stack.cache`: the resolved stack as plain JSON, so most commands skip resolving.

Parsing and validating the manifest costs pydantic, jinja2 and YAML imports (about a third of a
warm `up`). The cache is keyed on the manifest's bytes and path *and on devenv's own code*
(`code_fingerprint`): an edited devenv (an editable install, CI) never reads a stack resolved
by other code. It is JSON checked field by field against the dataclasses when read, never a
pickle: a planted file can at worst be a cache miss, never code that runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import types
import typing
from dataclasses import fields, is_dataclass
from functools import cache
from pathlib import Path
from typing import Any

import devenv
from devenv.model.stack import STATE_DIR, Stack
from devenv.store.files import require_private_dir, write_private

CACHE_FILE = "stack.cache"


def code_fingerprint(*, newest: list[int] | None = None) -> str:
    """devenv's code as it is on disk: version, interpreter, every file's path, size, mtime.

    Paths are resolved, so `python` and `python3` (one binary) or a symlinked checkout give one
    fingerprint. `newest`, if given, receives the latest mtime among devenv's files.
    """
    digest = hashlib.sha256(
        f"{devenv.__version__}\0{os.path.realpath(sys.executable)}\0".encode())
    latest = 0
    for folder, subfolders, files in os.walk(Path(devenv.__file__).resolve().parent):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        for name in sorted(files):
            stat = os.stat(os.path.join(folder, name))
            latest = max(latest, stat.st_mtime_ns)
            digest.update(f"{folder}/{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    if newest is not None:
        newest.append(latest)
    return digest.hexdigest()


def display_path(file: Path) -> str:
    """The manifest path as the user would type it (relative to the working directory)."""
    try:
        return str(file.resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return str(file)


def load(file: Path) -> Stack:
    """The resolved stack, from the cache when manifest, path and devenv's code are unchanged."""
    display = display_path(file)
    try:
        raw = file.read_bytes()
    except OSError:
        return _resolve(file, display)  # reports the missing file properly
    key = hashlib.sha256(f"{code_fingerprint()}\0{display}\0{file.resolve()}\0".encode()
                         + raw).hexdigest()
    cache_path = file.resolve().parent / STATE_DIR / CACHE_FILE
    require_private_dir(cache_path.parent)
    stack = _read(cache_path, key)
    if stack is not None:
        return stack
    stack = _resolve(file, display)
    if cache_path.parent.is_dir():
        write_private(cache_path, json.dumps({"key": key, "stack": encode(stack)}))
    return stack


def _resolve(file: Path, display: str) -> Stack:
    # pydantic, jinja2 and yaml: imported only on a cache miss (measured ~0.1 s).
    from devenv.model.resolve import load_stack  # noqa: PLC0415

    return load_stack(file, display=display)


def _read(path: Path, key: str) -> Stack | None:
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        stack = decode(Stack, data["stack"])
    except (OSError, ValueError, KeyError, TypeError):  # unreadable or foreign: a miss
        return None
    return stack if isinstance(stack, Stack) else None


# -- the dataclasses as JSON, and back with every field's type checked --------------------------
def encode(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def decode(kind: Any, data: Any) -> Any:
    """`data` as a value of `kind`; ValueError when it does not have that shape."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return decode(inner, data)
    if isinstance(kind, type) and is_dataclass(kind):
        if not isinstance(data, dict) or set(data) != {f.name for f in fields(kind)}:
            raise ValueError(f"not a {kind.__name__}")
        hints = _hints(kind)
        return kind(**{name: decode(hints[name], value) for name, value in data.items()})
    if kind is Path:
        return Path(_expect(str, data))
    if origin is tuple:
        items = _expect(list, data)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in items)
        if len(items) != len(args):
            raise ValueError("tuple of the wrong length")
        return tuple(decode(a, v) for a, v in zip(args, items, strict=True))
    if origin is dict:
        return {_expect(str, k): decode(args[1], v) for k, v in _expect(dict, data).items()}
    if kind in (str, int, bool):
        if kind is int and isinstance(data, bool):
            raise ValueError("a bool where an int belongs")
        return _expect(kind, data)
    raise ValueError(f"cannot decode {kind!r}")


def _expect(kind: type, data: Any) -> Any:
    if not isinstance(data, kind):
        raise ValueError(f"expected {kind.__name__}, got {type(data).__name__}")
    return data
