"""Jinja2 for text formats: our own templates, and users' env templates in a sandbox.

jinja2 is imported on first use: a warm `devenv up` renders nothing.
"""

from __future__ import annotations

import contextvars
import re
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


# Bounds of users' templates (issues 14 and 27): an `env:` value is a short string built from a
# few facts; these keep a hostile or mistaken one from hanging `devenv config` or eating the
# memory. Everything that could build a large value is checked *before* it allocates (the size
# it would have is computed from its arguments): `*`, `%`, `~`, `**`, the filters, the methods
# of strings, lipsum(); the output is counted as it is produced, loops share a budget of
# iterations, and the block forms that build a string out of sight ({% set %}...{% endset %},
# macros, {% call %}, {% filter %}) are refused.
MAX_OUTPUT = 64 * 1024  # characters a template may produce, and any string or list built in it
MAX_RANGE = 256  # range() lengths: nested loops stay small
MAX_POWER_BITS = 4096  # `**` results (7 ** 999999999 would take minutes)
MAX_ITERATIONS = 100_000  # loop iterations in one render, all loops together
_REFUSED_BLOCKS = {"AssignBlock": "{% set %}...{% endset %}", "Macro": "{% macro %}",
                   "CallBlock": "{% call %}", "FilterBlock": "{% filter %}"}
_TOO_LARGE = "a string or list that large is not for a template"
# printf-style conversions, and the numbers of str.format specs (widths and precisions)
_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_NUMBER = re.compile(r"\d+")
_iterations: contextvars.ContextVar[list[int]] = contextvars.ContextVar("template_iterations")


@cache
def sandbox() -> SandboxedEnvironment:
    """Users' templates: no attribute escapes or mutation, an undefined name is an error, and
    bounded."""
    import jinja2  # noqa: PLC0415 - jinja2, ~30 ms: a warm `up` renders nothing
    from jinja2 import nodes  # noqa: PLC0415 - the same
    from jinja2.exceptions import SecurityError, TemplateSyntaxError  # noqa: PLC0415 - the same
    from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: PLC0415 - the same
    from jinja2.utils import generate_lorem_ipsum  # noqa: PLC0415 - the same
    from jinja2.visitor import NodeTransformer  # noqa: PLC0415 - the same

    class ConcatBounder(NodeTransformer):
        """`a ~ b` as _bounded_concat([a, b]): str_join would build it unmeasured."""

        def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
            self.generic_visit(node)
            return nodes.Call(nodes.Name("_bounded_concat", "load"),
                              [nodes.List(node.nodes, lineno=node.lineno)], [], None, None,
                              lineno=node.lineno)

    def refuse_above(size: int) -> None:
        if size > MAX_OUTPUT:
            raise SecurityError(_TOO_LARGE)

    class Bounded(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset(["**", "*", "+", "%"])

        def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
            tree = super()._parse(source, name, filename)
            for kind, shown in _REFUSED_BLOCKS.items():
                for node in tree.find_all(getattr(nodes, kind)):
                    raise TemplateSyntaxError(f"{shown} is not supported in an env template",
                                              node.lineno, name, filename)
            # every loop draws on one budget; every `~` is measured before it joins
            for loop in tree.find_all(nodes.For):
                loop.iter = nodes.Call(nodes.Name("_bounded_iter", "load"), [loop.iter], [],
                                       None, None, lineno=loop.lineno)
            return ConcatBounder().visit(tree)  # type: ignore[no-any-return]

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(left, int) and isinstance(right, int) and (
                    right > 0 and abs(left) > 1
                    and right * max(abs(left), 2).bit_length() > MAX_POWER_BITS):
                raise SecurityError(f"{left} ** {right} is too large for a template")
            if operator == "*":
                refuse_above(_sized(left, right))
            if operator == "%" and isinstance(left, str):
                refuse_above(_printf_size(left, right))
            result = super().call_binop(context, operator, left, right)
            refuse_above(_length(result))
            return result

        def call(__self, __context: Any, __obj: Any,
                 *args: Any, **kwargs: Any) -> Any:
            if args and getattr(getattr(__obj, "__self__", None), "join", None) == __obj \
                    and not isinstance(args[0], str | list | tuple):
                args = (list(args[0]), *args[1:])  # measured, then joined: one pass
            refuse_above(_call_size(__obj, args, kwargs))
            result = super().call(__context, __obj, *args, **kwargs)
            refuse_above(_length(result))
            return result

    def bounded_range(*args: int) -> range:
        found = range(*args)
        if len(found) > MAX_RANGE:
            raise SecurityError(f"range() of {len(found)} items (at most {MAX_RANGE})")
        return found

    def bounded_iter(items: Any) -> Any:
        budget = _iterations.get(None)
        for item in items:
            if budget is not None:
                budget[0] -= 1
                if budget[0] < 0:
                    raise SecurityError(f"more than {MAX_ITERATIONS} loop iterations")
            yield item

    def bounded_concat(parts: list[Any]) -> str:
        refuse_above(sum(_footprint(p) for p in parts))
        return "".join(str(p) for p in parts)

    def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20,
                       max: int = 100) -> str:
        refuse_above(n * max * 16)  # words of at most 15 letters and a space
        return str(generate_lorem_ipsum(n, html, min, max))

    # keep_trailing_newline: a `|` block scalar (a PEM key...) keeps its final line break.
    env = Bounded(undefined=jinja2.StrictUndefined, autoescape=False,
                  keep_trailing_newline=True)
    env.globals.update(range=bounded_range, lipsum=bounded_lipsum, _bounded_iter=bounded_iter,
                       _bounded_concat=bounded_concat)
    env.filters = {name: _bounded_filter(name, f, SecurityError)
                   for name, f in env.filters.items()}
    return env


