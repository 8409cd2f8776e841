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


# Bounds of users' templates (issue 14): an `env:` value is a short string built from a few facts;
# these keep a hostile or mistaken one from hanging `devenv config` or eating the memory.
MAX_OUTPUT = 64 * 1024  # characters a template may produce, and any string or list built in it
MAX_RANGE = 256  # range() lengths: nested loops stay small
MAX_POWER_BITS = 4096  # `**` results (7 ** 999999999 would take minutes)


@cache
def sandbox() -> SandboxedEnvironment:
    """Users' templates: no attribute escapes, an undefined name is an error, and bounded."""
    import jinja2  # noqa: PLC0415 - jinja2, ~30 ms: a warm `up` renders nothing
    from jinja2.exceptions import SecurityError  # noqa: PLC0415 - the same
    from jinja2.sandbox import SandboxedEnvironment  # noqa: PLC0415 - the same

    class Bounded(SandboxedEnvironment):
        intercepted_binops = frozenset(["**", "*", "+"])

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(left, int) and isinstance(right, int) and (
                    right > 0 and abs(left) > 1
                    and right * max(abs(left), 2).bit_length() > MAX_POWER_BITS):
                raise SecurityError(f"{left} ** {right} is too large for a template")
            if operator == "*" and _sized(left, right) > MAX_OUTPUT:
                raise SecurityError("a string or list that large is not for a template")
            result = super().call_binop(context, operator, left, right)
            if isinstance(result, str | list) and len(result) > MAX_OUTPUT:
                raise SecurityError("a string or list that large is not for a template")
            return result

    def bounded_range(*args: int) -> range:
        found = range(*args)
        if len(found) > MAX_RANGE:
            raise SecurityError(f"range() of {len(found)} items (at most {MAX_RANGE})")
        return found

    # keep_trailing_newline: a `|` block scalar (a PEM key...) keeps its final line break.
    env = Bounded(undefined=jinja2.StrictUndefined, autoescape=False,
                  keep_trailing_newline=True)
    env.globals["range"] = bounded_range
    return env


def render_user(source: str, context: dict[str, Any]) -> str:
    """One user template rendered in the sandbox; any failure is a TemplateProblem."""
    import jinja2  # noqa: PLC0415 - jinja2, ~30 ms: a warm `up` renders nothing

    try:
        out = sandbox().from_string(source).render(context)
    except Exception as exc:  # TemplateError, SecurityError, and what `include` without a
        # loader or a filter given the wrong type raises (TypeError...): all the user's to fix
        message = (getattr(exc, "message", None) or str(exc)).strip()
        raise TemplateProblem(message.splitlines()[0] if message else type(exc).__name__,
                              syntax=isinstance(exc, jinja2.TemplateSyntaxError)) from None
    if len(out) > MAX_OUTPUT:
        raise TemplateProblem(f"the value is {len(out)} characters (at most {MAX_OUTPUT})")
    return out


class TemplateProblem(Exception):
    """A user template that does not render: its one-line reason (`syntax`: it does not even
    parse, so what it could see is beside the point)."""

    def __init__(self, reason: str, *, syntax: bool = False) -> None:
        super().__init__(reason)
        self.syntax = syntax


def _sized(left: Any, right: Any) -> int:
    """How long `left * right` would be when it repeats a string or a list, else 0."""
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(count, int):
            return len(seq) * count
    return 0
