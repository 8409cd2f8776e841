"""Helper processes: the same interpreter running one of devenv's modules.

devenv's own directory goes first on the child's PYTHONPATH, so a child finds the devenv that
started it however that one was imported (installed, editable, or a checkout on sys.path).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import devenv


def start(module: str, *args: str, stdin: int | IO[Any] | None = subprocess.DEVNULL,
          stdout: int | IO[Any] | None = None, stderr: int | IO[Any] | None = None,
          cwd: Path | None = None, detach: bool = False) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    home = str(Path(devenv.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (home, env.get("PYTHONPATH", "")) if p)
    return subprocess.Popen([sys.executable, "-m", module, *args], stdin=stdin, stdout=stdout,
                            stderr=stderr, cwd=cwd, env=env, start_new_session=detach)
