"""`.devenv/secrets.json`: the 0600 file that keeps a stack's generated passwords.

Passwords live only there, never in a committed file. They are created once and kept: the
official images read POSTGRES_PASSWORD only on first init, so regenerating a password would
lock devenv out of an existing volume.
"""

from __future__ import annotations

import json
from pathlib import Path

from devenv.errors import DevenvError
from devenv.masking import remember
from devenv.model.credentials import Secrets, needed, new_password
from devenv.model.stack import Stack
from devenv.store.files import require_private_dir, write_private

SECRETS_FILE = "secrets.json"
RECOVERY_HINT = ("move {path} aside and run `devenv up --resync-passwords`: devenv sets new "
                 "passwords on the servers and keeps their data (README: 'Recovering .devenv/')")


def load(state_dir: Path) -> Secrets | None:
    require_private_dir(state_dir)
    path = state_dir / SECRETS_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DevenvError(
            f"{path}: cannot read devenv's state ({exc})",
            hint=RECOVERY_HINT.format(path=path),
        ) from None
    passwords = data.get("passwords") if isinstance(data, dict) else None
    if not isinstance(passwords, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in passwords.items()
    ):
        raise DevenvError(
            f"{path}: devenv's state is corrupted (no 'passwords' mapping)",
            hint=RECOVERY_HINT.format(path=path),
        )
    remember(passwords.values())
    return Secrets(dict(passwords))


def completed(stack: Stack) -> tuple[Secrets, list[str]]:
    """The stack's passwords with the missing ones made up in memory, and the keys of those
    (every key when there is no file yet). Nothing is written: `ensure` does, `plan` not."""
    current = load(stack.root / stack.state_dir)
    passwords = dict(current.passwords) if current else {}
    missing = [key for key in needed(stack) if key not in passwords]
    for key in missing:
        passwords[key] = new_password()
    remember(passwords.values())
    return Secrets(passwords), (missing if current is not None else list(passwords))


def ensure(stack: Stack) -> Secrets:
    """Load the stack's passwords, creating the missing ones (kept across runs)."""
    state_dir = stack.root / stack.state_dir
    secrets, missing = completed(stack)
    passwords = secrets.passwords
    if missing or not (state_dir / SECRETS_FILE).exists():
        body = json.dumps({"passwords": dict(sorted(passwords.items()))}, indent=2) + "\n"
        write_private(state_dir / SECRETS_FILE, body)
    return secrets
