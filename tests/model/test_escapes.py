"""Names and values that try to escape: quotes and SQL in names, line breaks in .env values,
jinja2 templates reaching for Python internals. No Docker.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from devenv.engine import provision
from devenv.errors import DevenvError
from devenv.model import facts
from devenv.model.credentials import Secrets, needed
from devenv.model.manifest import parse
from devenv.model.resolve import resolve
from devenv.model.stack import Stack

ROOT = Path("/nonexistent-devenv-escapes")
IDENT = "is not a lowercase PostgreSQL identifier (letters a-z, digits and '_', not starting " \
        "with a digit)"


def stack_of(text: str) -> Stack:
    manifest, located = parse(textwrap.dedent(text).lstrip("\n"), source="devenv.yaml")
    return resolve(manifest, located, root=ROOT)


def error_of(text: str) -> str:
    with pytest.raises(DevenvError) as caught:
        stack_of(text)
    return caught.value.message


def fake_secrets(stack: Stack) -> Secrets:
    return Secrets({key: f"pw{i}Secret" for i, key in enumerate(needed(stack))})


# -- names ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ['auth"; DROP', "a'b", "x--", "Auth", "a b", "1a", "a;b"])
def test_service_names_with_quotes_or_sql_are_refused_at_their_line(name: str) -> None:
    message = error_of(f"""
        project: demo
        services:
          ok:
            postgres: true
          {_yaml_key(name)}:
            postgres: true
    """)
    assert message == f"devenv.yaml:5: services.{name}: {name!r} {IDENT}"


@pytest.mark.parametrize("key", ["database", "role"])
@pytest.mark.parametrize("value", ['auth"; DROP TABLE x; --', "a'b", "x--", "a\"b"])
def test_database_and_role_names_with_quotes_or_sql_are_refused(key: str, value: str) -> None:
    message = error_of(f"""
        project: demo
        services:
          app:
            postgres: true
            {key}: {_yaml_key(value)}
    """)
    assert message == f"devenv.yaml:5: services.app.{key}: {value!r} {IDENT}"


@pytest.mark.parametrize("pattern", ["{service}'; DROP", '{service}"', "{service}--x"])
def test_naming_patterns_producing_unsafe_names_are_refused(pattern: str) -> None:
    message = error_of(f"""
        project: demo
        naming:
          database: {_yaml_key(pattern)}
        services:
          app:
            postgres: true
    """)
    produced = pattern.replace("{service}", "app")
    assert message == f"devenv.yaml:3: naming.database: {produced!r} {IDENT}"


@pytest.mark.parametrize("ext", ['auth"; DROP', "a'b", "pg crypto", "x;y", "Citext", "-x"])
def test_extension_names_with_quotes_or_sql_are_refused(ext: str) -> None:
    message = error_of(f"""
        project: demo
        services:
          app:
            postgres: true
            extensions: [citext, {_yaml_key(ext)}]
    """)
    assert message == f"devenv.yaml:5: services.app.extensions.1: {ext!r} is not an extension name"


def test_extension_names_with_dashes_are_allowed_but_always_quoted_in_sql() -> None:
    """`uuid-ossp` needs '-', so `x--` passes the manifest (on an image devenv does not know,
    checked on the image itself); it must reach SQL as an identifier."""
    stack = stack_of("""
        project: demo
        servers:
          pg: {kind: postgres, image: "registry.example/custom-postgres:17"}
        services:
          app:
            postgres: true
            extensions: [uuid-ossp, x--]
    """)
    executed: list[str] = []

    class Rows(list[Any]):
        def fetchone(self) -> None:
            return None

    class Conn:
        def execute(self, query: Any, *args: Any) -> Rows:
            executed.append(query if isinstance(query, str) else query.as_string(None))
            return Rows()

    provision.create_extensions(Conn(), stack.services["app"], "app")  # type: ignore[arg-type]
    assert 'CREATE EXTENSION IF NOT EXISTS "uuid-ossp" SCHEMA public CASCADE' in executed
    assert 'CREATE EXTENSION IF NOT EXISTS "x--" SCHEMA public CASCADE' in executed


@pytest.mark.parametrize("name", ['db"; DROP', "x'y", "Pg", "a b"])
def test_server_names_with_quotes_are_refused(name: str) -> None:
    message = error_of(f"""
        project: demo
        servers:
          {_yaml_key(name)}:
            kind: redis
        services:
          app:
            redis: true
    """)
    assert message.startswith(f"devenv.yaml:3: servers.{name}: {name!r} is not a valid Compose "
                              "name")


def _yaml_key(text: str) -> str:
    """A YAML double-quoted scalar for any text."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- .env values ------------------------------------------------------------------------------