def render_user(source: str, context: dict[str, Any]) -> str:
    """One user template rendered in the sandbox; any failure is a TemplateProblem. The output
    is counted chunk by chunk: a loop of large values stops at the bound, not after it."""
    import jinja2  # noqa: PLC0415 - jinja2, ~30 ms: a warm `up` renders nothing

    budget = _iterations.set([MAX_ITERATIONS])
    try:
        chunks: list[str] = []
        size = 0
        for chunk in sandbox().from_string(source).generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateProblem(f"the value is over {MAX_OUTPUT} characters")
            chunks.append(chunk)
        out = "".join(chunks)
    except TemplateProblem:
        raise
    except Exception as exc:  # TemplateError, SecurityError, and what `include` without a
        # loader or a filter given the wrong type raises (TypeError...): all the user's to fix
        message = (getattr(exc, "message", None) or str(exc)).strip()
        raise TemplateProblem(message.splitlines()[0] if message else type(exc).__name__,
                              syntax=isinstance(exc, jinja2.TemplateSyntaxError)) from None
    finally:
        _iterations.reset(budget)
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


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | dict) else 0


def _footprint(value: Any, limit: int = MAX_OUTPUT + 1) -> int:
    """About how long str(value) is, counted without making it (stops past `limit`)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() // 3 + 2
    if isinstance(value, float):
        return 32
    if isinstance(value, list | tuple | set | frozenset | dict):
        total = 2
        items = value.items() if isinstance(value, dict) else value
        for item in items:
            total += _footprint(item, limit - total) + 2
            if total > limit:
                break
        return total
    return 64  # a fact object, Undefined...: its str() is short


def _specs(fmt: str, pattern: re.Pattern[str], *, stars: bool) -> tuple[int, int]:
    """(conversions, the largest width or precision) of a format string."""
    found = pattern.findall(fmt) if stars else []
    if stars:
        if any("*" in part for conv in found for part in conv):
            return len(found), MAX_OUTPUT + 1  # a width taken from the arguments
        numbers = [int(n) for conv in found for n in conv if n]
        return len(found), max(numbers, default=0)
    fields = fmt.count("{")
    numbers = [int(n) for n in _NUMBER.findall(fmt)]
    return fields, max(numbers, default=0)


def _printf_size(fmt: str, args: Any) -> int:
    """At most how long `fmt % args` is: each conversion as wide as its largest width or
    precision plus the largest argument (`%(a)s` may repeat one)."""
    conversions, widest = _specs(fmt, _PRINTF, stars=True)
    values = list(args.values()) if isinstance(args, dict) else (
        list(args) if isinstance(args, tuple) else [args])
    largest = max((_footprint(v) for v in values), default=0)
    return len(fmt) + conversions * (widest + largest)


def _format_size(fmt: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """The same for str.format: a spec's width may come from an argument ({:{}}), so every
    int argument counts as a possible width."""
    fields, widest = _specs(fmt, _PRINTF, stars=False)
    values = [*args, *kwargs.values()]
    widths = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    largest = max((_footprint(v) for v in values), default=0)
    return len(fmt) + fields * (max([widest, *widths]) + largest)


def _call_size(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """What a call of a string's method would make, before it makes it (0: not one that grows
    its string, checked after the call)."""
    target = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
    text = getattr(target, "__self__", None)
    if not isinstance(text, str):
        return 0
    name = getattr(target, "__name__", "")
    ints = [a for a in (*args, *kwargs.values()) if isinstance(a, int)]
    if name in ("center", "ljust", "rjust", "zfill"):
        return max([len(text), *ints])
    if name == "expandtabs":
        return len(text) + text.count("\t") * max([8, *ints])
    if name in ("format", "format_map"):
        mapping = args[0] if name == "format_map" and args and isinstance(args[0], dict) else {}
        return _format_size(text, args if name == "format" else (), {**kwargs, **mapping})
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str) \
            and isinstance(args[1], str):
        old, new = args[0], args[1]
        count = text.count(old) if old else len(text) + 1
        return len(text) + count * max(0, len(new) - len(old))
    if name == "join" and args:
        items = list(args[0])  # a list already: `call` made one of an iterator
        return sum(_footprint(i) for i in items) + len(text) * len(items)
    if name == "translate" and args and isinstance(args[0], dict):
        longest = max((_footprint(v) for v in args[0].values()), default=1)
        return len(text) * max(longest, 1)
    return 0


def _bounded_filter(name: str, func: Any, error: type[Exception]) -> Any:
    """A filter whose size is checked before and after it runs: a width, count or repeat
    argument larger than the bound is refused, and so is what would join or pad past it."""
    import functools  # noqa: PLC0415 - cheap; here beside its one use

    from jinja2 import Environment  # noqa: PLC0415 - jinja2 is imported by sandbox() already
    from jinja2.nodes import EvalContext  # noqa: PLC0415 - the same
    from jinja2.runtime import Context  # noqa: PLC0415 - the same

    passed = (EvalContext, Context, Environment)

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        lead = tuple(a for a in args if isinstance(a, passed))  # what jinja passes first
        values = list(args[len(lead):])
        numbers = [v for v in (*values, *kwargs.values())
                   if isinstance(v, int) and not isinstance(v, bool)]
        if any(abs(n) > MAX_OUTPUT for n in numbers):
            raise error(f"|{name}: a number that large is not for a template")
        first = values[0] if values else None
        size = 0
        if name in ("center", "indent") and isinstance(first, str):
            pad = max([0, *numbers], default=0)
            width = next((v for v in (*values[1:], *kwargs.values()) if isinstance(v, str)), "")
            size = len(first) + (first.count("\n") + 1) * (pad + len(width))
        elif name == "format" and isinstance(first, str):
            size = _printf_size(first, tuple(values[1:]) or kwargs)
        elif name == "join" and first is not None and not isinstance(first, str):
            values[0] = items = list(first)
            sep = next((v for v in (*values[1:], *kwargs.values()) if isinstance(v, str)), "")
            size = sum(_footprint(i) for i in items) + len(sep) * len(items)
        elif name == "replace" and isinstance(first, str) and len(values) >= 3:
            old, new = str(values[1]), str(values[2])
            count = first.count(old) if old else len(first) + 1
            size = len(first) + count * max(0, len(new) - len(old))
        elif name == "sum" and not isinstance(kwargs.get("start", 0), int | float):
            raise error("|sum adds numbers only in a template")
        if size > MAX_OUTPUT:
            raise error(_TOO_LARGE)
        result = func(*lead, *values, **kwargs)
        if _length(result) > MAX_OUTPUT:
            raise error(_TOO_LARGE)
        return result

    return bounded
