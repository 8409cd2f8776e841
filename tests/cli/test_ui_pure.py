"""`devenv ui`'s pure parts: who may talk to it, and HTML with every value escaped."""

from __future__ import annotations

from devenv.cli.ui import security, views


def test_only_the_loopback_host_it_listens_on_passes() -> None:
    assert security.host_ok("127.0.0.1:8123", 8123)
    assert security.host_ok("localhost:8123", 8123)
    assert not security.host_ok("evil.example:8123", 8123)  # DNS rebinding
    assert not security.host_ok("127.0.0.1:9999", 8123)
    assert not security.host_ok(None, 8123)


def test_the_token_comes_from_the_url_or_the_cookie_and_is_compared_whole() -> None:
    assert security.token_of("abc", None) == "abc"
    assert security.token_of(None, "other=1; devenv_ui=xyz") == "xyz"
    assert security.token_of(None, None) is None
    assert security.token_of(None, "devenv_ui") is None
    assert security.same("xyz", "xyz") and not security.same("xy", "xyz")
    assert not security.same(None, "xyz")
    assert security.cookie_header("t") == "devenv_ui=t; HttpOnly; SameSite=Strict; Path=/"


def test_a_post_from_another_origin_is_refused() -> None:
    assert security.origin_ok("http://127.0.0.1:8123", 8123)
    assert security.origin_ok(None, 8123)
    assert not security.origin_ok("http://evil.example", 8123)


STATUS = {
    "servers": [
        {"name": "pg", "kind": "postgres", "state": "running", "health": "healthy",
         "port": 7001, "verified_at": 1.0, "replica_of": None},
        {"name": "pg-replica-1", "kind": "postgres", "state": "running", "health": "healthy",
         "port": 7002, "verified_at": None, "replica_of": "pg"},
    ],
    "replicas": [{"name": "pg-replica-1", "primary": "pg", "state": "streaming",
                  "lag_bytes": 0, "lag_seconds": 0.0}],
    "services": [{"service": "<b>x</b>", "database": "x", "role": "x", "version": "3",
                  "pending": 0, "drift": [], "seeds_changed": 0}],
}


def test_servers_and_replicas_each_get_a_row_and_a_lag_chart() -> None:
    html = views.servers(STATUS, {"pg": {"image": "postgres:18", "replicas": 1,
                                         "storage": "volume", "size": "8 MB"}},
                         {"pg-replica-1": [0.0, 10.0, 5.0]})
    assert html.count("<tr>") == 3
    assert "replica of pg" in html and "<polyline" in html
    assert 'data-action="replica-pause" data-target="pg"' in html


def test_every_value_is_escaped() -> None:
    html = views.services(STATUS, {})
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "put &lt;b&gt;x&lt;/b&gt;&#x27;s database back" in html
    page = views.page('a"b', 'c"d', ["pg"])
    assert 'content="c&quot;d"' in page and "devenv: a&quot;b" in page


def test_the_page_script_parses() -> None:
    """A quote escaped in Python but not in JavaScript broke the whole page once: parse the
    inline script with node when it is there, else check its quotes balance per line."""
    import re
    import shutil
    import subprocess

    script = re.search(r"<script>(.*)</script>", views.page("p", "c", ["pg"]), re.S)
    assert script is not None
    node = shutil.which("node") or shutil.which("nodejs")
    if node is not None:
        done = subprocess.run([node, "--check", "-"], input=script.group(1), text=True,
                              capture_output=True, check=False)
        assert done.returncode == 0, done.stderr
        return
    for line in script.group(1).splitlines():
        assert line.count("'") % 2 == 0, line
