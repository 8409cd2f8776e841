"""`.devenv/` planted or opened by another local user is refused before anything is read."""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from pathlib import Path

import pytest

from devenv.errors import DevenvError
from devenv.store import stackcache
from devenv.store.files import require_private_dir
from tests.cli.test_generate import run

MANIFEST = "project: demo\nservices: {auth: {postgres: true}}\n"


def test_a_symlinked_state_folder_is_refused_by_the_cli(tmp_path: Path) -> None:
    """The attack: `.devenv` -> a world-writable folder where another user planted a pickle."""
    shared = Path(tempfile.mkdtemp(prefix="devenv-shared-"))
    try:
        shared.chmod(0o1777)
        witness = tmp_path / "pwned"
        (shared / stackcache.CACHE_FILE).write_bytes(
            pickle.dumps(_Planted(str(witness))))
        (tmp_path / "devenv.yaml").write_text(MANIFEST)
        (tmp_path / ".devenv").symlink_to(shared)
        done = run(tmp_path, "status")
        assert done.returncode == 1
        assert done.stderr.startswith(
            f"error: {tmp_path.resolve() / '.devenv'}: devenv's private folder is a symbolic "
            "link: refusing to use it\nhint: remove it"), done.stderr
        assert not witness.exists()
    finally:
        shutil.rmtree(shared, ignore_errors=True)


class _Planted:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (self.path,))


def test_a_state_folder_others_may_write_is_refused(tmp_path: Path) -> None:
    state = tmp_path / ".devenv"
    state.mkdir()
    state.chmod(0o777)
    with pytest.raises(DevenvError, match=r"may be written by others \(mode 0777\)"):
        require_private_dir(state)
    state.chmod(0o700)
    require_private_dir(state)  # the user's own 0700 folder is fine
    require_private_dir(tmp_path / "missing")  # and so is none yet


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make a folder another user's")
def test_a_state_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    state = tmp_path / ".devenv"
    state.mkdir(mode=0o700)
    os.chown(state, 65534, 65534)
    with pytest.raises(DevenvError, match="belongs to uid 65534, not to you"):
        require_private_dir(state)
