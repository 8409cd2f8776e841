"""What `devenv up` would change, as `devenv plan` shows it (pure data and its two renderings).

Filled in by devenv.engine.dryrun from the functions `up` runs for each step; kept apart here
so that its text and JSON are unit tests, as alembic's offline mode describes instead of acting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ServiceWork:
    """Migrations and seeds `up` would apply to one service's database."""

    migrations: tuple[str, ...] = ()
    seeds: tuple[str, ...] = ()
    command: str | None = None  # another tool migrates it: only it knows what it applies
    new: bool = False  # its database does not exist yet: every file applies

    @property
    def any(self) -> bool:
        """Files to apply. A `command` is not counted: it runs on every `up` (its tool is
        idempotent by contract) and alone knows whether it changes anything."""
        return bool(self.migrations or self.seeds)


@dataclass(frozen=True)
class Changes:
    passwords: tuple[str, ...] = ()  # keys `<server>/<user>` of passwords to create
    ports: dict[str, int] = field(default_factory=dict)  # `auto` ports to choose
    files: tuple[tuple[str, bool], ...] = ()  # (generated file, exists already)
    images: tuple[tuple[str, str, str], ...] = ()  # (server, tag, what it adds)
    containers: dict[str, str] = field(default_factory=dict)  # container -> create|recreate|...
    provisioning: dict[str, tuple[str, ...]] = field(default_factory=dict)  # server -> actions
    work: dict[str, ServiceWork] = field(default_factory=dict)  # service -> what applies
    env_files: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what could not be told, and why

    @property
    def empty(self) -> bool:
        return not (self.passwords or self.ports or self.files or self.images
                    or any(a != "keep" for a in self.containers.values())
                    or any(self.provisioning.values())
                    or any(w.any for w in self.work.values()) or self.env_files)

    def as_json(self) -> dict[str, Any]:
        return {
            "changes": not self.empty,
            "passwords": list(self.passwords),
            "ports": dict(self.ports),
            "files": [{"path": p, "exists": e} for p, e in self.files],
            "images": [{"server": s, "tag": t, "from": w} for s, t, w in self.images],
            "containers": dict(self.containers),
            "provisioning": {k: list(v) for k, v in self.provisioning.items()},
            "migrations": {k: {"migrations": list(w.migrations), "seeds": list(w.seeds),
                               "command": w.command, "new_database": w.new}
                           for k, w in self.work.items() if w.any or w.command},
            "env_files": list(self.env_files),
            "notes": list(self.notes),
        }

    def lines(self, project: str) -> list[str]:
        out = [f"`devenv up` of {project} would:"]
        if self.passwords:
            out.append(f"  create {len(self.passwords)} password(s) in .devenv/secrets.json "
                       f"({', '.join(self.passwords)})")
        for name, port in self.ports.items():
            out.append(f"  choose port {port} for {name} (auto; kept afterwards)")
        for path, exists in self.files:
            out.append(f"  {'rewrite' if exists else 'write'} {path}")
        for server, tag, what in self.images:
            out.append(f"  build image {tag} for {server} ({what})")
        for verb in ("create", "recreate", "start"):
            names = [n for n, a in self.containers.items() if a == verb]
            if names:
                out.append(f"  {verb} container(s) {', '.join(names)}")
        for server, actions in self.provisioning.items():
            if actions:
                out.append(f"  on server {server}:")
                out += [f"    {a}" for a in actions]
        for service, work in self.work.items():
            for label, files in (("migration", work.migrations), ("seed", work.seeds)):
                if files:
                    fresh = " (new database)" if work.new else ""
                    out.append(f"  {service}: apply {len(files)} {label}(s){fresh}: "
                               f"{', '.join(files)}")
        for path in self.env_files:
            out.append(f"  write {path}")
        if self.empty:
            out = [f"`devenv up` of {project} would change nothing."]
        out += [f"  {service}: runs `{work.command}` on every `up` (it decides what to apply)"
                for service, work in self.work.items() if work.command]
        out += [f"note: {n}" for n in self.notes]
        out.append("Nothing was changed.")
        return out
