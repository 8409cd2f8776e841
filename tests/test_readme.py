"""The README's pytest section is docs/pytest.md, whose code the plugin tests run verbatim."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_carries_the_tested_pytest_section() -> None:
    doc = (ROOT / "docs" / "pytest.md").read_text().strip()
    body = doc.split("\n", 1)[1]  # without its own heading
    assert body in (ROOT / "README.md").read_text()


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = "pytest -n 2 --dist loadfile"
    assert f"pip install -e '.[test]' && {command}" in readme
    assert f"\n{command}\n" in ci
