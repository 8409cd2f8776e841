"""`image:` is checked by the image reference grammar when the manifest loads (issue 27 item 14):
it is written into a generated Dockerfile's FROM line, where a line break started a RUN."""

from __future__ import annotations

import textwrap

import pytest

from devenv.errors import DevenvError
from devenv.model.manifest import check_image, parse

HINT = "Hint: fix devenv.yaml; no file was changed"
GRAMMAR = ("is not an image reference ([registry/]name[:tag][@digest], lowercase name, e.g. "
           "postgres:17 or ghcr.io/acme/pg:17@sha256:...)")


def error_of(text: str) -> str:
    with pytest.raises(DevenvError) as caught:
        parse(textwrap.dedent(text).lstrip("\n"), source="devenv.yaml")
    return str(caught.value)


def test_an_image_with_a_line_break_never_reaches_the_dockerfile() -> None:
    """The attack: a double-quoted YAML string whose \\n started a RUN in the FROM line's
    Dockerfile (the extensions build ran it as root in the build)."""
    assert error_of(r"""
        project: demo
        servers:
          pg:
            kind: postgres
            image: "postgres:18\nRUN touch /tmp/pwned"
        services:
          app: {postgres: pg, extensions: [pg_partman]}
        """) == (r"devenv.yaml:5: servers.pg.image: 'postgres:18\nRUN touch /tmp/pwned' "
                 f"{GRAMMAR}\n{HINT}")


@pytest.mark.parametrize("image", [
    "postgres:17 ", "Postgres:17", "postgres:", "postgres::17", "postgres:17@sha256:abc",
    "redis:8\r", "-redis", "redis:8 --loadmodule /x.so", "redis:8#x", "",
])
def test_what_the_grammar_refuses(image: str) -> None:
    message = error_of(f"""
        project: demo
        servers:
          cache: {{kind: redis, image: {image!r}}}
        services:
          app: {{redis: true}}
        """)
    assert message.startswith("devenv.yaml:3: servers.cache.image: "), message
    assert GRAMMAR in message, message


@pytest.mark.parametrize("image", [
    "postgres", "postgres:17", "postgres:18-alpine", "docker.io/library/postgres:18",
    "timescale/timescaledb:2.19.3-pg17", "localhost:5000/team/pg:17", "[::1]:5000/pg",
    "ghcr.io/acme/pg:17@sha256:" + "0f" * 32, "postgres@sha256:" + "a" * 64,
    "registry.example.com/a__b/c-d.e:v1.2_3",
])
def test_what_it_accepts(image: str) -> None:
    assert check_image(image) == image


def test_a_name_longer_than_docker_allows_is_refused() -> None:
    with pytest.raises(ValueError, match="the image name is longer than 255 characters"):
        check_image("a/" * 130 + "b")
