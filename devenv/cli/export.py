"""`devenv export kubernetes`: the stack as a kustomize folder on CloudNativePG.

docs/kubernetes.md says how to apply it and what carries over.
"""

from __future__ import annotations

import os
from pathlib import Path

from devenv.console import Console
from devenv.errors import DevenvError
from devenv.model import kubernetes, yamlio
from devenv.model.stack import Stack
from devenv.model.yamlio import KeyPath
from devenv.store import exported

DEFAULT_DIR = "k8s"
SECRETS_MODES = ("generate", "external")


def _lines(stack: Stack) -> dict[KeyPath, int]:
    """The manifest's key lines, so an error names `devenv.yaml:LINE` (the cached stack keeps
    none); a manifest that cannot be read again gives errors without lines."""
    try:
        text = (stack.root / stack.manifest_name).read_text()
    except OSError:
        return {}
    return yamlio.load_with_lines(text, source=stack.manifest_name)[1]


def kubernetes_(stack: Stack, console: Console, *, output: Path | None, namespace: str | None,
                secrets: str, check: bool) -> None:
    if secrets not in SECRETS_MODES:
        raise DevenvError(f"--secrets {secrets!r}: use generate or external",
                          hint="generate writes them (git-ignored); external names them only")
    folder = output if output is not None else stack.root / DEFAULT_DIR
    name = namespace or kubernetes.k8s_name(stack.project)
    if kubernetes.k8s_name(name) != name or len(name) > 63:
        raise DevenvError(f"--namespace {name!r} is not a Kubernetes namespace name",
                          hint="lower-case letters, digits and '-', at most 63 characters")
    external = secrets == "external"
    lines = _lines(stack)
    shown = os.path.relpath(folder)
    if check:
        stale = exported.stale(stack, folder, name, external=external, lines=lines)
        if stale:
            raise DevenvError("exported files are stale: " + ", ".join(
                os.path.relpath(p) for p in stale),
                hint="run `devenv export kubernetes` with the same options and commit it")
        console.say(f"{shown}/ is up to date with {stack.manifest_name}")
        return
    changed = exported.write(stack, folder, name, external=external, lines=lines)
    for path in changed:
        console.say(f"wrote {os.path.relpath(path)}")
    if not changed:
        console.say(f"nothing to do: {shown}/ is up to date")
    for line in kubernetes.requirements(stack):
        console.say(line)
    if external:
        console.say("Secrets to provide in the namespace: "
                    + ", ".join(kubernetes.secret_names(stack)))
    context = f"{shown}/{kubernetes.CONTEXT}"
    console.say(f"next: `docker build -t IMAGE {context}` (its wheels/ and app/ are filled: no "
                f"package index needed), set the image in {shown}/{kubernetes.KUSTOMIZATION}, "
                f"then `kubectl apply -k {shown}`")
