"""The `devenv export kubernetes` folder on disk: its committed manifests and, git-ignored
beside them, the Secrets and the passwords they hold.

Passwords are made once per export folder and kept in its passwords.json (0600): re-exporting
changes no password, so re-applying changes no role's password and restarts no Redis. They are
never the local .devenv/ ones: a shared namespace gets passwords of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

from devenv.errors import DevenvError
from devenv.masking import remember
from devenv.model import kubernetes
from devenv.model.credentials import Secrets, needed, new_password
from devenv.model.stack import Stack
from devenv.model.yamlio import KeyPath
from devenv.store import migrateimage
from devenv.store.files import write_atomic, write_private


def passwords(stack: Stack, folder: Path) -> Secrets:
    """The folder's passwords, the missing ones made (kept across exports)."""
    path = folder / kubernetes.PASSWORDS_FILE
    current: dict[str, str] = {}
    try:
        data = json.loads(path.read_text())
        current = {str(k): str(v) for k, v in data["passwords"].items()}
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DevenvError(f"{path}: cannot read the export's passwords ({exc})",
                          hint="move it aside to make new ones (the namespace's roles then "
                          "get new passwords on the next apply)") from None
    missing = [k for k in needed(stack) if k not in current]
    for key in missing:
        current[key] = new_password()
    if missing or not path.exists():
        write_private(path, json.dumps({"passwords": dict(sorted(current.items()))},
                                       indent=2) + "\n")
    remember(current.values())
    return Secrets(current)


def stale(stack: Stack, folder: Path, namespace: str, *, external: bool,
          lines: dict[KeyPath, int]) -> list[Path]:
    """The committed files of the folder that differ from what the manifest renders to."""
    out = []
    for rel, text in kubernetes.files(stack, namespace, external=external,
                                      lines=lines).items():
        try:
            current: str | None = (folder / rel).read_text()
        except (FileNotFoundError, UnicodeDecodeError, NotADirectoryError):
            current = None
        if current != text:
            out.append(folder / rel)
    return out


def write(stack: Stack, folder: Path, namespace: str, *, external: bool,
          lines: dict[KeyPath, int]) -> list[Path]:
    """Write the export and the migrate image's build context; return what changed.
    Rendering comes first, so a manifest CNPG cannot carry fails before any file is written."""
    rendered = kubernetes.files(stack, namespace, external=external, lines=lines)
    changed = [folder / rel for rel, text in rendered.items() if write_atomic(folder / rel, text)]
    changed += migrateimage.write(stack, folder)
    secret_file = folder / kubernetes.SECRETS_FILE
    if external:
        secret_file.unlink(missing_ok=True)  # an old export's passwords would still be applied
        return changed
    creds = passwords(stack, folder)
    for rel, text in kubernetes.secret_files(stack, creds).items():
        if write_private(folder / rel, text):
            changed.append(folder / rel)
    return changed