_DQ_ESCAPES = re.compile(r"\\[\\'\"abfnrtv]")


def read_dotenv(text: str) -> dict[str, str]:
    """python-dotenv's rules (it is not installed here): KEY=VALUE lines, # comments; a
    double-quoted value may span lines and decodes \\\\ \\' \\" \\a \\b \\f \\n \\r \\t \\v (other
    backslashes stay); a single-quoted one decodes only \\\\ and \\'; an unquoted one ends at
    ' #' and is stripped."""
    out: dict[str, str] = {}
    pos = 0
    line_re = re.compile(r"[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.]*)[ \t]*=[ \t]*")
    while pos < len(text):
        if text[pos] in "\n\r":
            pos += 1
            continue
        if text[pos:].lstrip(" \t").startswith("#"):
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end + 1
            continue
        match = line_re.match(text, pos)
        assert match, f"not a dotenv line at {text[pos:pos + 40]!r}"
        key, pos = match.group(1), match.end()
        if text.startswith('"', pos):
            value = re.compile(r'"((?:\\.|[^"\\])*)"', re.S).match(text, pos)
            assert value, f"unterminated double quote for {key}"
            out[key] = _DQ_ESCAPES.sub(
                lambda m: codecs.decode(m.group(0), "unicode-escape"), value.group(1))
            pos = value.end()
        elif text.startswith("'", pos):
            value = re.compile(r"'((?:\\'|[^'])*)'", re.S).match(text, pos)
            assert value, f"unterminated single quote for {key}"
            out[key] = re.sub(r"\\[\\']", lambda m: m.group(0)[1], value.group(1))
            pos = value.end()
        else:
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            out[key] = re.split(r"\s+#", text[pos:end], maxsplit=1)[0].strip()
            pos = end
        rest = text.find("\n", pos)
        trailing = text[pos:len(text) if rest < 0 else rest].strip()
        assert not trailing or trailing.startswith("#"), f"junk after {key}: {trailing!r}"
        pos = len(text) if rest < 0 else rest + 1
    return out


VALUES = {
    "MULTI": "line one\nline two\n",
    "QUOTES": 'say "hi" and \'bye\'',
    "BACKSLASH": "C:\\path\\n-not-a-newline\\",
    "HASH": "value #not a comment",
    "SPACES": "  padded  ",
    "EQUALS": "a=b=c",
    "TAB": "a\tb",
    "INJECT": 'x"\nEVIL=1\n#',
    "EMPTY": "",
    "UNICODE": "héllo ✓",
}


def _env_stack(values: dict[str, str], *, redis: bool = True) -> Stack:
    stack = stack_of(f"""
        project: demo
        services:
          app:
            postgres: true
            redis: {str(redis).lower()}
    """)
    svc = dataclasses.replace(stack.services["app"], env=tuple(values.items()))
    return dataclasses.replace(stack, services={"app": svc})


def test_env_values_with_line_breaks_and_quotes_read_back_exactly() -> None:
    # Template text is a literal here: '{{' is absent, so jinja2 returns it unchanged.
    stack = _env_stack(VALUES)
    creds = fake_secrets(stack)
    variables = facts.env_vars(stack, stack.services["app"], creds, {})
    for key, value in VALUES.items():
        assert variables[key] == value, key
    text = facts.format_env(variables, "dotenv", header="# header\n")
    read = read_dotenv(text)
    assert "EVIL" not in read, "a value's line break started a new variable"
    assert read == variables
    assert len([ln for ln in text.splitlines() if not ln.startswith("#")]) >= len(variables)


def test_env_values_from_the_manifest_keep_their_line_breaks() -> None:
    stack = stack_of("""
        project: demo
        services:
          app:
            postgres: true
            env:
              CERT: |
                -----BEGIN-----
                "abc"
                -----END-----
              URL_AGAIN: "{{ db.url }}\\nsecond line"
    """)
    creds = fake_secrets(stack)
    variables = facts.env_vars(stack, stack.services["app"], creds, {})
    assert variables["CERT"].rstrip("\n") == '-----BEGIN-----\n"abc"\n-----END-----'
    assert variables["URL_AGAIN"] == variables["DATABASE_URL"] + "\nsecond line"
    assert read_dotenv(facts.format_env(variables, "dotenv")) == variables


