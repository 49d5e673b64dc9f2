"""Which pipeline a CLI command talks to: an explicit endpoint, the running local stack, or AWS.

Order: ``--endpoint`` / ``AWS_ENDPOINT_URL`` (an external emulator), else the stack started by
``cryptostream up`` (its state file in the data directory), else real AWS with the default
credential chain. Every failure is a ``TargetError`` with a one-line message.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from cryptostream_config.local import LocalSettings, load_local_settings
from cryptostream_model.sources import decode_owners
from local.clients import Clients
from local.home import live_state

DEFAULT_DATA_DIR = Path(".cryptostream")


class TargetError(RuntimeError):
    """A one-line, user-facing reason a command cannot reach its pipeline."""


@dataclass(frozen=True)
class Target:
    kind: str  # "local", "endpoint" or "aws"
    endpoint: str | None
    config: LocalSettings
    clients: Clients
    simulator_url: str | None = None
    quarantine_queue_url: str | None = None

    def queue_url(self, name: str) -> str:
        try:
            return self.clients.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except Exception as exc:  # botocore raises several unrelated types here
            raise TargetError(f"queue {name!r} not found at {self.describe()}: {exc}") from None

    def describe(self) -> str:
        return {"local": f"the local stack at {self.endpoint}", "endpoint": str(self.endpoint)}.get(self.kind, "AWS")


def data_dir() -> Path:
    return Path(os.environ.get("CRYPTOSTREAM_HOME", DEFAULT_DATA_DIR))


def reachable(url: str, timeout: float = 1.0) -> bool:
    parsed = urlparse(url)
    if not parsed.hostname:
        return False
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def resolve(endpoint: str | None = None) -> Target:
    config = load_local_settings()
    explicit = endpoint or os.environ.get("AWS_ENDPOINT_URL")
    if explicit:
        if not urlparse(explicit).scheme.startswith("http"):
            raise TargetError(f"invalid endpoint {explicit!r}: expected a URL such as http://127.0.0.1:4566")
        if not reachable(explicit):
            raise TargetError(f"cannot reach endpoint {explicit}: is the emulator running?")
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        return Target("endpoint", explicit, config, Clients(explicit, config.region))
    state = live_state(data_dir())  # None when absent, or left by an `up` that is gone (its port may be reused)
    if state is not None and reachable(state["endpoint"]):
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.setdefault(key, "local")
        if state.get("SOURCE"):  # the sources the running stack was started with (`up --source`)
            owners = decode_owners(state.get("SOURCE_OWNERS", ""))
            config = dataclasses.replace(config, source=state["SOURCE"], source_owners=owners)
        return Target(
            "local",
            state["endpoint"],
            config,
            Clients(state["endpoint"], config.region),
            simulator_url=state.get("simulator_url"),
            quarantine_queue_url=state.get("resources", {}).get("quarantine_queue_url"),
        )
    import boto3

    if boto3.session.Session().get_credentials() is None:
        raise TargetError(
            "no local stack is running and no AWS credentials were found: "
            "start one with `cryptostream up` (or `make up`), pass --endpoint URL, or configure AWS credentials"
        )
    return Target("aws", None, config, Clients(None, config.region))
