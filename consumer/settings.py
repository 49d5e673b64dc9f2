"""Consumer settings, read from the environment on every invocation.

Read per invocation rather than at import because the local stack calls the handler in-process
after setting the environment; reading a handful of variables costs microseconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_HISTORY_TTL_DAYS = 30


class SettingsError(ValueError):
    """A missing or malformed setting; the message names it."""


@dataclass(frozen=True)
class ConsumerSettings:
    table_name: str
    quarantine_queue_url: str
    history_ttl_days: int = DEFAULT_HISTORY_TTL_DAYS
    endpoint_url: str | None = None
    region: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ConsumerSettings:
        env = os.environ if env is None else env
        missing = [name for name in ("TABLE_NAME", "QUARANTINE_QUEUE_URL") if not env.get(name)]
        if missing:
            raise SettingsError(f"missing setting(s): {', '.join(missing)}")
        raw_ttl = env.get("HISTORY_TTL_DAYS", "").strip() or str(DEFAULT_HISTORY_TTL_DAYS)
        try:
            ttl_days = int(raw_ttl)
        except ValueError:
            raise SettingsError(f"HISTORY_TTL_DAYS must be a whole number of days, got {raw_ttl!r}") from None
        if ttl_days < 0:
            raise SettingsError(f"HISTORY_TTL_DAYS must be >= 0 (0 disables expiry), got {ttl_days}")
        return cls(
            table_name=env["TABLE_NAME"],
            quarantine_queue_url=env["QUARANTINE_QUEUE_URL"],
            history_ttl_days=ttl_days,
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
        )
