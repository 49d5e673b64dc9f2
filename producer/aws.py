"""The producer's boto3 clients (through the shared factory) and the Alpha Vantage API key.

Clients are cached across warm invocations, keyed on the endpoint, region and credentials of the
environment, because the local stack calls the handler in-process after pointing ``AWS_ENDPOINT_URL``
at its own moto server; boto3 itself honours ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_<SERVICE>``).
"""

from __future__ import annotations

import json

from cryptostream_runtime.clients import ClientOptions, Clients, clients
from producer.errors import AuthError
from producer.settings import Settings

SECRET_MAX_AGE_SECONDS = 300
CLIENT_OPTIONS = ClientOptions(
    max_attempts=3, connect_timeout=5, read_timeout=15, user_agent_extra="cryptostream-producer"
)


def aws_clients() -> Clients:
    return clients(CLIENT_OPTIONS)


def api_key(settings: Settings, clients: Clients) -> str:
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
