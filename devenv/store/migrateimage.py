"""The migrate image's build context in the export folder (`images/migrate/`): a wheelhouse
and a copy of the project's manifest, migrations and seeds (issue 25; issue 27 item 15).

The image is built from this devenv, never from a package index name: `wheels/` holds a wheel
of the running devenv (repacked from its own files, so it is exactly the code that rendered the
manifests: an editable checkout or an installed wheel alike) and the wheels of its
dependencies for the image's Python (`kubernetes.BASE_PYTHON`) on x86_64 and aarch64, so
`pip install --no-index` in the build needs no network. The dependencies are downloaded once
per requirement set with pip (the export needs the package index that first time only) into
~/.cache/devenv/wheels/ and linked from there.

`app/` is the manifest and each service's declared folders (normalised by
`kubernetes.folders`), copied without .devenv/ (the local passwords), without the export folder
(its passwords.json and secrets.yaml) and with symlinks kept as links, never followed: a link
to a secret is never read into the image.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import devenv
from devenv import DISTRIBUTION, __version__
from devenv.errors import DevenvError
from devenv.model import kubernetes
from devenv.model.stack import Stack

# manylinux wheels any glibc the image may have takes (python:3.13-slim is Debian trixie).
PLATFORMS = {arch: [f"manylinux_2_28_{arch}", f"manylinux_2_17_{arch}", f"manylinux2014_{arch}"]
             for arch in ("x86_64", "aarch64")}
PACKAGE_FILES = (".py", ".j2", "py.typed")  # what the wheel of pyproject.toml carries
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same code makes the same wheel, byte for byte
CACHE_ENV = "DEVENV_WHEEL_CACHE"


def write(stack: Stack, folder: Path) -> list[Path]:
    """Fill `folder`/images/migrate/ (wheels/ and app/); return what changed."""
    context = folder / kubernetes.CONTEXT
    changed = []
    if _replace(context / kubernetes.APP, lambda into: _copy_app(stack, folder, into)):
        changed.append(context / kubernetes.APP)
    if _replace(context / kubernetes.WHEELS, _wheelhouse):
        changed.append(context / kubernetes.WHEELS)
    return changed


# -- app/ ------------------------------------------------------------------------------------


def _copy_app(stack: Stack, export: Path, into: Path) -> None:
    root = stack.root.resolve()
    never = {(root / stack.state_dir).resolve(), export.resolve()}
    shutil.copy2(root / stack.manifest_name, into / stack.manifest_name)
    for found in kubernetes.folders(stack):
        source = root / found.path
        if not source.is_dir():
            continue  # a default folder the service does not have
        real = source.resolve()
        if any(real.is_relative_to(n) for n in never) or not real.is_relative_to(root):
            # a symlinked folder into .devenv/ or the export, or out of the project
            raise DevenvError(f"{stack.manifest_name}: {found.path} leads to {real}: the "
                              "migrate image never copies .devenv/, the export folder or "
                              "anything outside the project",
                              hint="make it a real folder of the project")
        shutil.copytree(source, into / found.path, symlinks=True, dirs_exist_ok=True,
                        ignore=_skip(never, stack.state_dir.name))


def _skip(never: set[Path], state: str) -> Callable[[str, list[str]], set[str]]:
    """Leave out any .devenv/ (a nested project's too), the export folder, caches."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in (state, "__pycache__")
                or (Path(folder) / n).resolve() in never}
    return ignore


# -- wheels/ ---------------------------------------------------------------------------------


def _wheelhouse(into: Path) -> None:
    name, data, requires = own_wheel()
    (into / name).write_bytes(data)
    for wheel in _dependencies(requires):
        target = into / wheel.name
        try:
            os.link(wheel, target)
        except OSError:  # another filesystem
            shutil.copy2(wheel, target)


