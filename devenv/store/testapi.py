"""The test-database API's state in .devenv/testapi.json (0600): where it listens and, per
template, how many test databases are made ahead and in use, for `devenv status`.

Written by the running `devenv serve-tests` after every change; a file whose process is gone
(the server was killed) is reported as such, never as a live API.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from devenv.model.stack import Stack
from devenv.store.files import write_private

STATE_FILE = "testapi.json"


def path(stack: Stack) -> Path:
    return stack.root / stack.state_dir / STATE_FILE


def write(stack: Stack, state: dict[str, Any]) -> None:
    write_private(path(stack), json.dumps(state, indent=2, sort_keys=True))


def remove(stack: Stack) -> None:
    path(stack).unlink(missing_ok=True)


def read(stack: Stack) -> dict[str, Any] | None:
    """The state of a running API, or None (none started, or its process is gone)."""
    try:
        state = json.loads(path(stack).read_text())
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(state, dict) or not alive(int(state.get("pid", 0))):
        return None
    return state


def alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
