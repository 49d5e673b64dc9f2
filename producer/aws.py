"""Boto3 clients and the API key, created lazily and cached across warm invocations.

The cache is keyed on the endpoint, region and access key, because the local stack calls the
handler in-process after pointing ``AWS_ENDPOINT_URL`` at its own moto server; boto3 itself honours
``AWS_ENDPOINT_URL`` (and the per-service ``AWS_ENDPOINT_URL_<SERVICE>``) natively.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from producer.errors import AuthError
from producer.settings import Settings

SECRET_MAX_AGE_SECONDS = 300
_lock = threading.Lock()
_cache: dict[tuple[str | None, ...], AwsClients] = {}


@dataclass
class AwsClients:
    session: Any
    config: Any
    _clients: dict[str, Any] = field(default_factory=dict)
    _secrets: Any = None

    def client(self, service: str) -> Any:
        with _lock:
            if service not in self._clients:
                self._clients[service] = self.session.client(service, config=self.config)
            return self._clients[service]

    def secrets(self) -> Any:
        """Powertools' SecretsProvider on our client: it caches values for SECRET_MAX_AGE_SECONDS."""
        if self._secrets is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._secrets = SecretsProvider(boto3_client=self.client("secretsmanager"))
        return self._secrets


def _cache_key() -> tuple[str | None, ...]:
    env = os.environ
    return (
        env.get("AWS_ENDPOINT_URL"),
        env.get("AWS_ENDPOINT_URL_KINESIS"),
        env.get("AWS_ENDPOINT_URL_DYNAMODB"),
        env.get("AWS_ENDPOINT_URL_SECRETS_MANAGER"),
        env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
        env.get("AWS_ACCESS_KEY_ID"),
        env.get("AWS_PROFILE"),
    )


def aws_clients() -> AwsClients:
    key = _cache_key()
    with _lock:
        cached = _cache.get(key)
        if cached is None:
            import boto3
            from botocore.config import Config

            config = Config(
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=15,
                user_agent_extra="cryptostream-producer",
            )
            cached = _cache[key] = AwsClients(session=boto3.session.Session(), config=config)
    return cached


def api_key(settings: Settings, clients: AwsClients) -> str:
    """The Alpha Vantage key: from the environment, or from Secrets Manager (plain or ``{"api_key": ...}``)."""
    if settings.api_key:
        return settings.api_key
    if not settings.secret_arn:
        raise AuthError("no Alpha Vantage API key: set ALPHAVANTAGE_API_KEY or ALPHAVANTAGE_SECRET_ARN")
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        raw = clients.secrets().get(settings.secret_arn, max_age=SECRET_MAX_AGE_SECONDS)
    except GetParameterError as exc:
        raise AuthError(f"cannot read the API key secret {settings.secret_arn}: {str(exc)[:200]}") from None
    value = raw.decode() if isinstance(raw, bytes) else str(raw)
    value = value.strip()
    if value.startswith("{"):
        try:
            value = str(json.loads(value).get("api_key") or "").strip()
        except (ValueError, AttributeError):
            raise AuthError(f"secret {settings.secret_arn} is JSON without a string 'api_key'") from None
    if not value:
        raise AuthError(f"secret {settings.secret_arn} holds no API key")
    return value
