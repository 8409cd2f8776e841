"""Container states parsed from the Engine API's own answer (recorded from Engine 26, API 1.45,
with `GET /containers/json?all=1`), as python-on-whales keeps recorded outputs.

The list endpoint gives health only inside the human-readable `Status` ("Up 6 seconds
(health: starting)"), so `_from_api` reads it from there: these cases pin every form.
"""

from __future__ import annotations

import json
from pathlib import Path

from devenv.engine.docker import ContainerState, _from_api

RECORDED = Path(__file__).parent / "recorded" / "containers.json"


def states() -> dict[str, ContainerState]:
    return {c.name: c for c in map(_from_api, json.loads(RECORDED.read_text()))}


def test_health_is_read_from_every_form_of_status() -> None:
    got = {name: (c.state, c.health) for name, c in states().items()}
    assert got == {
        "devenv-rec-healthy": ("running", "healthy"),
        "devenv-rec-unhealthy": ("running", "unhealthy"),
        "devenv-rec-starting": ("running", "starting"),
        "devenv-rec-plain": ("running", ""),  # no healthcheck
        "devenv-rec-exited": ("exited", ""),
    }


def test_labels_name_the_project_server_and_compose_hash() -> None:
    healthy = states()["devenv-rec-healthy"]
    assert (healthy.project, healthy.server, healthy.config_hash) == ("rec", "cache", "abc123")
    assert states()["devenv-rec-plain"].server == ""  # a container devenv did not label


def test_published_ports_once_each_and_unpublished_ones_left_out() -> None:
    found = states()
    assert found["devenv-rec-healthy"].ports == (32770,)
    assert found["devenv-rec-unhealthy"].ports == (32768,)  # IPv4 and IPv6: one port
    assert found["devenv-rec-plain"].ports == ()  # exposed, not published
    assert found["devenv-rec-exited"].ports == ()
