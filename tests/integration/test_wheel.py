"""The package people install, proven outside this repo (issue 25).

`python -m build` makes the sdist and, from it, the wheel, in a copy of the checkout's files;
the wheel's contents are checked (every template, py.typed, the pytest11 entry point, no tests
or caches); then a fresh venv that never saw the source tree installs only that wheel, and from
an empty folder runs what a new team runs: `devenv init`, `devenv up`, the pytest plugin on a
two-test suite written there, `devenv reset app`, `devenv down --volumes --yes`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv import DISTRIBUTION, __version__
from devenv.store import migrateimage
from tests.integration.stacks import REPO

pytestmark = pytest.mark.xdist_group("wheel")
WHEEL = f"{DISTRIBUTION.replace('-', '_')}-{__version__}-py3-none-any.whl"
SDIST = f"{DISTRIBUTION.replace('-', '_')}-{__version__}.tar.gz"
DIST_INFO = f"{DISTRIBUTION.replace('-', '_')}-{__version__}.dist-info"


def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, (f"{' '.join(command)}: exit {done.returncode}\n"
                                  f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done


def checkout_files() -> list[str]:
    """The checkout's files as a clone has them (tracked and new, never ignored ones)."""
    done = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
               cwd=REPO)
    return [f for f in done.stdout.split("\0") if f and (REPO / f).is_file()]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist and wheel of this checkout, built as a release would be (isolated build)."""
    source = tmp_path_factory.mktemp("source")
    for name in checkout_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(source)],
        cwd=source)
    assert sorted(p.name for p in out.iterdir()) == sorted([SDIST, WHEEL])
    return out


def test_the_wheel_carries_every_template_the_plugin_and_nothing_else(dist: Path) -> None:
    with zipfile.ZipFile(dist / WHEEL) as wheel:
        names = set(wheel.namelist())
        entry_points = wheel.read(f"{DIST_INFO}/entry_points.txt").decode()
        metadata = wheel.read(f"{DIST_INFO}/METADATA").decode()
    package = REPO / "devenv"
    templates = {f"devenv/{p.relative_to(package).as_posix()}"
                 for p in package.rglob("*.j2")}
    assert templates and templates <= names
    modules = {f"devenv/{p.relative_to(package).as_posix()}" for p in package.rglob("*.py")}
    assert modules <= names
    assert "devenv/py.typed" in names
    assert "[pytest11]\ndevenv = devenv.pytest_plugin" in entry_points
    assert "[console_scripts]\ndevenv = devenv.cli.app:main" in entry_points
    assert f"Name: {DISTRIBUTION}\nVersion: {__version__}\n" in metadata
    assert "Provides-Extra: pytest" in metadata
    outside = {n for n in names if not n.startswith(("devenv/", f"{DIST_INFO}/"))}
    assert outside == set()
    junk = {n for n in names if "__pycache__" in n or n.endswith((".pyc", ".orig", "~"))
            or n.startswith("tests/")}
    assert junk == set()
    # The migrate image's wheel (devenv.store.migrateimage) carries the same package files.
    _, data, _ = migrateimage.own_wheel()
    repacked = dist / "repacked.whl"
    repacked.write_bytes(data)
    with zipfile.ZipFile(repacked) as wheel:
        same = {n for n in wheel.namelist() if n.startswith("devenv/")}
    assert same == {n for n in names if n.startswith("devenv/")}


def test_the_sdist_holds_no_caches_and_builds_that_wheel(dist: Path) -> None:
    import tarfile

    with tarfile.open(dist / SDIST) as sdist:
        names = sdist.getnames()
    assert not [n for n in names if "__pycache__" in n or "/.devenv" in n or "/.venv" in n]
    top = f"{DISTRIBUTION.replace('-', '_')}-{__version__}"
    for needed in ("pyproject.toml", "README.md", "CHANGELOG.md", "devenv/py.typed",
                   "devenv/model/templates/pgbouncer.ini.j2"):
        assert f"{top}/{needed}" in names, needed


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv that has only the wheel (and its dependencies from the index)."""
    where = tmp_path_factory.mktemp("fresh")
    venv = where / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=where)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
         f"{dist / WHEEL}[pytest]"], cwd=where, env=clean_env(venv), timeout=900)
    return venv


