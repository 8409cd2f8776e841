"""The generated .env.example: every service's variable names, no value, no password."""

from __future__ import annotations

from pathlib import Path

import pytest

from devenv.errors import DevenvError
from devenv.model import envexample, manifest
from devenv.model.resolve import resolve
from devenv.model.stack import Stack
from devenv.store import generated

MANIFEST = """\
project: shop
servers:
  pg: {kind: postgres, replicas: 1}
services:
  auth:
    postgres: pg
    redis: true
    pgbouncer: true
    env: {AUTH_DB: "{{ db.name }}"}
  billing:
    postgres: pg
    reads: [auth]
"""


def stack_of(text: str, root: Path = Path("/p")) -> Stack:
    mf, located = manifest.parse(text)
    return resolve(mf, located, root=root)


def test_names_only_for_every_service() -> None:
    text = envexample.text(stack_of(MANIFEST))
    assigned = [line for line in text.splitlines() if "=" in line and not line.startswith("#")]
    assert all(line.endswith("=") for line in assigned)  # no value, so no password
    assert "# -- auth: .devenv/env/auth.env" in text
    for name in ("DATABASE_URL=", "DATABASE_READONLY_URL=", "REDIS_URL=", "REDIS_KEY_PREFIX=",
                 "AUTH_DB=", "AUTH_DATABASE_URL=", "PGPASSWORD="):
        assert name in assigned, name
    assert "# reads auth's database (SELECT only)" in text
    assert text.startswith(envexample.HEADER)


def test_env_example_false_writes_none_and_a_bad_path_is_refused() -> None:
    assert stack_of(MANIFEST + "env_example: false\n").env_example is None
    with pytest.raises(DevenvError) as err:
        stack_of(MANIFEST + "env_example: .devenv/x\n")
    assert "env_example: '.devenv/x' is a file or folder devenv reads or generates" in \
        err.value.message
    with pytest.raises(DevenvError) as err:
        stack_of(MANIFEST.replace("    reads: [auth]\n",
                                  "    reads: [auth]\n    env_file: .env.example\n"))
    assert "'.env.example' is also env_example" in err.value.message


def test_a_hand_kept_env_example_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text("DATABASE_URL=postgres://mine\n")
    stack = stack_of(MANIFEST, tmp_path)
    with pytest.raises(DevenvError) as err:
        generated.stale(stack)
    assert err.value.message == (".env.example exists and was not written by devenv: refusing "
                                 "to replace it")
    assert (tmp_path / ".env.example").read_text() == "DATABASE_URL=postgres://mine\n"
