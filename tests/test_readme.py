"""The README's pytest section is docs/pytest.md, whose code the plugin tests run verbatim."""

from __future__ import annotations

from pathlib import Path

from docs import readme_output

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


def _first_shell_block(readme: str) -> str:
    return readme.split("```sh\n", 1)[1].split("```", 1)[0]


def _section(readme: str, heading: str) -> str:
    return readme.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_a_team_installs_the_distribution_first() -> None:
    """Issue 25: users of their own project come first, with the index's name of devenv
    (never `devenv`, another project there), as a tool and as a test dependency; and what a
    devenv.sh user (the same command name) does."""
    readme = (ROOT / "README.md").read_text()
    assert readme.index("\n## Install it in your project\n") < readme.index(
        "\n## The two commands\n")
    first = _first_shell_block(readme)
    assert first.splitlines() == [
        "pipx install devenv-stack      # or: uv tool install devenv-stack",
        "devenv init && devenv doctor && devenv up"]
    section = _section(readme, "Install it in your project")
    assert "pip install 'devenv-stack[pytest]'" in section
    assert "devenv.sh" in section and "pipx install --suffix=-stack\ndevenv-stack" in section
    assert "DEVENV_FILE" in section


def test_the_repo_s_own_commands_make_a_venv_and_check_docker_first() -> None:
    """A newcomer's first command in this repo installs into a venv, not whatever Python is
    active, and `devenv doctor` checks Docker and Compose v2 before `up` needs them."""
    section = _section((ROOT / "README.md").read_text(), "The two commands")
    first = _first_shell_block("\n" + section)
    assert first.splitlines()[0].startswith("python3 -m venv .venv && . .venv/bin/activate")
    assert "pip install -e . && devenv doctor && devenv up" in first
    intro = section.split("```sh\n", 1)[0]
    assert "Docker engine with\nCompose v2" in intro and "`devenv doctor` checks" in intro


def test_sample_output_is_generated_by_the_script_not_by_hand() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme.count(readme_output.BEGIN) == 1 and readme.count(readme_output.END) == 1
    block = readme.split(readme_output.BEGIN, 1)[1].split(readme_output.END, 1)[0]
    assert "capsule is up (" in block and "$ devenv status" in block
    # The figures the issue found stale are gone, and the block is what the script writes.
    assert "13.22s" not in readme and "18.40s" not in readme
    assert readme_output.replace_block(readme, block) == readme


def test_readme_output_abridges_and_puts_the_repo_back() -> None:
    raw = "Provisioning ... done\n" + "".join(f"  created role r{i}\n" for i in range(8)) + \
        "readme-1a2b is up (3.10s)\n    DATABASE_URL=postgresql://auth:****@127.0.0.1:41234/auth"
    shown = readme_output.as_repo(readme_output.abridge(raw), "readme-1a2b",
                                  {"pgbouncer": 41234}, {"pgbouncer": 7130})
    assert shown.splitlines() == [
        "Provisioning ... done", *[f"  created role r{i}" for i in range(5)], "  ...",
        "capsule is up (3.10s)", "    DATABASE_URL=postgresql://auth:****@127.0.0.1:7130/auth"]


def test_readme_states_the_colour_rule_the_console_keeps() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "prints no colour codes of its own" not in readme  # it has a green spinner
    assert "only on a terminal; never when the output is piped" in readme
    assert "never with `NO_COLOR` set" in readme
