"""The frozen set of a stack's passwords that the rest of devenv reads, and how one is made.

Kept in `.devenv/secrets.json` by `devenv.store.passwords`; generated once and never changed:
the official images read POSTGRES_PASSWORD only on first init. Which keys a stack needs is the
kinds' business (devenv.model.credentials).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

_ALPHABET = string.ascii_letters + string.digits  # safe unquoted in URLs, dotenv and userlists


@dataclass(frozen=True)
class Secrets:
    passwords: dict[str, str]

    def get(self, server: str, user: str) -> str:
        return self.passwords[f"{server}/{user}"]

    def all(self) -> list[str]:
        return sorted(set(self.passwords.values()))


def new_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(32))
