"""Consumer settings, read from the environment on every invocation.

Read per invocation rather than at import because the local stack calls the handler in-process
after setting the environment; reading a handful of variables costs microseconds. Deployed, the
handler module also reads them once at import, so a bad value fails the cold start naming it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptostream_model import settings as read
from cryptostream_model.settings import DEFAULT_HISTORY_TTL_DAYS, SettingError


class SettingsError(SettingError):
    """A missing or malformed setting; the message names it."""


@dataclass(frozen=True)
class ConsumerSettings:
    table_name: str
    quarantine_queue_url: str
    history_ttl_days: int = DEFAULT_HISTORY_TTL_DAYS
    endpoint_url: str | None = None
    region: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ConsumerSettings:
        env = os.environ if env is None else env
        missing = [name for name in ("TABLE_NAME", "QUARANTINE_QUEUE_URL") if not env.get(name)]
        if missing:
            raise SettingsError(f"missing setting(s): {', '.join(missing)}")
        try:
            return cls(
                table_name=env["TABLE_NAME"],
                quarantine_queue_url=env["QUARANTINE_QUEUE_URL"],
                history_ttl_days=read.history_ttl_days(env),
                endpoint_url=read.url(env, "AWS_ENDPOINT_URL"),
                region=read.pattern(env, "AWS_REGION", "", read.REGION)
                or read.pattern(env, "AWS_DEFAULT_REGION", "", read.REGION)
                or None,
            )
        except SettingError as exc:
            raise SettingsError(str(exc)) from None
