"""The one YAML loader (safe, with the line of every key) and the one deterministic dumper."""

from __future__ import annotations

from typing import Any

import yaml

from devenv.errors import DevenvError

KeyPath = tuple[str | int, ...]
MAX_ENTRIES = 50_000


def load_with_lines(text: str, *, source: str) -> tuple[Any, dict[KeyPath, int]]:
    """Parse `text` safely; return the data and the 1-based line of every key and list item.

    Lines let every manifest error say where to look. Duplicate keys are an error here because
    PyYAML silently keeps the last one, which hides typos.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        opened = exc.context_mark
        if (exc.context and "flow" in exc.context and opened is not None
                and (mark is None or opened.line != mark.line)):
            # e.g. an unclosed '{': the problem is found at the end, the cause is where it opened
            problem += (f" ({exc.context.replace('parsing a', 'parsing the')} opened at line "
                        f"{opened.line + 1}, column {opened.column + 1})")
        raise DevenvError(
            f"{where}: YAML syntax error: {problem}",
            hint="check indentation and quoting around that line",
        ) from None
    except yaml.reader.ReaderError as exc:  # a control character, or bytes that are not text
        line = text[: exc.position].count("\n") + 1
        what = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(
            exc.character)
        raise DevenvError(f"{source}:{line}: YAML syntax error: character {what} is not "
                          "allowed in YAML", hint="remove it (an editor may show it as a box "
                          "or nothing at all)") from None
    except yaml.YAMLError as exc:  # pragma: no cover - other YAML errors carry no mark
        raise DevenvError(f"{source}: YAML error: {exc}") from None
    except RecursionError:
        raise DevenvError(f"{source}: YAML nested too deeply",
                          hint="a manifest needs a few levels; check the brackets") from None
    lines: dict[KeyPath, int] = {}
    if node is not None:
        try:
            _walk(node, (), lines, source)
        except RecursionError:
            raise DevenvError(f"{source}: YAML nested too deeply",
                              hint="a manifest needs a few levels; check the brackets") from None
    return data, lines


def _walk(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], source: str,
          parents: frozenset[int] = frozenset()) -> None:
    if id(node) in parents:  # `&a [*a]`: an alias inside itself
        dotted = ".".join(str(p) for p in path) or "(top)"
        raise DevenvError(f"{source}:{node.start_mark.line + 1}: {dotted}: a YAML alias refers "
                          "to itself", hint="replace the alias by the value it should have")
    if len(lines) > MAX_ENTRIES:  # aliases of aliases can expand exponentially
        raise DevenvError(f"{source}: more than {MAX_ENTRIES} entries once YAML aliases are "
                          "expanded", hint="a manifest this big is a mistake: check the aliases")
    parents = parents | {id(node)}
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                dotted = ".".join(str(p) for p in (*path, key))
                raise DevenvError(
                    f"{source}:{key_node.start_mark.line + 1}: {dotted}: duplicate key",
                    hint="remove one of the two entries",
                )
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), lines, source, parents)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _walk(item, (*path, index), lines, source, parents)


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key, no aliases: output reads like hand-written."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(data: Any) -> str:
    """Dump `data` the same way every time: insertion order kept, no line wrapping."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=10_000,
    )
