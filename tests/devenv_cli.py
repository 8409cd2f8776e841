"""The `devenv` command as a user runs it: the console script installed beside this Python."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def devenv_command() -> list[str]:
    beside = Path(sys.executable).with_name("devenv")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("devenv")
    return [found] if found else [sys.executable, "-c", "from devenv.cli.app import main; main()"]
