"""Jinja2 for text formats: our own templates, and users' env templates in a sandbox.

jinja2 is imported on first use: a warm `devenv up` renders nothing.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment


@cache
def _ours() -> jinja2.Environment:
    import jinja2  # noqa: PLC0415 - jinja2, ~30 ms: a warm `up` renders nothing

    return jinja2.Environment(
        loader=jinja2.PackageLoader("devenv.model", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_template(name: str, **context: Any) -> str:
    return _ours().get_template(name).render(**context)


@cache
def sandbox() -> SandboxedEnvironment:
    """Users' templates: no attribute escapes, and an undefined name is an error, not ''."""
    import jinja2  # noqa: PLC0415 - jinja2, ~30 ms: a warm `up` renders nothing
    from jinja2.sandbox import SandboxedEnvironment  # noqa: PLC0415 - jinja2, ~30 ms: a warm `up` renders nothing

    # keep_trailing_newline: a `|` block scalar (a PEM key...) keeps its final line break.
    return SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False,
                                keep_trailing_newline=True)
