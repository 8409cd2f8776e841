"""Users' templates are bounded before they allocate (issue 27 item 17): `"x"|center(999999999)`,
`"%999999999d" % 1` and `lipsum(999999)` were refused only after rendering (3.9 GB, 112 s of
CPU). Each bomb runs in a child process capped at 512 MiB of address space and 60 s: it must
come back refused, by its reason, within both."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from devenv.model.templates import render_user

CHILD = textwrap.dedent("""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))
    from devenv.model.templates import TemplateProblem, render_user
    context = {"service": "app", "db": {"host": "127.0.0.1", "port": 5432}}
    try:
        out = render_user(sys.argv[1], context)
        print(json.dumps({"rendered": len(out)}))
    except TemplateProblem as exc:
        print(json.dumps({"refused": str(exc), "syntax": exc.syntax}))
""")
LARGE = "a string or list that large is not for a template"


def rendered_in_a_child(template: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", CHILD, template], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert isinstance(result, dict)
    return result


@pytest.mark.parametrize(("template", "reason"), [
    # the three of the issue
    ('{{ "x"|center(999999999) }}', "|center: a number that large is not for a template"),
    ('{{ "%999999999d" % 1 }}', LARGE),
    ("{{ lipsum(999999) }}", LARGE),
    # the same through methods, the other format syntax and widths taken from arguments
    ('{{ "x".center(999999999) }}', LARGE),
    ('{{ "x".zfill(999999999) }}', LARGE),
    ('{{ "{:999999999}".format(1) }}', LARGE),
    ('{{ "{:{}}".format(1, 999999999) }}', LARGE),
    ('{{ "%*d" % (999999999, 1) }}', LARGE),
    ('{{ "%.999999999f" % 1.5 }}', LARGE),
    ('{{ "%999999999d"|format(1) }}', LARGE),
    # growth from arguments each within the bound
    ('{{ ("x" * 60000).replace("", "y" * 60000) }}', LARGE),
    ('{{ ("x" * 60000)|replace("x", "y" * 60000) }}', LARGE),
    ('{{ (["y" * 60000] * 60000)|join }}', LARGE),
    ('{{ "".join(["y" * 60000] * 60000) }}', LARGE),
    ('{{ ("\\t" * 60000).expandtabs(60000) }}', LARGE),
    ('{{ ("a" * 60000).translate({97: "y" * 60000}) }}', LARGE),
    ('{{ ("x\\n" * 30000)|indent(60000) }}', LARGE),
    ('{{ ("%(a)s" * 20000) % {"a": "y" * 60000} }}', LARGE),
    ('{% set ns = namespace(s="x" * 60000) %}{% for i in range(40) %}'
     "{% set ns.s = ns.s ~ ns.s %}{% endfor %}", LARGE),
    ('{{ [1]|batch(999999999, "x")|list }}', "|batch: a number that large is not for a template"),
    # time: loops share one budget of iterations
    ('{% for i in "x" * 60000 %}{% for j in "x" * 60000 %}{% endfor %}{% endfor %}',
     "more than 100000 loop iterations"),
    # output counted as it is made
    ('{% for i in range(256) %}{% for j in range(256) %}{{ "y" * 60000 }}{% endfor %}'
     "{% endfor %}", "the value is over 65536 characters"),
])
def test_a_template_bomb_is_refused_before_it_allocates(template: str, reason: str) -> None:
    assert rendered_in_a_child(template) == {"refused": reason, "syntax": False}


@pytest.mark.parametrize(("template", "shown"), [
    ("{% set a %}{{ 'y' * 60000 }}{% endset %}{{ a }}", "{% set %}...{% endset %}"),
    ("{% macro m() %}x{% endmacro %}{{ m() }}", "{% macro %}"),
    ("{% call range(3) %}x{% endcall %}", "{% call %}"),
    ("{% filter upper %}x{% endfilter %}", "{% filter %}"),
])
def test_block_forms_that_build_strings_out_of_sight_are_refused(template: str,
                                                                 shown: str) -> None:
    assert rendered_in_a_child(template) == {
        "refused": f"{shown} is not supported in an env template", "syntax": True}


def test_a_list_cannot_grow_in_place() -> None:
    result = rendered_in_a_child("{% set l = [1] %}{{ l.append(1) }}")
    assert "refused" in result and "append" in str(result["refused"])


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ db.host }}:{{ db.port }}", "127.0.0.1:5432"),
    ('{{ "%s-%d" % (service, 3) }}', "app-3"),
    ('{{ "{}:{}".format(db.host, db.port) }}', "127.0.0.1:5432"),
    ('{{ ["a", "b"]|join(",") }}', "a,b"),
    ('{{ "x"|center(5) }}|{{ "7".zfill(3) }}', "  x  |007"),
    ('{{ service ~ "-" ~ db.port }}', "app-5432"),
    ("{% for i in range(3) %}{{ i }}{% endfor %}", "012"),
    ('{{ "a-b"|replace("-", "_")|upper }}', "A_B"),
    ("{{ [1, 2, 3]|sum }}", "6"),
    ("{{ 'x' * 3 }}{{ 2 ** 10 }}", "xxx1024"),
])
def test_ordinary_templates_still_render(template: str, expected: str) -> None:
    context = {"service": "app", "db": {"host": "127.0.0.1", "port": 5432}}
    assert render_user(template, context) == expected


def test_lipsum_of_a_few_paragraphs_still_renders() -> None:
    assert len(render_user("{{ lipsum(2, html=False) }}", {})) > 100
