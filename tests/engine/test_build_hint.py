"""A failed image build whose log says the mirror's Release file expired says what to set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from devenv.engine.docker import Docker
from devenv.errors import DevenvError
from devenv.model.manifest import parse
from devenv.model.resolve import resolve


def failing(lines: list[str]) -> Callable[..., int]:
    def stream(self: Docker, command: list[str], on_line: Callable[[str], None]) -> int:
        for line in lines:
            on_line(line)
        return 100
    return stream


@pytest.mark.parametrize(("lines", "says"), [
    (["E: Release file for http://deb.debian.org/debian/dists/bookworm/InRelease is expired "
      "(invalid since 2d). Updates for this repository will not be applied."],
     "DEVENV_APT_UPDATE_OPTIONS='-o Acquire::Check-Valid-Until=false'"),
    (["E: Unable to locate package postgresql-18-nothing"], "which package or step failed"),
])
def test_the_build_hint_names_the_cause_the_log_shows(
        monkeypatch: pytest.MonkeyPatch, lines: list[str], says: str) -> None:
    manifest, located = parse("project: p\nservices:\n  a: {postgres: true}\n")
    docker = Docker(resolve(manifest, located, root=Path("/p")))
    monkeypatch.setattr(Docker, "stream", failing(lines))
    seen: list[str] = []
    with pytest.raises(DevenvError) as err:
        docker.build("postgres", seen.append)
    assert seen == lines
    assert err.value.message == "building the image of server 'postgres' failed (exit 100)"
    assert says in (err.value.hint or "")
