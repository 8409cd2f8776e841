"""The one module that talks to Docker. Everything else asks it, and gets DevenvErrors back.

Compose operations go through python-on-whales. Listing containers, the one call of a warm
`devenv up`, reads the Engine API over its unix socket instead: importing python-on-whales
alone costs ~0.5 s, more than the whole warm `up` may take (issue: faster than compose's own
warm `up --wait`). The socket path falls back to python-on-whales for remote engines.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv.errors import DevenvError
from devenv.model.replicas import replica_port, replicas_of
from devenv.model.stack import COMPOSE_ENV, COMPOSE_FILE, LABEL, Stack

if TYPE_CHECKING:
    from python_on_whales import DockerClient

    from devenv.store.state import State

SOCKET = "/var/run/docker.sock"


@dataclass(frozen=True)
class ContainerState:
    id: str
    name: str
    server: str
    project: str
    state: str  # running, exited, restarting...
    health: str  # healthy, unhealthy, starting, or '' without healthcheck
    config_hash: str  # compose's hash of the service config: changes when compose would recreate
    ports: tuple[int, ...]  # published host ports


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


def _socket_path() -> str | None:
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return host[len("unix://"):]
    if host or os.environ.get("DOCKER_CONTEXT"):
        return None
    return SOCKET if os.path.exists(SOCKET) else None


def _api_get(path: str, url: str, *, missing_ok: bool = False) -> Any:
    """One GET on the Engine API over its unix socket, parsed; a DevenvError if unanswered
    (None for a 404 when `missing_ok`)."""
    try:
        conn = _UnixHTTP(path, timeout=10)
        try:
            conn.request("GET", url)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status == 404 and missing_ok:
            return None
        if response.status != 200:
            raise not_running_error(f"HTTP {response.status} from {path}")
        return json.loads(body)
    except (OSError, ValueError) as exc:
        raise not_running_error(str(exc)) from None


def engine_version() -> str | None:
    """The Docker Engine's version (`devenv --version`), None when no engine answers: over the
    socket when there is one (a few ms), else the docker CLI (remote engines, contexts)."""
    path = _socket_path()
    if path is not None:
        try:
            return str(_api_get(path, "/version")["Version"])
        except (DevenvError, KeyError, TypeError):
            return None
    if shutil.which("docker") is None:
        return None
    try:
        done = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def not_running_error(detail: str = "") -> DevenvError:
    if shutil.which("docker") is None:
        return DevenvError("Docker is not installed (no `docker` command on PATH)",
                           hint="install Docker Engine or Docker Desktop, then run `devenv doctor`")
    extra = f" ({detail})" if detail else ""
    return DevenvError(f"the Docker daemon is not running or not reachable{extra}",
                       hint="start Docker (e.g. `sudo systemctl start docker` or open Docker "
                       "Desktop), then check with `docker info`")


class Docker:
    """Docker for one stack: its compose file, project name and private env file."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.compose_file = stack.root / stack.compose_dir / COMPOSE_FILE
        self.env_file = stack.root / stack.state_dir / COMPOSE_ENV

    @cached_property
    def client(self) -> DockerClient:
        from python_on_whales import DockerClient  # noqa: PLC0415 - python-on-whales, ~0.5 s: the Engine API socket serves reads without it

        if shutil.which("docker") is None:
            raise not_running_error()
        return DockerClient(
            compose_files=[self.compose_file],
            compose_env_files=[self.env_file],
            compose_project_name=self.stack.project,
        )

    # -- reads -----------------------------------------------------------------------------
    def containers(self, *, all_projects: bool = False) -> list[ContainerState]:
        """Containers of this project (or of every project), running or not: one API call."""
        filters = {"label": [f"{LABEL}.project={self.stack.project}"]} if not all_projects else {}
        path = _socket_path()
        if path is None:
            return self._containers_via_cli(filters)
        query = urllib.parse.urlencode({"all": "1", "filters": json.dumps(filters)})
        return [_from_api(item) for item in _api_get(path, f"/containers/json?{query}")]

    def _containers_via_cli(self, filters: dict[str, list[str]]) -> list[ContainerState]:
        from python_on_whales.exceptions import DockerException  # noqa: PLC0415 - python-on-whales, ~0.5 s: the Engine API socket serves reads without it

        try:
            found = self.client.container.list(all=True, filters=filters)
        except DockerException as exc:
            raise not_running_error((exc.stderr or "").strip()[-200:]) from None
        out = []
        for c in found:
            labels = c.config.labels or {}
            health = c.state.health.status if c.state.health else ""
            ports = tuple(
                int(b.host_port) for bindings in (c.network_settings.ports or {}).values()
                for b in (bindings or []) if b.host_port
            )
            out.append(ContainerState(
                c.id, c.name, labels.get(f"{LABEL}.server", ""),
                labels.get(f"{LABEL}.project", ""), c.state.status or "", health or "",
                labels.get("com.docker.compose.config-hash", ""), ports,
            ))
        return out

    def volumes(self) -> list[str]:
        """Names of this project's data volumes."""
        label = f"{LABEL}.project={self.stack.project}"
        path = _socket_path()
        if path is None:
            from python_on_whales.exceptions import DockerException  # noqa: PLC0415 - python-on-whales, ~0.5 s: the Engine API socket serves reads without it

            try:
                return [v.name for v in self.client.volume.list(filters={"label": label})]
            except DockerException as exc:
                raise not_running_error((exc.stderr or "").strip()[-200:]) from None
        query = urllib.parse.urlencode({"filters": json.dumps({"label": [label]})})
        found = _api_get(path, f"/volumes?{query}")
        return sorted(str(v["Name"]) for v in found.get("Volumes") or [])

    def volume_of(self, server: str) -> str | None:
        """The data volume of one server or replica of this project (by its labels), if any."""
        labels = [f"{LABEL}.project={self.stack.project}", f"{LABEL}.server={server}"]
        path = _socket_path()
        if path is None:
            from python_on_whales.exceptions import DockerException  # noqa: PLC0415 - python-on-whales, ~0.5 s: the Engine API socket serves reads without it

            try:
                names = [v.name for v in self.client.volume.list(filters={"label": labels[1]})
                         if (v.labels or {}).get(f"{LABEL}.project") == self.stack.project]
            except DockerException as exc:
                raise not_running_error((exc.stderr or "").strip()[-200:]) from None
        else:
            query = urllib.parse.urlencode({"filters": json.dumps({"label": labels})})
            names = [str(v["Name"]) for v in _api_get(path, f"/volumes?{query}").get("Volumes")
                     or []]
        return names[0] if len(names) == 1 else None

    def _inspect_image(self, image: str) -> dict[str, Any] | None:
        """`docker image inspect` of one image (Engine API when its socket answers); None
        when the image is not on this machine."""
        path = _socket_path()
        if path is not None:
            found = _api_get(path, f"/images/{urllib.parse.quote(image, safe='')}/json",
                             missing_ok=True)
            return dict(found) if found else None
        done = subprocess.run(["docker", "image", "inspect", "--format", "{{json .}}", image],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return None
        return dict(json.loads(done.stdout or "{}") or {})

    def image_config(self, image: str) -> dict[str, Any] | None:
        """The image's runtime config (Env, Volumes, User...) as `docker image inspect` gives
        it; None when the image is not on this machine."""
        found = self._inspect_image(image)
        return None if found is None else dict(found.get("Config") or {})

    def pg_version_in(self, volume: str, image: str) -> int | None:
        """The PostgreSQL major whose data a volume holds (its PG_VERSION file), read by a
        throwaway container of `image`; None for a volume without PostgreSQL data.

        Looks where the official images keep it: the volume's root (17 and older mount the
        volume at PGDATA) and <major>/docker (18 mounts it one level up)."""
        script = ("for f in /v/PG_VERSION /v/data/PG_VERSION /v/*/docker/PG_VERSION; do "
                  '[ -f "$f" ] && { cat "$f"; exit 0; }; done; exit 0')
        done = subprocess.run(["docker", "run", "--rm", "--network", "none", "--user", "0",
                               "-v", f"{volume}:/v:ro", "--entrypoint", "sh", image, "-c",
                               script], capture_output=True, text=True, check=False, timeout=120)
        text = done.stdout.strip()
        if done.returncode != 0:
            raise DevenvError(f"cannot read the PostgreSQL version in volume {volume}: "
                              f"{done.stderr.strip()[-200:]}")
        return int(text.split(".")[0]) if text[:2].isdigit() else None

    def image_id(self, image: str) -> str | None:
        """The image's id; None when it is not on this machine."""
        found = self._inspect_image(image)
        return None if found is None else str(found["Id"])

    def image_contents(self, image_id: str) -> tuple[frozenset[str], frozenset[str]]:
        """(extensions, shared libraries) a PostgreSQL image ships, read by a throwaway
        container of it (no network): its extension control files and its library folder,
        where Debian (/usr/share/postgresql/$PG_MAJOR) and source builds such as the Alpine
        images (/usr/local) keep them."""
        script = ("for d in /usr/share/postgresql/${PG_MAJOR:-*}/extension "
                  "/usr/local/share/postgresql/extension; do [ -d \"$d\" ] && ls \"$d\"; done; "
                  "echo ::libraries::; for d in /usr/lib/postgresql/${PG_MAJOR:-*}/lib "
                  "/usr/local/lib/postgresql; do [ -d \"$d\" ] && ls \"$d\"; done; exit 0")
        done = subprocess.run(["docker", "run", "--rm", "--network", "none", "--entrypoint",
                               "sh", image_id, "-c", script], capture_output=True, text=True,
                              check=False, timeout=120)
        if done.returncode != 0:
            raise DevenvError(f"cannot list the extensions of image {image_id}: "
                              f"{done.stderr.strip()[-200:]}")
        controls, _, libraries = done.stdout.partition("::libraries::")
        return (frozenset(n.removesuffix(".control") for n in controls.split()
                          if n.endswith(".control")),
                frozenset(n.removesuffix(".so") for n in libraries.split() if n.endswith(".so")))

    def has_image(self, image: str) -> bool:
        return image in self._image_tags() or f"docker.io/{image}" in self._image_tags()

    def psql_admin(self, server: str, script: str) -> None:
        """Run SQL as the superuser over the container's local socket (no password needed).

        The only way in when the admin password in .devenv/ no longer matches the volume's.
        The SQL goes through stdin, so no secret appears in a process list.
        """
        command = ["docker", "compose", "-f", str(self.compose_file), "--env-file",
                   str(self.env_file), "-p", self.stack.project, "exec", "-T", server,
                   "psql", "-v", "ON_ERROR_STOP=1", "-X", "-q", "-U", "postgres", "-d",
                   "postgres"]
        done = subprocess.run(command, input=script, capture_output=True, text=True,
                              check=False, timeout=60)
        if done.returncode != 0:
            raise DevenvError(f"psql in server '{server}' failed: "
                              f"{done.stderr.strip().splitlines()[-1:] or ['']}",
                              hint=f"`devenv logs {server}` shows the server's log")

    def exec_as_postgres(self, server: str, command: list[str]) -> str:
        """Run a command as the image's postgres user in a server's container (pg_hba.conf
        lives in its data directory, which only postgres may write); its output."""
        done = subprocess.run(self.compose_command("exec", "-T", "-u", "postgres", server,
                                                   *command),
                              capture_output=True, text=True, check=False, timeout=60)
        if done.returncode != 0:
            raise DevenvError(f"a command in server '{server}' failed: "
                              f"{(done.stderr.strip().splitlines() or [''])[-1]}",
                              hint=f"`devenv logs {server}` shows the server's log")
        return done.stdout

    def compose_command(self, *args: str) -> list[str]:
        """A plain `docker compose` command line for this stack (what users can type too)."""
        return ["docker", "compose", "-f", str(self.compose_file), "--env-file",
                str(self.env_file), "-p", self.stack.project, *args]

    def stream(self, command: list[str], on_line: Callable[[str], None]) -> int:
        """Run a docker command, handing each output line to `on_line` (to redact it)."""
        try:
            process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, errors="replace")
        except FileNotFoundError:
            raise not_running_error() from None
        assert process.stdout is not None
        try:
            for line in process.stdout:
                on_line(line.rstrip("\n"))
        except KeyboardInterrupt:
            process.terminate()
            raise
        return process.wait()

    def interactive(self, container: str, command: list[str], env_names: list[str]) -> int:
        """`docker exec -it` into a container; env values pass from our environment by name,
        so no password appears on a command line."""
        flags = ["-it"] if sys.stdin.isatty() and sys.stdout.isatty() else ["-i"]
        for name in env_names:
            flags += ["-e", name]
        return subprocess.call(["docker", "exec", *flags, container, *command])

    def exec_to(self, container: str, command: list[str], env: dict[str, str],
                out: Any) -> tuple[int, str]:
        """`docker exec -i` with its stdout into `out` (a binary file) and its stderr back:
        the server's own client (pg_dump) when the host's is missing or too old. `env` passes
        by name from a copy of our environment, so no password is on a command line."""
        flags = [arg for name in env for arg in ("-e", name)]
        try:
            done = subprocess.run(["docker", "exec", "-i", *flags, container, *command],
                                  stdout=out, stderr=subprocess.PIPE, check=False,
                                  env={**os.environ, **env})
        except FileNotFoundError:
            raise not_running_error() from None
        return done.returncode, done.stderr.decode(errors="replace")

    def by_server(self) -> dict[str, ContainerState]:
        return {c.server: c for c in self.containers() if c.server}

    def logs_tail(self, server: str, lines: int = 20) -> str:
        from python_on_whales.exceptions import DockerException  # noqa: PLC0415 - python-on-whales, ~0.5 s: the Engine API socket serves reads without it

        try:
            out = self.client.compose.logs(services=[server], tail=str(lines), timestamps=False)
        except DockerException as exc:
            return f"(no logs: {(exc.stderr or '').strip()[-200:]})"
        return str(out).rstrip()

    # -- changes ---------------------------------------------------------------------------
    def up(self, servers: list[str]) -> None:
        from python_on_whales.exceptions import DockerException  # noqa: PLC0415 - python-on-whales, ~0.5 s: the Engine API socket serves reads without it

        self.ensure_images(servers)
        try:
            self.client.compose.up(services=servers, detach=True, quiet=True, pull="never")
        except DockerException as exc:
            raise self._compose_error("start", exc) from None

    def remove_service(self, server: str, volume: str | None) -> None:
        """Stop and remove one service's container and then `volume` (its own data volume):
        the only data devenv ever deletes without `down --volumes`."""
        from python_on_whales.exceptions import DockerException  # noqa: PLC0415 - python-on-whales, ~0.5 s: the Engine API socket serves reads without it

        try:
            self.client.compose.rm(services=[server], stop=True)
            if volume is not None:
                self.client.volume.remove(volume)
        except DockerException as exc:
            raise self._compose_error("remove", exc, server=server) from None

    def down(self, *, volumes: bool) -> None:
        from python_on_whales.exceptions import DockerException  # noqa: PLC0415 - python-on-whales, ~0.5 s: the Engine API socket serves reads without it

        try:
            self.client.compose.down(volumes=volumes, quiet=True, remove_orphans=True)
        except DockerException as exc:
            raise self._compose_error("stop", exc) from None

    def planned_up(self, servers: list[str], compose_text: str, env_text: str
                   ) -> dict[str, str] | None:
        """What `up` of `servers` would do to each container, by compose's own dry run of the
        files `up` would write (given here, never written): `create`, `recreate`, `start` or
        `keep`. None when this Compose has no dry run (before 2.17)."""
        import tempfile  # noqa: PLC0415 - only `devenv plan` needs it

        with tempfile.TemporaryDirectory(prefix="devenv-plan-") as tmp:
            env_file = Path(tmp) / "compose.env"
            env_file.touch(mode=0o600)
            env_file.write_text(env_text)
            command = ["docker", "compose", "--project-directory", str(self.compose_file.parent),
                       "-f", "-", "--env-file", str(env_file), "-p", self.stack.project,
                       "--dry-run", "up", "--detach", "--no-build", "--pull", "never", *servers]
            try:
                done = subprocess.run(command, input=compose_text, capture_output=True,
                                      text=True, timeout=60)
            except FileNotFoundError:
                raise not_running_error() from None
        if done.returncode != 0:
            if "unknown flag: --dry-run" in done.stderr:
                return None
            raise DevenvError("docker compose could not tell what `up` would do:\n"
                              + "\n".join(done.stderr.strip().splitlines()[-10:]))
        return planned_actions(done.stdout + done.stderr, self.stack.project)

    def build(self, server: str, on_line: Callable[[str], None]) -> None:
        """`docker compose build SERVER`, each output line handed to `on_line` (progress)."""
        expired = False

        def seen(line: str) -> None:
            nonlocal expired
            expired = expired or ("Release file" in line and "is expired" in line)
            on_line(line)

        code = self.stream(self.compose_command("build", "--progress", "plain", server), seen)
        if code != 0:
            hint = ("the build output above says which package or step failed; remove the "
                    "extension from devenv.yaml or set an `image:` that ships it")
            if expired:  # a frozen or mirrored Debian archive (README "Extensions")
                hint = ("the Debian mirror the image uses serves expired Release files (a "
                        "frozen snapshot or a stale mirror): run `devenv up` with "
                        "DEVENV_APT_UPDATE_OPTIONS='-o Acquire::Check-Valid-Until=false' "
                        "in its environment, which the build passes to apt-get update")
            raise DevenvError(f"building the image of server '{server}' failed (exit {code})",
                              hint=hint)

    def ensure_images(self, servers: list[str]) -> None:
        """A missing image with no registry reachable fails late and obscurely: say it first."""
        from python_on_whales.exceptions import DockerException  # noqa: PLC0415 - python-on-whales, ~0.5 s: the Engine API socket serves reads without it

        wanted = sorted({self.stack.servers[s].image for s in servers
                         if s in self.stack.servers})  # a replica runs its primary's image
        present = self._image_tags()
        missing = [i for i in wanted if i not in present and f"docker.io/{i}" not in present]
        if not missing:
            return
        for image in missing:
            try:
                self.client.image.pull(image, quiet=True)
            except DockerException as exc:
                tail = (exc.stderr or "").strip().splitlines()[-1:] or [""]
                raise DevenvError(
                    f"image {image} is not on this machine and could not be pulled ({tail[0]})",
                    hint="connect to a registry, or load the image (`docker load`), or set "
                    "another `image:` for that server in devenv.yaml",
                ) from None

    def _image_tags(self) -> set[str]:
        """Every tag of every local image: one Engine API call (the CLI inspects each image)."""
        from python_on_whales.exceptions import DockerException  # noqa: PLC0415 - python-on-whales, ~0.5 s: the Engine API socket serves reads without it

        path = _socket_path()
        if path is not None:
            return {t for image in _api_get(path, "/images/json")
                    for t in image.get("RepoTags") or []}
        try:
            return {tag for image in self.client.image.list() for tag in image.repo_tags}
        except DockerException as exc:
            raise not_running_error((exc.stderr or "").strip()[-200:]) from None

    def _compose_error(self, what: str, exc: Any, *, server: str | None = None) -> DevenvError:
        stderr = (exc.stderr or "").strip()
        if "Cannot connect to the Docker daemon" in stderr or "permission denied" in stderr:
            return not_running_error(stderr.splitlines()[-1])  # not empty: it holds a match
        if "unknown shorthand flag" in stderr or "is not a docker command" in stderr:
            return DevenvError("Docker Compose v2 is not available",
                               hint="install the Compose v2 plugin (docker-compose-plugin)")
        tail = "\n".join(stderr.splitlines()[-15:])
        where = f" server '{server}'" if server else f" project '{self.stack.project}'"
        return DevenvError(f"docker compose failed to {what}{where}:\n{tail}",
                           hint="run `devenv doctor`; `devenv logs` shows the servers' logs")


