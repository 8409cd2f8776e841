"""A `devenv serve-tests --port 0` process for end-to-end tests, and plain HTTP calls to it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

from tests.integration.stacks import CopiedStack


class Api:
    """A `devenv serve-tests --port 0` process and the URL it printed."""

    def __init__(self, stack: CopiedStack, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "DEVENV_FILE"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devenv.cli", "serve-tests", "--port", "0", *args],
            cwd=stack.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.proc.kill()
            _, err = self.proc.communicate()
            raise AssertionError(f"serve-tests did not start: {self.url!r} {err}")

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=120) as rsp:
                text = rsp.read()
                return rsp.status, json.loads(text) if text else None
        except urllib.error.HTTPError as exc:
            text = exc.read()
            return exc.code, json.loads(text) if text else None

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err