def test_env_value_keeps_its_trailing_newline() -> None:
    stack = _env_stack({"CERT": "-----BEGIN-----\nabc\n-----END-----\n"})
    variables = facts.env_vars(stack, stack.services["app"], fake_secrets(stack), {})
    assert variables["CERT"] == "-----BEGIN-----\nabc\n-----END-----\n"


def test_shell_format_round_trips_through_sh(tmp_path: Path) -> None:
    import subprocess

    stack = _env_stack({k: v for k, v in VALUES.items() if "\r" not in v})
    variables = facts.env_vars(stack, stack.services["app"], fake_secrets(stack), {})
    script = facts.format_env(variables, "shell") + 'for k in "$@"; do printf "%s\\0" ' \
        '"$(eval "printf %s \\"\\${$k}\\"")"; done\n'
    (tmp_path / "env.sh").write_text(script)
    keys = list(variables)
    done = subprocess.run(["sh", str(tmp_path / "env.sh"), *keys], capture_output=True,
                          check=True)
    got = done.stdout.decode().split("\0")[:-1]
    # $(...) strips trailing newlines: compare without them.
    assert got == [variables[k].rstrip("\n") for k in keys]


# -- jinja2 sandbox ---------------------------------------------------------------------------
ESCAPES = [
    "{{ db.__class__ }}",
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ lipsum.__globals__ }}",
    "{{ namespace.__init__ }}",
    "{{ db|attr('__class__') }}",
    "{{ self.__init__ }}",
    "{{ db.items.__self__ }}",
    "{{ service.format.__globals__ }}",
    "{% set x = ''.__class__ %}{{ x }}",
    "{{ ''.format_map.__call__ }}",
    "{{ db.password.__len__() }}",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_templates_reaching_for_internals_are_refused_at_resolve(template: str) -> None:
    message = error_of(f"""
        project: demo
        services:
          app:
            postgres: true
            env:
              X: {_yaml_key(template)}
    """)
    assert message.startswith("devenv.yaml:6: services.app.env.X: template error: "), message
    assert re.search(r"unsafe|undefined|has no attribute", message), message
    assert "<class" not in message, "the template was evaluated"


@pytest.mark.parametrize("template", ESCAPES)
def test_templates_reaching_for_internals_are_refused_when_writing_env(template: str) -> None:
    """The sandbox of facts.env_vars (not only the check at resolve time) refuses them too."""
    stack = _env_stack({"X": template})
    with pytest.raises(DevenvError) as caught:
        facts.env_vars(stack, stack.services["app"], fake_secrets(stack), {})
    message = caught.value.message
    assert message.startswith("devenv.yaml: services.app.env.X: template error: "), message
    assert "pw" not in message, "the error must not echo a password"


@pytest.mark.parametrize("template", ["{{ nope }}", "{{ db.nope }}", "{{ env.NOPE }}",
                                      "x{{ redis.url }}", "{{ nope.attr }}", "{{ nope ~ 'x' }}",
                                      "{% if nope %}a{% endif %}", "{{ db.nope | upper }}"])
def test_undefined_names_are_errors_not_empty_strings(template: str) -> None:
    text = f"""
        project: demo
        services:
          app:
            postgres: true
            env:
              X: {_yaml_key(template)}
    """
    message = error_of(text)
    assert message.startswith("devenv.yaml:6: services.app.env.X: template error: "), message
    assert re.search("undefined|has no attribute", message), message
    stack = _env_stack({"X": template}, redis=False)
    with pytest.raises(DevenvError, match=r"undefined|has no attribute"):
        facts.env_vars(stack, stack.services["app"], fake_secrets(stack), {})


def test_allowed_templates_render_the_facts() -> None:
    stack = _env_stack({"HOST": "{{ db.host }}", "PORT": "{{ db.port }}",
                        "PREFIX": "{{ redis.prefix }}", "DEFAULTED": "{{ nope | default('d') }}",
                        "DIRECT": "{{ env.DATABASE_DIRECT_URL }}"})
    variables = facts.env_vars(stack, stack.services["app"], fake_secrets(stack), {"x": 1})
    assert variables["HOST"] == "127.0.0.1"
    assert variables["PORT"] == "5432"
    assert variables["PREFIX"] == "app:"
    assert variables["DEFAULTED"] == "d"
    assert variables["DIRECT"] == variables["DATABASE_DIRECT_URL"]
