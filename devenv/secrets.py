"""Generated passwords: which ones a stack needs (pure) and the 0600 file that keeps them.

Passwords live only in `.devenv/secrets.json`, never in a committed file. They are created
once and kept: the official images read POSTGRES_PASSWORD only on first init, so regenerating
a password would lock devenv out of an existing volume.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from devenv.errors import DevenvError
from devenv.files import write_private
from devenv.stack import ADMIN_USER, Stack

SECRETS_FILE = "secrets.json"
RECOVERY_HINT = ("move {path} aside and run `devenv up --resync-passwords`: devenv sets new "
                 "passwords on the servers and keeps their data (README: 'Recovering .devenv/')")
_ALPHABET = string.ascii_letters + string.digits  # safe unquoted in URLs, dotenv and userlists


def needed(stack: Stack) -> list[str]:
    """Every key `<server>/<user>` the stack needs a password for, in a stable order."""
    keys: list[str] = []
    for server in stack.servers.values():
        if server.is_database:
            keys.append(f"{server.name}/{ADMIN_USER}")
            keys += [f"{server.name}/{r}" for r in (stack.migration_role, stack.admin_role) if r]
        elif server.kind == "redis":
            keys.append(f"{server.name}/default")
        elif server.kind == "pgbouncer":
            keys.append(f"{server.name}/pgbouncer")
    for svc in stack.services.values():
        if svc.server and svc.role:
            keys.append(f"{svc.server}/{svc.role}")
        if svc.redis:
            keys.append(f"{svc.redis}/{svc.name}")
    return list(dict.fromkeys(keys))


@dataclass(frozen=True)
class Secrets:
    passwords: dict[str, str]

    def get(self, server: str, user: str) -> str:
        return self.passwords[f"{server}/{user}"]

    def all(self) -> list[str]:
        return sorted(set(self.passwords.values()))


# Every password this process has loaded: the console masks them in anything it prints
# (defence in depth for messages that quote a server's or a tool's output).
KNOWN: set[str] = set()


def mask(text: str, passwords: Iterable[str]) -> str:
    """Every password in `text` replaced by ****."""
    for password in passwords:
        if password in text:
            text = text.replace(password, "****")
    return text


def mask_known(text: str) -> str:
    return mask(text, KNOWN)


def new_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(32))


def load(state_dir: Path) -> Secrets | None:
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
    KNOWN.update(passwords.values())
    return Secrets(dict(passwords))


def ensure(stack: Stack) -> Secrets:
    """Load the stack's passwords, creating the missing ones (kept across runs)."""
    state_dir = stack.root / stack.state_dir
    current = load(state_dir)
    passwords = dict(current.passwords) if current else {}
    missing = [key for key in needed(stack) if key not in passwords]
    if missing or current is None:
        for key in missing:
            passwords[key] = new_password()
        body = json.dumps({"passwords": dict(sorted(passwords.items()))}, indent=2) + "\n"
        write_private(state_dir / SECRETS_FILE, body)
    KNOWN.update(passwords.values())
    return Secrets(passwords)
