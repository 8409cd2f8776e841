"""The migrate image's wheelhouse: the running devenv as a wheel, the dependencies cached."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from devenv import DISTRIBUTION, __version__
from devenv.store import migrateimage


def test_the_wheel_of_the_running_devenv_is_the_same_bytes_each_time() -> None:
    name, data, requires = migrateimage.own_wheel()
    assert name == f"devenv_stack-{__version__}-py3-none-any.whl"
    assert migrateimage.own_wheel()[1] == data  # fixed times and order: re-exports change nothing
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(f"devenv_stack-{__version__}.dist-info/METADATA").decode()
        record = wheel.read(f"devenv_stack-{__version__}.dist-info/RECORD").decode()
        assert wheel.testzip() is None
    assert "devenv/py.typed" in names and "devenv/model/templates/pgbouncer.ini.j2" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert f"Name: {DISTRIBUTION}\n" in metadata and f"Version: {__version__}\n" in metadata
    assert len(record.splitlines()) == len(names)
    assert any(r.startswith("psycopg[binary]") for r in requires)
    assert not [r for r in requires if "extra ==" in r]  # the test extra stays out


def test_dependency_wheels_are_downloaded_once_per_requirement_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def download(requires: list[str], platforms: list[str], into: Path) -> None:
        calls.append(platforms)
        (into / f"dep-1.0-cp313-cp313-{platforms[0]}.whl").write_bytes(b"wheel")

    monkeypatch.setenv(migrateimage.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(migrateimage, "_pip_download", download)
    first = migrateimage._dependencies(["a>=1"])
    assert [p.name for p in first] == ["dep-1.0-cp313-cp313-manylinux_2_28_aarch64.whl",
                                       "dep-1.0-cp313-cp313-manylinux_2_28_x86_64.whl"]
    assert len(calls) == 2
    assert migrateimage._dependencies(["a>=1"]) == first  # offline: the cache answers
    assert len(calls) == 2
    migrateimage._dependencies(["a>=2"])  # another requirement set: downloaded
    assert len(calls) == 4
