"""boto3 clients, made on first use and kept across warm invocations (creating one costs tens of ms).

``clients(options, endpoint_url=..., region=...)`` returns one ``Clients`` per (options, endpoint,
region, and the endpoint, region and credential variables of the environment): the local stack calls
the handlers in-process after pointing ``AWS_ENDPOINT_URL`` at its own server, so a change there must
not reuse a client made for another endpoint. Without ``endpoint_url`` boto3 honours
``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_<SERVICE>``) itself. boto3 is imported on first use so
importing a handler stays cheap.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

# What the environment contributes to a client: its endpoint, region and credentials.
_ENVIRONMENT_KEYS = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_KINESIS",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
)
_lock = threading.RLock()


@dataclass(frozen=True)
class ClientOptions:
    """botocore's ``Config`` for one caller's clients; hashable, so part of the cache key.
    ``None`` keeps botocore's default (60 s timeouts, no keep-alive, its own user agent)."""

    max_attempts: int = 3  # botocore's retries["max_attempts"]: retries after the first call
    retry_mode: str = "standard"
    connect_timeout: float | None = None
    read_timeout: float | None = None
    tcp_keepalive: bool | None = None
    user_agent_extra: str | None = None

    def config(self) -> Any:
        from botocore.config import Config

        optional = {
            "connect_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
            "tcp_keepalive": self.tcp_keepalive,
            "user_agent_extra": self.user_agent_extra,
        }
        return Config(
            retries={"max_attempts": self.max_attempts, "mode": self.retry_mode},
            **{name: value for name, value in optional.items() if value is not None},
        )


class Clients:
    """One boto3 session's clients, each made once; and Powertools' secrets provider on its client."""

    def __init__(self, options: ClientOptions, endpoint_url: str | None = None, region: str | None = None) -> None:
        import boto3

        self.endpoint_url = endpoint_url
        self.session = boto3.session.Session(region_name=region)
        self.config = options.config()
        self._clients: dict[str, Any] = {}
        self._secrets: Any = None

    def client(self, service: str) -> Any:
        with _lock:
            made = self._clients.get(service)
            if made is None:
                made = self._clients[service] = self.session.client(
                    service, endpoint_url=self.endpoint_url, config=self.config
                )
            return made

    def secrets(self) -> Any:
        """Powertools' SecretsProvider on this factory's Secrets Manager client; it caches values."""
        with _lock:
            if self._secrets is None:
                from aws_lambda_powertools.utilities.parameters import SecretsProvider

                self._secrets = SecretsProvider(boto3_client=self.client("secretsmanager"))
            return self._secrets


_cache: dict[tuple[Any, ...], Clients] = {}


def clients(options: ClientOptions, *, endpoint_url: str | None = None, region: str | None = None) -> Clients:
    """The cached ``Clients`` for these options, this endpoint and region, and the current environment."""
    key = (options, endpoint_url, region, *(os.environ.get(name) for name in _ENVIRONMENT_KEYS))
    with _lock:
        cached = _cache.get(key)
        if cached is None:
            cached = _cache[key] = Clients(options, endpoint_url, region)
        return cached


def clear() -> None:
    """Forget every cached client (tests switch endpoints, credentials and mocks)."""
    with _lock:
        _cache.clear()
