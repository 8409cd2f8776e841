"""The generated files on disk: compose/ (committed) and the private ones in .devenv/.

One place writes them (`generate`, `up`, `down`) and one compares them (`generate --check`,
`doctor`); rendering itself is pure (devenv.model.render).
"""

from __future__ import annotations

from pathlib import Path

from devenv.errors import DevenvError
from devenv.model import envexample, render
from devenv.model.secrets import Secrets
from devenv.model.stack import Stack
from devenv.store import passwords
from devenv.store.files import write_atomic, write_private


def refuse_foreign_example(stack: Stack) -> None:
    """A project's own hand-kept `.env.example` is never overwritten: say how to keep both."""
    if stack.env_example is None:
        return
    current = _text(stack.root / stack.env_example)
    if current is not None and not current.startswith(envexample.HEADER):
        raise DevenvError(
            f"{stack.env_example} exists and was not written by devenv: refusing to replace it",
            hint=f"set `env_example: false` in {stack.manifest_name} to keep yours, or "
            "`env_example: <another path>` for devenv's list of each service's variables")


def stale(stack: Stack) -> list[Path]:
    """The committed files that differ from what the manifest renders to."""
    refuse_foreign_example(stack)
    out = []
    for rel, text in render.compose_files(stack).items():
        try:
            current = (stack.root / rel).read_text()
        except (FileNotFoundError, UnicodeDecodeError):
            current = None
        if current != text:
            out.append(rel)
    return out


def pending(stack: Stack, ports: dict[str, int], creds: Secrets) -> list[tuple[Path, bool]]:
    """(file, whether it exists) for every generated file `write` would change: what `devenv
    plan` lists, read from disk only."""
    refuse_foreign_example(stack)
    out = []
    rendered = {**render.compose_files(stack), **render.state_files(stack, creds, ports)}
    for rel, text in rendered.items():
        old = _text(stack.root / rel)
        if old != text:
            out.append((rel, old is not None))
    return out


Previous = dict[Path, "str | None"]  # a file's text before `write` changed it; None: absent


def write(stack: Stack, ports: dict[str, int], creds: Secrets | None = None, *,
          previous: Previous | None = None) -> list[Path]:
    """Write compose files and private state files; return those that changed.

    `previous` receives what each changed file held before, for `restore`: a refusal after
    the files are written (a port taken, an image that lacks an extension) leaves them as
    they were."""
    refuse_foreign_example(stack)
    creds = creds or passwords.ensure(stack)
    changed = []
    for rel, text in render.compose_files(stack).items():
        old = _text(stack.root / rel) if previous is not None else None
        if write_atomic(stack.root / rel, text):
            changed.append(rel)
            if previous is not None:
                previous[rel] = old
    for rel, text in render.state_files(stack, creds, ports).items():
        old = _text(stack.root / rel) if previous is not None else None
        if write_private(stack.root / rel, text):
            changed.append(rel)
            if previous is not None:
                previous[rel] = old
    # Before Compose secrets, each server's passwords were in .devenv/secrets/<server>.env.
    for legacy in (stack.root / stack.state_dir / "secrets").glob("*.env"):
        legacy.unlink(missing_ok=True)
    return changed


def restore(stack: Stack, previous: Previous) -> None:
    """Put back what `write` replaced (private files stay private); remove what it added."""
    for rel, text in previous.items():
        path = stack.root / rel
        if text is None:
            path.unlink(missing_ok=True)
        elif (stack.root / rel).is_relative_to(stack.root / stack.state_dir):
            write_private(path, text)
        else:
            write_atomic(path, text)


def _text(path: Path) -> str | None:
    try:
        return path.read_text()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
