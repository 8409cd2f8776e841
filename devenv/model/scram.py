"""Check a password against a stored SCRAM-SHA-256 secret without logging in or issuing DDL.

This is what makes a second `devenv up` issue no ALTER ROLE: the password is only reset when
the stored secret does not match the one in .devenv/.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os


def matches(password: str, secret: str | None) -> bool:
    """True when `secret` (pg_authid.rolpassword) was made from `password`."""
    if not secret or not secret.startswith("SCRAM-SHA-256$"):
        return False
    try:
        _, params, keys = secret.split("$")
        iterations, salt = params.split(":")
        stored_key = keys.split(":")[0]
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt),
                                     int(iterations))
    except (ValueError, TypeError):
        return False
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), base64.b64decode(stored_key))


def make_secret(password: str, *, iterations: int = 4096, salt: bytes | None = None) -> str:
    """A SCRAM-SHA-256 secret as PostgreSQL stores it (and accepts in ALTER ROLE ... PASSWORD).

    Hashing on our side keeps the plain password out of every server log, and works when
    there is no password-authenticated connection yet (`up --resync-passwords`).
    """
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
