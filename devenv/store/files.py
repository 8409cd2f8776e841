"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from devenv.errors import DevenvError


def write_atomic(path: Path, content: str, *, mode: int = 0o644) -> bool:
    """Write `content` to `path` if it differs; return True when the file changed."""
    try:
        if path.read_text() == content and (path.stat().st_mode & 0o777) == mode:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def write_private(path: Path, content: str) -> bool:
    """Secrets and .env files: mode 0600 inside a 0700 folder."""
    ensure_private_dir(path.parent)
    return write_atomic(path, content, mode=0o600)


def ensure_private_dir(path: Path) -> None:
    """A 0700 folder, and 0700 for each missing parent too (mkdir(parents=True) would give
    those the umask's mode: .devenv/secrets/ made for .devenv/secrets/<server>/)."""
    if not path.parent.exists():
        ensure_private_dir(path.parent)
    path.mkdir(exist_ok=True, mode=0o700)
    require_private_dir(path)


def require_private_dir(path: Path) -> None:
    """Refuse a state folder another local user could have planted or can write into.

    `.devenv/` holds passwords, the stack cache and the reset standby's socket: a symlink (into
    a world-writable /tmp), a folder owned by someone else, or one others may write would let
    them feed devenv files or a socket (issue 14). A missing folder is fine (created 0700).
    """
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    problem = None
    if stat.S_ISLNK(info.st_mode):
        problem = "is a symbolic link"
    elif not stat.S_ISDIR(info.st_mode):
        problem = "is not a folder"
    elif info.st_uid != os.geteuid():
        problem = f"belongs to uid {info.st_uid}, not to you (uid {os.geteuid()})"
    elif info.st_mode & 0o022:
        problem = f"may be written by others (mode {stat.S_IMODE(info.st_mode):04o})"
    if problem:
        raise DevenvError(f"{path}: devenv's private folder {problem}: refusing to use it",
                          hint=f"remove it (`rm -r {path}`, then `devenv up --resync-passwords` "
                          "if data volumes exist) or make it yours: "
                          f"`chmod 700 {path}` as its owner")


def write_private_bytes(path: Path, content: bytes) -> None:
    """A private binary file (a cache), written atomically, mode 0600."""
    ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
