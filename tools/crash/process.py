"""One ``cryptostream up`` as a real subprocess: started on a home directory, watched, moved on, killed.

The suite talks to it as a user's other shell would: through ``stack.json`` in the home directory (the
moto endpoint, the simulator's URL, the resource names), the moto endpoint (watermarks, the table) and the
simulator's control route (``/_simulator/clock``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cryptostream_config.local import LocalSettings, load_local_settings
from local.clients import Clients
from local.crash_points import ENV as CRASH_AT_ENV
from local.market.server import CLOCK_ENV
from local.resources import LocalResources

REPO = Path(__file__).resolve().parents[2]
STATE_FILE = "stack.json"  # what `up` publishes in its home for the user's other shells: read as they read it
# The suite only ever talks to the moto server its own `up` started: dummy keys, never a real account's.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}
# Variables that would point the child at another stack, or arm it, unless the suite says so.
_CLEARED = ("AWS_ENDPOINT_URL", "CRYPTOSTREAM_HOME", CRASH_AT_ENV, CLOCK_ENV, "PRODUCER_LEASE_SECONDS")


class UpFailed(RuntimeError):
    """``up`` exited or never became ready: one line with its exit code and last words."""


@dataclass(frozen=True)
class UpOptions:
    every: float = 1.0
    interval: str = "1min"
    seed: int = 42
    archive_buffer: float = 1.0
    lease_seconds: int | None = None  # None: the producer's own default


def cryptostream_command() -> list[str]:
    script = Path(sys.executable).with_name("cryptostream")
    if not script.exists():
        raise UpFailed(f"no cryptostream script next to {sys.executable}: run `make install`")
    return [str(script)]


class UpProcess:
    def __init__(
        self,
        home: Path,
        logs: Path,
        options: UpOptions,
        *,
        clock: float,
        crash_at: str | None = None,
        preexec: Callable[[], None] | None = None,
        launcher: list[str] | None = None,
        name: str = "up",
    ) -> None:
        self.home, self.options, self.crash_at = home, options, crash_at
        env = {key: value for key, value in os.environ.items() if key not in _CLEARED}
        env |= {"CRYPTOSTREAM_HOME": str(home), CLOCK_ENV: repr(clock), "PYTHONUNBUFFERED": "1"}
        if crash_at:
            env[CRASH_AT_ENV] = crash_at
        if options.lease_seconds is not None:
            env["PRODUCER_LEASE_SECONDS"] = str(options.lease_seconds)
        command = (launcher or cryptostream_command()) + [
            "up",
            f"--every={options.every:g}",
            f"--interval={options.interval}",
            f"--seed={options.seed}",
            f"--archive-buffer={options.archive_buffer:g}",
        ]
        self.log_path = logs / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec
            )
        self.started = time.monotonic()
        self.endpoint = ""
        self.simulator = ""
        self.clients: Clients | None = None
        self.view: Any = None
        self.last_error = ""

    # lifecycle -------------------------------------------------------------------------------------------
    def wait_ready(self, timeout: float) -> bool:
        """True once this process wrote ``stack.json`` and its endpoint answers; False if it exited first."""
        deadline = time.monotonic() + timeout
        state_path = self.home / STATE_FILE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                state = json.loads(state_path.read_text())
            except (OSError, ValueError):
                state = {}
            if state.get("pid") == self.process.pid:
                self._attach(state)
                return True
            time.sleep(0.05)
        raise UpFailed(f"up did not become ready in {timeout:g} s ({self.last_words()})")

    def _attach(self, state: dict[str, Any]) -> None:
        config: LocalSettings = load_local_settings()
        self.endpoint = state["endpoint"]
        self.simulator = state["simulator_url"].rsplit("/query", 1)[0]
        self.clients = Clients(self.endpoint, config.region)
        resources = LocalResources(**state["resources"])
        self.view = SimpleNamespace(clients=self.clients, config=config, resources=resources)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL, as ``kill -9``; waits for it to be gone."""
        if self.alive:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as a user's Ctrl-C or a service manager; the exit code (SIGKILL after ``timeout``)."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.process.returncode

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def killed_itself(self) -> bool:
        return self.process.poll() == -signal.SIGKILL

    def last_words(self) -> str:
        code = self.process.poll()
        try:
            lines = [line for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            lines = []
        state = "running" if code is None else f"exit {code}"
        return f"{state}; last output: {lines[-1].strip()[:200] if lines else '(none)'}"

    # talking to it ---------------------------------------------------------------------------------------
    def set_clock(self, epoch: float) -> bool:
        """Move the simulator's clock; False when the process is gone (or going)."""
        request = urllib.request.Request(
            f"{self.simulator}/_simulator/clock",
            data=json.dumps({"now": epoch}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                response.read()
            return True
        except OSError:
            return False

    def watermarks(self, pairs: list[str]) -> dict[str, str] | None:
        """The producer's watermarks, read as it reads them; None when the stack did not answer."""
        from producer.watermarks import WatermarkStore

        assert self.clients is not None
        try:
            store = WatermarkStore(self.clients.dynamodb, self.view.config.table_name)
            return store.get_many(pairs, self.options.interval)
        except Exception as exc:  # the process died under the read: no sample
            self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            return None
