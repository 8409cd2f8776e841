"""Copies of the example projects, run through the real `devenv` CLI, for end-to-end tests.

`copy_example` puts an example's devenv.yaml, migrations/ and seeds/ into a fresh folder with a
unique `project:` name and a free host port for every `port:` key, so that copies can run in
parallel (pytest-xdist) next to each other and next to a developer's own stack. `CopiedStack`
runs `python -m devenv.cli ...` in that folder as a subprocess and tears the stack down with
`devenv down --volumes --yes` (then removes anything left by label, in case `down` failed).
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CAPSULE = REPO  # the repo's own devenv.yaml (servers per service, TimescaleDB, Redis, PgBouncer)
PCC = REPO / "examples" / "pcc"  # seven services on one server, `reads`, naming, roles
LABEL = "dev.devenv.project"
COPIED = ("devenv.yaml", "migrations", "seeds")


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    def __iter__(self) -> Iterator[Any]:  # (code, stdout, stderr) = stack.devenv(...)
        return iter((self.code, self.stdout, self.stderr))

    def explain(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def free_ports(count: int) -> list[int]:
    """Distinct ports that nothing listens on now (each found by binding 127.0.0.1:0)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


def _port_keys(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path whose last key is `port`, anywhere in the manifest
    (a replica's `port` sits in a list: its index is part of the path)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "port":
                found.append((*path, str(key)))
            else:
                found += _port_keys(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _port_keys(value, (*path, index))
    return found


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@dataclass
class CopiedStack:
    root: Path
    project: str
    ports: dict[str, int] = field(default_factory=dict)  # server name -> host port

    @property
    def manifest(self) -> Path:
        return self.root / "devenv.yaml"

    def read_manifest(self) -> dict[str, Any]:
        data = yaml.safe_load(self.manifest.read_text())
        assert isinstance(data, dict)
        return data

    def write_manifest(self, data: dict[str, Any]) -> None:
        self.manifest.write_text(yaml.safe_dump(data, sort_keys=False))

    # -- running ---------------------------------------------------------------------------
    def devenv(self, *args: str, env: dict[str, str] | None = None,
               timeout: float = 600, cwd: Path | None = None, stdin: str | None = None
               ) -> Result:
        """Run `python -m devenv.cli <args>` in the stack's folder (or `cwd`), with no
        terminal: stdin is empty (or `stdin`), output captured."""
        full = {k: v for k, v in os.environ.items() if k != "DEVENV_FILE"}
        full.update(env or {})
        done = subprocess.run([sys.executable, "-m", "devenv.cli", *args], cwd=cwd or self.root,
                              env=full, capture_output=True, text=True, timeout=timeout,
                              check=False, input=stdin or "")
        return Result(done.returncode, done.stdout, done.stderr)

    def on_terminal(self, *args: str, answer: str = "", env: dict[str, str] | None = None,
                    timeout: float = 120) -> Result:
        """Run devenv with a pseudo-terminal as stdin, stdout and stderr (what a person has),
        typing `answer` once it prints anything; stdout holds everything it wrote."""
        full = {k: v for k, v in os.environ.items() if k not in ("DEVENV_FILE", "CI")}
        full.update(env or {})
        main, child = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "devenv.cli", *args], cwd=self.root,
                                env=full, stdin=child, stdout=child, stderr=child,
                                close_fds=True)
        os.close(child)
        out, typed, deadline = b"", False, time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(main, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
                if answer and not typed and b"?" in out:
                    os.write(main, answer.encode())
                    typed = True
            elif proc.poll() is not None:
                break
        os.close(main)
        code = proc.wait(timeout=timeout)
        return Result(code, out.decode(errors="replace").replace("\r\n", "\n"), "")

    def ok(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """Run devenv and fail the test with its whole output unless it exits 0."""
        result = self.devenv(*args, env=env)
        assert result.code == 0, f"devenv {' '.join(args)}: {result.explain()}"
        return result

    def compose(self, *args: str, timeout: float = 600) -> Result:
        """`docker compose` on the generated file, as a user would run it by hand."""
        done = subprocess.run(
            ["docker", "compose", "-f", "compose/compose.yaml", "--env-file",
             ".devenv/compose.env", *args], cwd=self.root, capture_output=True, text=True,
            timeout=timeout, check=False)
        return Result(done.returncode, done.stdout, done.stderr)

    # -- reading what `up` wrote -------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        data = json.loads(self.ok("status", "--json").stdout)
        assert isinstance(data, dict)
        return data

    def env_path(self, service: str) -> Path:
        for svc in self.status()["services"]:
            if svc["service"] == service:
                return self.root / svc["env_file"]
        raise KeyError(service)

    def env(self, service: str) -> dict[str, str]:
        return parse_dotenv(self.env_path(service).read_text())

    def secrets(self) -> dict[str, str]:
        data = json.loads((self.root / ".devenv" / "secrets.json").read_text())
        passwords = data["passwords"]
        assert isinstance(passwords, dict)
        return passwords

    def containers(self) -> dict[str, str]:
        """Server name -> container id, for this project's containers (running or not)."""
        out = subprocess.run(
            ["docker", "ps", "-a", "--filter", f"label={LABEL}={self.project}", "--format",
             '{{.ID}} {{.Label "dev.devenv.server"}}'],
            capture_output=True, text=True, check=True).stdout
        pairs = (line.split() for line in out.splitlines() if line.strip())
        return {p[1]: p[0] for p in pairs if len(p) == 2}

    def volumes(self) -> list[str]:
        out = subprocess.run(["docker", "volume", "ls", "-q", "--filter",
                              f"label={LABEL}={self.project}"],
                             capture_output=True, text=True, check=True).stdout
        return out.split()

    # -- teardown --------------------------------------------------------------------------
    def teardown(self) -> Result:
        result = self.devenv("down", "--volumes", "--yes")
        # Whatever `down` could not remove (it failed, or there was no compose file yet).
        ids = list(self.containers().values())
        if ids:
            subprocess.run(["docker", "rm", "-f", "-v", *ids], capture_output=True, check=False)
        vols = self.volumes()
        if vols:
            subprocess.run(["docker", "volume", "rm", "-f", *vols], capture_output=True,
                           check=False)
        subprocess.run(["docker", "network", "rm", f"{self.project}_default"],
                       capture_output=True, check=False)
        return result


def copy_example(source: Path, dest: Path, *, prefix: str,
                 edit: Callable[[dict[str, Any]], None] | None = None) -> CopiedStack:
    """Copy an example project into `dest` with a unique project name and free ports.

    `edit` may change the manifest (a dict) before it is written; ports are chosen after it,
    so a port it sets is replaced too unless it is in the returned stack's `ports` already.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        elif src.is_file():
            shutil.copy2(src, dest / name)
    data = yaml.safe_load((source / "devenv.yaml").read_text())
    project = f"{prefix}-{uuid.uuid4().hex[:10]}"
    data["project"] = project
    if edit is not None:
        edit(data)
    keys = _port_keys(data)
    if isinstance(data.get("ports"), dict) and "base" in data["ports"]:
        keys.append(("ports", "base"))  # a range of its own: up takes the next free ones
    ports: dict[str, int] = {}
    for path, port in zip(keys, free_ports(len(keys)), strict=True):
        _set(data, path, port)
        if len(path) == 3 and path[0] == "servers":
            ports[path[1]] = port
        elif len(path) == 5 and path[0] == "servers" and path[2] == "replicas":
            ports[f"{path[1]}-replica-{path[3] + 1}"] = port
    stack = CopiedStack(dest, project, ports)
    stack.write_manifest(data)
    return stack


@contextmanager
def copied(source: Path, dest: Path, *, prefix: str,
           edit: Callable[[dict[str, Any]], None] | None = None) -> Iterator[CopiedStack]:
    """A copied stack that is torn down (containers and volumes) however the block ends."""
    stack = copy_example(source, dest, prefix=prefix, edit=edit)
    try:
        yield stack
    finally:
        stack.teardown()


def parse_dotenv(text: str) -> dict[str, str]:
    """The dotenv dialect devenv writes: KEY=plain or KEY="escaped", # comments."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.partition("=")
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = _unescape(value[1:-1])
        out[key.strip()] = value
    return out


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append("\n" if nxt == "n" else nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)
