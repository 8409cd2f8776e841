"""Every way devenv hides a password in what it prints: one leaf module, imported by all.

Passwords are remembered as they are loaded (`remember`), so the console and error reports
mask them even in text quoted from a server's or a tool's output (defence in depth).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_KNOWN: set[str] = set()
_URL_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")


def remember(passwords: Iterable[str]) -> None:
    """Mask these in everything this process prints from now on."""
    _KNOWN.update(p for p in passwords if p)


def mask(text: str, passwords: Iterable[str] | None = None) -> str:
    """Every password in `text` (the given ones, or every one remembered) replaced by ****."""
    for password in _KNOWN if passwords is None else passwords:
        if password and password in text:
            text = text.replace(password, "****")
    return text


def mask_url(url: str) -> str:
    """The password part of a URL replaced by ****, whether or not devenv generated it."""
    return _URL_PASSWORD.sub(r"\1****@", url)


def mask_values(variables: dict[str, str], passwords: Iterable[str]) -> dict[str, str]:
    known = list(passwords)
    return {name: mask(value, known) for name, value in variables.items()}
