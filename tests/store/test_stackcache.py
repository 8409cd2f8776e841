"""The resolved-stack cache: plain JSON, checked field by field, keyed on manifest and code."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest

from devenv.model import resolve
from devenv.model.resolve import load_stack
from devenv.store import stackcache

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the repo's example manifest with its folders, and an empty .devenv/."""
    shutil.copy(REPO / "devenv.yaml", tmp_path / "devenv.yaml")
    for folder in ("migrations", "seeds"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    (tmp_path / ".devenv").mkdir(mode=0o700)
    return tmp_path / "devenv.yaml"


def no_resolving(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("resolved again: the cache was not used")

    monkeypatch.setattr(resolve, "load_stack", refuse)


def test_a_stack_survives_json_unchanged(project: Path) -> None:
    stack = load_stack(project)
    data = json.loads(json.dumps(stackcache.encode(stack)))
    assert stackcache.decode(type(stack), data) == stack


def test_the_second_load_reads_the_cache(project: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    first = stackcache.load(project)
    cache = project.parent / ".devenv" / stackcache.CACHE_FILE
    assert cache.stat().st_mode & 0o777 == 0o600
    no_resolving(monkeypatch)
    assert stackcache.load(project) == first


def test_other_devenv_code_never_reads_it(project: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    stackcache.load(project)
    monkeypatch.setattr(stackcache, "code_fingerprint", lambda **kw: "an edited devenv")
    calls: list[Path] = []
    real = resolve.load_stack
    monkeypatch.setattr(resolve, "load_stack",
                        lambda path, **kw: calls.append(path) or real(path, **kw))
    stackcache.load(project)
    assert calls == [project]


def test_an_edited_manifest_is_resolved_again(project: Path) -> None:
    stackcache.load(project)
    project.write_text(project.read_text().replace("project: capsule", "project: edited"))
    assert stackcache.load(project).project == "edited"


class Planted:
    """What an attacker pickles: unpickling it would create a file."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (os.environ["DEVENV_PLANTED"],))


def test_a_planted_pickle_is_never_run(project: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    witness = tmp_path / "pwned"
    monkeypatch.setenv("DEVENV_PLANTED", str(witness))
    cache = project.parent / ".devenv" / stackcache.CACHE_FILE
    cache.write_bytes(pickle.dumps(Planted()))
    stack = stackcache.load(project)
    assert not witness.exists()
    assert stack == load_stack(project, display=stackcache.display_path(project))


@pytest.mark.parametrize("damage", ["port as text", "unknown field", "missing field", "garbage"])
def test_a_cache_of_the_wrong_shape_is_a_miss(project: Path, damage: str) -> None:
    good = stackcache.load(project)
    cache = project.parent / ".devenv" / stackcache.CACHE_FILE
    data = json.loads(cache.read_text())
    server = next(iter(data["stack"]["servers"].values()))
    if damage == "port as text":
        server["container_port"] = "5432"
    elif damage == "unknown field":
        server["extra"] = 1
    elif damage == "missing field":
        del server["image"]
    text = "{not json" if damage == "garbage" else json.dumps(data)
    cache.write_text(text)
    assert stackcache.load(project) == good


def test_the_code_fingerprint_is_the_same_through_a_symlinked_interpreter(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m devenv.cli reset` then `devenv reset` (python vs python3: one binary) made
    the standby exit as if devenv's code had changed."""
    import sys

    before = stackcache.code_fingerprint()
    alias = tmp_path / "python-alias"
    alias.symlink_to(sys.executable)
    monkeypatch.setattr(sys, "executable", str(alias))
    assert stackcache.code_fingerprint() == before
    newest: list[int] = []
    stackcache.code_fingerprint(newest=newest)
    assert newest and newest[0] > 0
