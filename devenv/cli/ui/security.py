"""Who may talk to `devenv ui` (pure): the checks every request passes, Jupyter's model.

- A random token, in the URL printed and opened, then in an HttpOnly, SameSite=Strict cookie:
  another local user's process or a web page cannot guess it.
- The Host header must name the loopback address the server listens on: a DNS-rebinding page
  (evil.example resolving to 127.0.0.1) sends its own host name and is refused.
- A state-changing request is a POST carrying the page's CSRF token in a header (a cross-site
  form cannot set headers) from the same origin.
"""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie

COOKIE = "devenv_ui"
CSRF_HEADER = "X-Devenv-CSRF"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def host_ok(host: str | None, port: int) -> bool:
    return host is not None and host.lower() in {f"{name}:{port}" for name in LOOPBACK_NAMES}


def token_of(query_token: str | None, cookie_header: str | None) -> str | None:
    if query_token:
        return query_token
    if not cookie_header:
        return None
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(cookie_header)
    except Exception:  # a malformed cookie header is no token
        return None
    morsel = cookie.get(COOKIE)
    return morsel.value if morsel is not None else None


def same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def origin_ok(origin: str | None, port: int) -> bool:
    """A POST's Origin (browsers send it on every POST): this server's, or none (a client
    that is not a browser, which the token and CSRF header hold anyway)."""
    if origin is None:
        return True
    return origin.lower() in {f"http://{name}:{port}" for name in LOOPBACK_NAMES}


def cookie_header(token: str) -> str:
    return f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