def own_wheel() -> tuple[str, bytes, list[str]]:
    """A wheel of the running devenv (file name, bytes) and its requirements: its package files
    and the installed distribution's metadata. Deterministic for the same code."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise DevenvError(f"the running devenv is not installed as {DISTRIBUTION}, so there is "
                          "no metadata to build the migrate image's wheel from",
                          hint="install it: `pip install -e .` in a checkout, or "
                          f"`pipx install {DISTRIBUTION}`") from None
    # PKG-INFO: a checkout's egg-info found first on sys.path (its format is METADATA's)
    metadata = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    if not metadata.startswith("Metadata-Version:"):
        raise DevenvError(f"no metadata of {DISTRIBUTION} at {dist.locate_file('')}",
                          hint="reinstall it: `pip install -e .` in a checkout, or "
                          f"`pipx reinstall {DISTRIBUTION}`")
    lines = [f"Version: {__version__}" if line.startswith("Version:") else line
             for line in metadata.split("\n")]
    entry_points = dist.read_text("entry_points.txt") or ""
    requires = [r for r in (dist.requires or []) if "extra ==" not in r]
    dist_info = f"{DISTRIBUTION.replace('-', '_')}-{__version__}.dist-info"
    files: dict[str, bytes] = {}
    package = Path(devenv.__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.name.endswith(
                PACKAGE_FILES):
            files[f"devenv/{path.relative_to(package).as_posix()}"] = path.read_bytes()
    files[f"{dist_info}/METADATA"] = "\n".join(lines).encode()
    files[f"{dist_info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: devenv {__version__} "
                                   "(the running code, repacked)\nRoot-Is-Purelib: true\n"
                                   "Tag: py3-none-any\n").encode()
    files[f"{dist_info}/entry_points.txt"] = entry_points.encode()
    record = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in files.items()]
    files[f"{dist_info}/RECORD"] = ("\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n").encode()
    buffer = _zip(files)
    return f"{DISTRIBUTION.replace('-', '_')}-{__version__}-py3-none-any.whl", buffer, requires


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _zip(files: dict[str, bytes]) -> bytes:
    with tempfile.SpooledTemporaryFile() as raw:
        with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                info = zipfile.ZipInfo(name, ZIP_TIME)
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
        raw.seek(0)
        return raw.read()


def cache_dir() -> Path:
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "devenv" / "wheels"


def _dependencies(requires: list[str]) -> list[Path]:
    """The dependency wheels for the image's Python, from the cache or downloaded into it."""
    key = hashlib.sha256(json.dumps([sorted(requires), kubernetes.BASE_PYTHON, PLATFORMS],
                                    sort_keys=True).encode()).hexdigest()[:16]
    folder = cache_dir() / f"py{kubernetes.BASE_PYTHON}-{key}"
    stamp = folder / "requirements.txt"
    if not stamp.is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".download-", dir=folder.parent))
        try:
            for platforms in PLATFORMS.values():
                _pip_download(requires, platforms, work)
            (work / "requirements.txt").write_text("\n".join(requires) + "\n")
            try:
                work.rename(folder)
            except OSError:  # another export made it meanwhile
                if not stamp.is_file():
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return sorted(p for p in folder.iterdir() if p.suffix == ".whl")


def _pip() -> list[str]:
    """pip of this Python, else of python3 on PATH (a `uv tool` venv has no pip)."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    other = shutil.which("python3")
    if other is not None and subprocess.run([other, "-m", "pip", "--version"],
                                            capture_output=True, check=False).returncode == 0:
        return [other, "-m", "pip"]
    raise DevenvError("no pip to download the migrate image's dependency wheels with",
                      hint="install pip for this Python or python3 (the export needs it once: "
                      f"the wheels are kept in {cache_dir()})")


def _pip_download(requires: list[str], platforms: list[str], into: Path) -> None:
    command = [*_pip(), "download", "--quiet", "--disable-pip-version-check",
               "--only-binary=:all:", "--python-version", kubernetes.BASE_PYTHON,
               "--implementation", "cp", "--dest", str(into)]
    for platform in platforms:
        command += ["--platform", platform]
    done = subprocess.run([*command, *requires], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise DevenvError(f"could not download the migrate image's dependency wheels for "
                          f"Python {kubernetes.BASE_PYTHON} ({platforms[0]}):\n{tail}",
                          hint="the export needs the package index once (pip's own settings "
                          f"apply); the wheels are then kept in {cache_dir()}")


# -- replacing a folder only when its content changes -----------------------------------------


def _replace(target: Path, fill: Callable[[Path], None]) -> bool:
    """Build the folder beside `target` with `fill`, and swap it in when it differs."""
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        fill(work)
        if target.is_dir() and _tree(target) == _tree(work):
            return False
        old = target.with_name(f".{target.name}-old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        work.rename(target)
        shutil.rmtree(old, ignore_errors=True)
        return True
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _tree(root: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = ("link", os.readlink(path))
        elif path.is_file():
            out[rel] = (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
        else:
            out[rel] = "dir"
    return out
