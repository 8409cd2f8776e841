"""The generated files on disk: compose/ (committed) and the private ones in .devenv/.

One place writes them (`generate`, `up`, `down`) and one compares them (`generate --check`,
`doctor`); rendering itself is pure (devenv.model.render).
"""

from __future__ import annotations

from pathlib import Path

from devenv.model import render
from devenv.model.credentials import Secrets
from devenv.model.stack import Stack
from devenv.store import passwords
from devenv.store.files import write_atomic, write_private


def stale(stack: Stack) -> list[Path]:
    """The committed files that differ from what the manifest renders to."""
    out = []
    for rel, text in render.compose_files(stack).items():
        try:
            current = (stack.root / rel).read_text()
        except (FileNotFoundError, UnicodeDecodeError):
            current = None
        if current != text:
            out.append(rel)
    return out


def write(stack: Stack, ports: dict[str, int], creds: Secrets | None = None) -> list[Path]:
    """Write compose files and private state files; return those that changed."""
    creds = creds or passwords.ensure(stack)
    changed = [rel for rel, text in render.compose_files(stack).items()
               if write_atomic(stack.root / rel, text)]
    for rel, text in render.state_files(stack, creds, ports).items():
        if write_private(stack.root / rel, text):
            changed.append(rel)
    # Before Compose secrets, each server's passwords were in .devenv/secrets/<server>.env.
    for legacy in (stack.root / stack.state_dir / "secrets").glob("*.env"):
        legacy.unlink(missing_ok=True)
    return changed
