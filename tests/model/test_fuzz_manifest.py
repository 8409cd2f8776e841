"""Fuzzing the manifest pipeline: parse -> resolve -> render never fails with anything but a
DevenvError, and every DevenvError points at devenv.yaml (and the key path when it is about
one). Starts from the valid manifests of the repo and mutates them; no Docker.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from devenv.errors import DevenvError
from devenv.model.manifest import parse
from devenv.model.render import compose_files
from devenv.model.resolve import resolve

REPO = Path(__file__).resolve().parents[2]
ROOT = Path("/nonexistent-devenv-fuzz-root")
SEEDS = [
    yaml.safe_load((REPO / "devenv.yaml").read_text()),
    yaml.safe_load((REPO / "examples" / "pcc" / "devenv.yaml").read_text()),
    {"project": "demo", "services": {"app": {"postgres": True, "redis": True}}},
    {"project": "demo", "servers": {"pg": {"kind": "postgres", "port": "auto"}},
     "services": {"app": {"postgres": "pg", "env": {"X": "{{ db.url }}"}}}},
]
# `devenv.yaml:12: ...`, `devenv.yaml:12:3: ...` or `devenv.yaml: ...`
LINE = re.compile(r"^devenv\.yaml(:\d+(:\d+)?)?: ")
FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

KNOWN_WORDS = ["project", "services", "servers", "kind", "postgres", "redis", "pgbouncer",
               "timescaledb", "port", "auto", "bind", "settings", "image", "target", "reads",
               "extensions", "env", "migrations", "seeds", "naming", "roles", "database", "role",
               "path", "command", "pool_mode", "persistence", "environment", "{service}",
               "{{ db.url }}", "{{ nope }}", "{% for %}", "true", "null"]
# Keys with line breaks, control characters and keys like pydantic's union tags ('[', str,
# function-*) were bugs fixed in d89e6ef: the fuzzing now includes them.
names = st.one_of(
    st.sampled_from([*KNOWN_WORDS, "[", "a[b]", "str", "bool", "function-x", "[key]"]),
    st.text(min_size=0, max_size=12),
    st.text(alphabet="abcxyz_-.:\"'; \t\n\r\u2028[]0123456789", min_size=1, max_size=10),
)
scalars = st.one_of(
    st.none(), st.booleans(), names,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 65536, 10**30, 2**63, 2**64]),
    st.floats(allow_nan=True, allow_infinity=True),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(names, inner, max_size=3)),
    max_leaves=8,
)


def _containers(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a dict or list inside the manifest (the root included)."""
    out = [path]
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(
        node, list) else []
    for key, value in items:
        if isinstance(value, dict | list):
            out += _containers(value, (*path, key))
    return out


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        node = node[key]
    return node


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    data = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        where = _at(data, draw(st.sampled_from(_containers(data))))
        keys = list(where) if isinstance(where, dict) else list(range(len(where)))
        op = draw(st.sampled_from(["drop", "rename", "replace", "insert", "retype"]))
        if op == "insert" or not keys:
            if isinstance(where, dict):
                where[draw(names)] = draw(values)
            else:
                where.append(draw(values))
            continue
        key = draw(st.sampled_from(keys))
        if op == "drop":
            del where[key]
        elif op == "rename" and isinstance(where, dict):
            where[draw(names)] = where.pop(key)
        elif op == "retype":
            old = where[key]
            where[key] = [old] if not isinstance(old, list) else {"x": old}
        else:
            where[key] = draw(values)
    return data


def _check(text: str) -> None:
    """The property: a DevenvError with located lines, or a stack that renders."""
    try:
        manifest, located = parse(text, source="devenv.yaml")
        stack = resolve(manifest, located, root=ROOT)
        files = compose_files(stack)
    except DevenvError as exc:
        assert exc.message.strip(), "an empty error message"
        for line in exc.message.splitlines():
            assert LINE.match(line), f"error line not located in devenv.yaml: {line!r}\n" \
                                     f"--- whole message:\n{exc.message}"
        return
    assert files, "a valid manifest renders at least the compose file"
    for rel, body in files.items():
        assert isinstance(body, str) and body, rel
        if rel.suffix == ".yaml":
            assert isinstance(yaml.safe_load(body), dict)


