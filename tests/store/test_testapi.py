"""The test API's state file: private, and ignored once its process is gone."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

from devenv.data.testapi import dead_owner, live_owner
from devenv.store import testapi
from tests.committed import committed_stack

ROOT = Path(__file__).resolve().parents[2]


def gone_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_written_0600_and_read_back_while_its_process_lives(tmp_path: Path) -> None:
    stack = committed_stack(ROOT / "examples" / "pcc" / "devenv.yaml")
    path = tmp_path / ".devenv" / testapi.STATE_FILE
    stack = dataclasses.replace(stack, root=tmp_path)
    testapi.write(stack, {"pid": os.getpid(), "url": "http://127.0.0.1:1", "templates": []})
    assert path.stat().st_mode & 0o777 == 0o600
    assert testapi.read(stack) == {"pid": os.getpid(), "url": "http://127.0.0.1:1",
                                   "templates": []}
    testapi.write(stack, {"pid": gone_pid(), "url": "http://127.0.0.1:1", "templates": []})
    assert testapi.read(stack) is None  # a killed server is no live API
    testapi.remove(stack)
    assert not path.exists() and testapi.read(stack) is None


def test_dead_owner_is_only_an_api_process_that_is_gone() -> None:
    assert dead_owner(f"auth:testapi-{gone_pid()}")
    assert dead_owner(f"auth:testapi-{gone_pid()}:somehash")
    assert not dead_owner(f"auth:testapi-{os.getpid()}")
    assert not dead_owner(f"auth:pytest-{gone_pid()}")  # the plugin's janitor's, not ours
    assert not dead_owner("auth")
    assert not dead_owner("auth:testapi-x")


def test_live_owner_is_only_an_api_process_that_runs() -> None:
    assert live_owner(f"auth:testapi-{os.getpid()}")
    assert not live_owner(f"auth:testapi-{gone_pid()}")
    assert not live_owner(f"auth:pytest-{os.getpid()}")
    assert not live_owner("auth")