def clean_env(venv: Path) -> dict[str, str]:
    """The user's environment with the venv's bin first, nothing pointing at this checkout."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "DEVENV_FILE", "PYTHONHOME")}
    path = [p for p in env.get("PATH", "").split(os.pathsep)
            if not p.startswith(str(Path(sys.executable).parent))]
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *path])
    env["VIRTUAL_ENV"] = str(venv)
    return env


SUITE = '''
def test_the_seeded_items_are_there(devenv_db):
    names = [r[0] for r in devenv_db.conn.execute("SELECT name FROM items ORDER BY id")]
    assert names == ["first item", "second item"]
    devenv_db.conn.execute("DELETE FROM items")
    devenv_db.conn.commit()


def test_each_test_has_its_own_database(devenv_db, devenv_redis):
    assert devenv_db.conn.execute("SELECT count(*) FROM items").fetchone()[0] == 2
    devenv_redis.client.set(devenv_redis.prefix + "k", "v")
'''


@pytest.fixture
def project(tmp_path: Path, venv: Path) -> Iterator[Path]:
    folder = tmp_path / "empty"
    folder.mkdir()
    try:
        yield folder
    finally:
        if (folder / "devenv.yaml").exists():
            subprocess.run([str(venv / "bin" / "devenv"), "down", "--volumes", "--yes"],
                           cwd=folder, env=clean_env(venv), capture_output=True, timeout=300,
                           check=False)


def test_a_fresh_venv_with_only_the_wheel_runs_a_new_project_end_to_end(
        venv: Path, project: Path) -> None:
    env = clean_env(venv)
    devenv = str(venv / "bin" / "devenv")
    where = run([str(venv / "bin" / "python"), "-c", "import devenv; print(devenv.__file__)"],
                cwd=project, env=env).stdout.strip()
    assert where.startswith(str(venv)) and not where.startswith(str(REPO)), where
    version = run([devenv, "--version"], cwd=project, env=env).stdout
    assert version.startswith(f"{DISTRIBUTION} {__version__} (Python "), version

    name = f"wheel-{uuid.uuid4().hex[:8]}"
    init = run([devenv, "init", "--project", name], cwd=project, env=env)
    assert "next: devenv up" in init.stdout
    # ports: a free one each (`auto`), beside other stacks on this machine
    with (project / "devenv.yaml").open("a") as manifest:
        manifest.write("servers:\n  postgres: {kind: postgres, port: auto}\n"
                       "  redis: {kind: redis, port: auto}\n")
    up = run([devenv, "up"], cwd=project, env=env)
    assert f"{name} is up" in up.stdout, up.stdout
    assert "app: applied 1 migration(s)" in up.stdout, up.stdout

    (project / "tests").mkdir()
    (project / "tests" / "test_items.py").write_text(textwrap.dedent(SUITE))
    (project / "pytest.ini").write_text("[pytest]\ndevenv_service = app\ntestpaths = tests\n"
                                        "addopts = -p no:cacheprovider\n")
    tests = run([str(venv / "bin" / "python"), "-m", "pytest", "-q"], cwd=project, env=env)
    assert "2 passed" in tests.stdout, tests.stdout

    env_file = (project / ".devenv" / "env" / "app.env").read_text()
    url = next(line.split("=", 1)[1].strip('"') for line in env_file.splitlines()
               if line.startswith("DATABASE_DIRECT_URL="))
    delete = "import psycopg, sys; psycopg.connect(sys.argv[1], autocommit=True).execute(" \
             "'DELETE FROM items')"
    count = "import psycopg, sys; print(psycopg.connect(sys.argv[1]).execute(" \
            "'SELECT count(*) FROM items').fetchone()[0])"
    python = str(venv / "bin" / "python")
    run([python, "-c", delete, url], cwd=project, env=env)
    assert run([python, "-c", count, url], cwd=project, env=env).stdout.strip() == "0"
    reset = run([devenv, "reset", "app"], cwd=project, env=env)
    assert "app: restored" in reset.stdout or "app:" in reset.stdout, reset.stdout
    assert run([python, "-c", count, url], cwd=project, env=env).stdout.strip() == "2"

    run([devenv, "down", "--volumes", "--yes"], cwd=project, env=env)
    left = subprocess.run(["docker", "volume", "ls", "-q", "--filter",
                           f"label=dev.devenv.project={name}"], capture_output=True, text=True,
                          check=True).stdout.split()
    assert left == []
