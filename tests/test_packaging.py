"""The package's name, its one version and the files that must agree with them (issue 25)."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from devenv import DISTRIBUTION, __version__

REPO = Path(__file__).resolve().parents[1]


def test_the_distribution_has_a_name_of_its_own_and_reads_the_one_version() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["name"] == DISTRIBUTION == "devenv-stack"
    assert "version" not in project and project["dynamic"] == ["version"]
    assert project["scripts"] == {"devenv": "devenv.cli.app:main"}
    assert project["entry-points"]["pytest11"] == {"devenv": "devenv.pytest_plugin"}
    dynamic = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert dynamic["dynamic"]["version"] == {"attr": "devenv.__version__"}


def test_the_newest_changelog_entry_is_the_version() -> None:
    text = (REPO / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n")
    assert "[Keep a Changelog](https://keepachangelog.com/" in text
    releases = re.findall(r"^## \[(\d[^\]]*)\] - (\d{4}-\d{2}-\d{2})$", text, re.MULTILINE)
    assert releases, "no release entry"
    assert releases[0][0] == __version__
    headings = re.findall(r"^## \[([^\]]+)\]", text, re.MULTILINE)
    assert headings[0] == "Unreleased" and headings[1] == __version__


# Ways of naming the package index's `devenv` (an unrelated project) as something to install.
INDEX_NAME = re.compile(
    r"(pip3?|pipx|uv (?:tool|pip)) install (?:--?[\w-]+ )*['\"]?devenv(?:[\[=<>~!'\"\s]|$)"
    r"|\bdevenv(?:==|~=|>=)\d|DEVENV_SPEC"
    r"|uv add ['\"]?devenv(?:[\[=<>~!'\"\s]|$)|^name = \"devenv\"$", re.MULTILINE)


def test_no_file_of_the_repo_names_the_index_package_devenv() -> None:
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    found = []
    for name in files:
        path = REPO / name
        if name == "tests/test_packaging.py" or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        found += [f"{name}: {m.group(0).strip()}" for m in INDEX_NAME.finditer(text)]
    assert found == []