def _error(text: str) -> DevenvError:
    """The property for input that must be refused: a DevenvError whose every line is located
    (nothing raised fails the test, unlike `_check`, for which rendering is also fine)."""
    with pytest.raises(DevenvError) as caught:
        manifest, located = parse(text, source="devenv.yaml")
        compose_files(resolve(manifest, located, root=ROOT))
    _check(text)  # the same error, checked line by line
    return caught.value


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def test_seed_manifests_render() -> None:
    for data in SEEDS:
        _check(_dump(data))


@FUZZ
@given(mutated())
def test_mutated_manifests_fail_only_with_located_devenv_errors(data: Any) -> None:
    _check(_dump(data))


@FUZZ
@given(values)
def test_random_documents(data: Any) -> None:
    _check(_dump(data))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([*"ab:{}[]-#&*!|>'\"%@`\n\t ,?", "\n  ", ": ", "- "]),
                max_size=40).map("".join))
@example("project: [\n")
@example("x: &a [1]\ny: *a")
@example("!!python/object:os.system 1")
@example("project: !!binary 'QUJD'\nservices: {}")
def test_yaml_garbage(text: str) -> None:
    _check(text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_random_unicode_text(text: str) -> None:
    _check(text)


@FUZZ
@given(st.sampled_from(SEEDS), names, values, st.data())
def test_unknown_key_is_reported_at_its_line_with_its_path(
        seed: dict[str, Any], key: str, value: Any, data: st.DataObject) -> None:
    """Inserting an unknown key anywhere in a model gives `devenv.yaml:LINE: path.key: ...`."""
    manifest = copy.deepcopy(seed)
    models: list[tuple[str, ...]] = [()]
    models += [("servers", s) for s in manifest.get("servers", {})]
    models += [("services", s) for s in manifest["services"]]
    path = data.draw(st.sampled_from(models))
    key = "zz_" + re.sub(r"[^a-z0-9_]", "", key.lower())
    target = _at(manifest, path)
    target[key] = value
    text = _dump(manifest)
    line = 1 + text.splitlines().index(next(
        t for t in text.splitlines() if t.lstrip().startswith(f"{key}:")))
    with pytest.raises(DevenvError) as caught:
        parse(text, source="devenv.yaml")
    dotted = ".".join((*path, key))
    assert f"devenv.yaml:{line}: {dotted}: unknown key '{key}'" in caught.value.message


@pytest.mark.parametrize("name", ["a\nb", "a\rb", "x\u2028y", "\r"])
def test_key_with_line_break_stays_on_one_located_line(name: str) -> None:
    _error(_dump({"project": "demo", "services": {name: {"postgres": True}}}))


def test_unknown_key_with_line_break_stays_on_one_located_line() -> None:
    _error(_dump({"project": "demo", "services": {"app": {}}, "\r": "x"}))


def test_deeply_nested_yaml_is_a_devenv_error() -> None:
    _error("project: " + "[" * 800 + "]" * 800 + "\nservices: {}\n")


def test_control_character_is_a_located_error() -> None:
    _error("project: demo\nservices: {a\x00: {}}\n")


@pytest.mark.parametrize("text", [
    "&a [*a]",
    "project: demo\nservices: &s {x: *s}\n",
    # "billion laughs": aliases of aliases expanding exponentially
    "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
])
def test_self_referencing_or_exploding_aliases_are_devenv_errors(text: str) -> None:
    _error(text)


@pytest.mark.parametrize("key", ["'['", "bool", "function-x", "'[key]'"])
def test_top_level_key_looking_like_a_pydantic_tag_is_a_devenv_error(key: str) -> None:
    _error(f"project: demo\nservices: {{}}\n{key}: 1\n")


def test_unknown_key_named_like_a_type_is_named() -> None:
    with pytest.raises(DevenvError) as caught:
        parse("project: demo\nservices:\n  app:\n    str: 1\n", source="devenv.yaml")
    assert caught.value.message.startswith("devenv.yaml:4: services.app.str: unknown key 'str'")
