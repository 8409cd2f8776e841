"""The example stacks as committed, not as a developer's working copy has them (issue 28:
editing the example's ports, as the README suggests when they collide, must not fail tests).

Read with `git show HEAD:<path>`; outside a git checkout (an sdist), the file on disk.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from devenv.model.manifest import parse
from devenv.model.resolve import resolve
from devenv.model.stack import Stack

REPO = Path(__file__).resolve().parents[1]


def committed_text(path: Path) -> str:
    rel = path.resolve().relative_to(REPO)
    try:
        done = subprocess.run(["git", "-C", str(REPO), "show", f"HEAD:{rel.as_posix()}"],
                              capture_output=True, text=True, check=False, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return path.read_text()
    return done.stdout if done.returncode == 0 else path.read_text()


def committed_stack(manifest: Path) -> Stack:
    """The stack of a committed example manifest, rooted at its folder."""
    mf, located = parse(committed_text(manifest), source=manifest.name)
    return resolve(mf, located, root=manifest.parent)
