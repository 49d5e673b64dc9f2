"""Low-level boto3 clients, created on first use and cached per (service, endpoint, region).

Cached across warm invocations (client creation costs tens of milliseconds); keyed on endpoint
and region because the local stack may point the same process at a different endpoint later.
boto3 is imported lazily so importing the handler stays cheap for tests and tooling.
"""

from __future__ import annotations

from typing import Any

# Few botocore retries: the consumer retries throttling itself with backoff bounded by the
# invocation's remaining time, and counts every request it makes.
_RETRIES = {"max_attempts": 2, "mode": "standard"}
_cache: dict[tuple[str, str | None, str | None], Any] = {}


def client(service: str, endpoint_url: str | None, region: str | None) -> Any:
    key = (service, endpoint_url, region)
    cached = _cache.get(key)
    if cached is None:
        import boto3
        from botocore.config import Config

        config = Config(retries=_RETRIES, connect_timeout=3, read_timeout=10, tcp_keepalive=True)
        cached = _cache[key] = boto3.client(service, endpoint_url=endpoint_url, region_name=region, config=config)
    return cached


def clear() -> None:
    """Forget cached clients (tests switch endpoints and mocks)."""
    _cache.clear()