def _from_api(item: dict[str, Any]) -> ContainerState:
    labels = item.get("Labels") or {}
    status = str(item.get("Status", ""))
    health = ""
    for word in ("healthy", "unhealthy", "health: starting"):
        if f"({word})" in status:
            health = "starting" if word == "health: starting" else word
            break
    names = item.get("Names") or [""]
    ports = tuple(int(p["PublicPort"]) for p in item.get("Ports") or [] if p.get("PublicPort"))
    return ContainerState(
        id=str(item["Id"]),
        name=str(names[0]).lstrip("/"),
        server=labels.get(f"{LABEL}.server", ""),
        project=labels.get(f"{LABEL}.project", ""),
        state=str(item.get("State", "")),
        health=health,
        config_hash=labels.get("com.docker.compose.config-hash", ""),
        ports=tuple(sorted(set(ports))),
    )


@dataclass(frozen=True)
class ServerStatus:
    name: str
    kind: str
    state: str
    health: str
    port: int | None
    verified_at: float | None = None  # epoch seconds `up` connected to this container itself
    replica_of: str | None = None  # a read replica's primary


def server_status(stack: Stack, current: State) -> list[ServerStatus]:
    """Every server of the manifest, each followed by its replicas (a container each, issue
    24), with its container's state ('missing' without one), and when `up` verified it
    answers, if that was this very container, still running."""
    containers = Docker(stack).by_server()
    out = []

    def row(name: str, kind: str, port: int | None, primary: str | None) -> ServerStatus:
        c = containers.get(name)
        seen = current.verified.get(name)
        verified = (seen.at if seen is not None and c is not None and c.id == seen.container
                    and c.state == "running" else None)
        return ServerStatus(name, kind, c.state if c else "missing", c.health if c else "",
                            port, verified, primary)

    for server in stack.servers.values():
        port = server.port if server.port is not None else current.ports.get(server.name)
        out.append(row(server.name, server.kind, port, None))
        out += [row(r.name, server.kind, replica_port(r, current.ports), server.name)
                for r in replicas_of(server)]
    return out


_DRY_RUN_LINE = re.compile(r"Container (?:[0-9a-f]{12}_)?(\S+)\s+(\w+)")


def planned_actions(output: str, project: str) -> dict[str, str]:
    """Compose's `--dry-run up` lines, by server: a container it would create (`Creating`),
    recreate (`Recreate`), start (`Starting`, a stopped one) or leave running (`keep`)."""
    verbs: dict[str, set[str]] = {}
    for match in _DRY_RUN_LINE.finditer(output):
        name, verb = match.groups()
        if name.startswith(f"{project}-") and name.endswith("-1"):
            verbs.setdefault(name[len(project) + 1:-2], set()).add(verb)
    out = {}
    for server, seen in verbs.items():
        out[server] = ("create" if "Creating" in seen else "recreate" if "Recreate" in seen
                       else "start" if "Starting" in seen else "keep")
    return out
