"""devenv's on/off environment switches (DEVENV_SPARES, DEVENV_STANDBY): one parser for all."""

from __future__ import annotations

import os

OFF = ("0", "false", "no", "off")


def on(name: str) -> bool:
    """On unless the variable says 0, false, no or off (any case, spaces ignored)."""
    return os.environ.get(name, "1").strip().lower() not in OFF
