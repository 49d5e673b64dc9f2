"""Typed readers of environment settings: one per kind of value, each refusing a bad value in one line
that names the setting, the value and what is allowed.

Every process reads its settings through these (the producer and consumer Lambdas, the local stack and
the CLI), so a bad value is refused in the same words wherever it is read, and the local stack can refuse
it before anything starts. An empty or blank value means "not set" (the default applies), as for a line
``NAME=`` in ``.env``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlparse

from cryptostream_model.record import parse_pair

Environment = Mapping[str, str]

# AWS's resource-name rules (the strictest of the places a name is used).
STREAM_NAME = (re.compile(r"^[a-zA-Z0-9_.-]{1,128}$"), "1-128 of a-z A-Z 0-9 _ . -")
TABLE_NAME = (re.compile(r"^[a-zA-Z0-9_.-]{3,255}$"), "3-255 of a-z A-Z 0-9 _ . -")
QUEUE_NAME = (re.compile(r"^[a-zA-Z0-9_-]{1,67}$"), "1-67 of a-z A-Z 0-9 _ - (the -esm-failures queue adds 13)")
BUCKET_NAME = (
    re.compile(r"^(?!xn--)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
    "3-63 of a-z 0-9 . -, starting and ending with a letter or digit",
)
REGION = (re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$"), "an AWS region name such as us-east-1")


class SettingError(ValueError):
    """A missing or malformed setting, in one line naming it."""


def invalid(name: str, raw: object, allowed: str) -> SettingError:
    """``HISTORY_TTL_DAYS='-5' is not allowed: expected a whole number >= 0 ...``"""
    shown = " ".join(str(raw).split()) if isinstance(raw, str) else raw
    if isinstance(shown, str) and len(shown) > 80:
        shown = shown[:77] + "..."
    return SettingError(f"{name}={shown!r} is not allowed: expected {allowed}")


def raw_value(env: Environment, name: str) -> str | None:
    """The stripped value, or None when unset or blank."""
    value = env.get(name)
    if value is None or not str(value).strip():
        return None
    return str(value).strip()


def required(env: Environment, *names: str) -> None:
    missing = [name for name in names if raw_value(env, name) is None]
    if missing:
        raise SettingError(f"missing setting {', '.join(missing)}")


def integer(
    env: Environment,
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    unit: str = "",
    note: str = "",
) -> int:
    """A whole number within [minimum, maximum]; ``unit`` and ``note`` only explain the error."""
    raw = raw_value(env, name)
    if raw is None:
        return default
    allowed = _bounds("a whole number" + (f" of {unit}" if unit else ""), minimum, maximum) + note
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, raw, allowed) from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise invalid(name, raw, allowed)
    return value


def number(
    env: Environment,
    name: str,
    default: float,
    *,
    minimum: float = 0.0,
    maximum: float | None = None,
    above_minimum: bool = False,
    unit: str = "",
) -> float:
    """A finite number >= minimum (> minimum with ``above_minimum``) and <= maximum."""
    raw = raw_value(env, name)
    if raw is None:
        return default
    what = "a number" + (f" of {unit}" if unit else "")
    allowed = f"{what} > {minimum:g}" if above_minimum else _bounds(what, minimum, None)
    if maximum is not None:
        allowed += f" and <= {maximum:g}"
    try:
        value = float(raw)
    except ValueError:
        raise invalid(name, raw, allowed) from None
    if (
        not math.isfinite(value)
        or value < minimum
        or (above_minimum and value == minimum)
        or (maximum is not None and value > maximum)
    ):
        raise invalid(name, raw, allowed)
    return value


def choice(env: Environment, name: str, default: str, allowed: Sequence[str], *, lower: bool = False) -> str:
    raw = raw_value(env, name)
    if raw is None:
        return default
    value = raw.lower() if lower else raw
    if value not in allowed:
        raise invalid(name, raw, f"one of {', '.join(allowed)}")
    return value


def pattern(env: Environment, name: str, default: str, rule: tuple[re.Pattern[str], str]) -> str:
    raw = raw_value(env, name)
    if raw is None:
        return default
    regex, allowed = rule
    if not regex.match(raw):
        raise invalid(name, raw, allowed)
    return raw


def url(env: Environment, name: str, default: str | None = None) -> str | None:
    raw = raw_value(env, name)
    if raw is None:
        return default
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise invalid(name, raw, "an http(s) URL such as http://127.0.0.1:4566")
    try:
        parsed.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        raise invalid(name, raw, "an http(s) URL with a port in 1-65535") from None
    return raw


def pairs(env: Environment, name: str, default: Sequence[str]) -> tuple[str, ...]:
    """``"btc-usd, ETH-USD"`` -> ``("BTC-USD", "ETH-USD")``: upper case, deduplicated, in order."""
    raw = raw_value(env, name)
    if raw is None:
        return tuple(default)
    found: list[str] = []
    for item in raw.split(","):
        if not item.strip():
            continue
        try:
            symbol, market = parse_pair(item)
        except ValueError:
            allowed = f"comma-separated SYMBOL-MARKET pairs such as BTC-USD,ETH-EUR (not {item.strip()!r})"
            raise invalid(name, raw, allowed) from None
        if f"{symbol}-{market}" not in found:
            found.append(f"{symbol}-{market}")
    if not found:
        raise invalid(name, raw, "at least one SYMBOL-MARKET pair such as BTC-USD")
    return tuple(found)


def _bounds(what: str, minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"{what} from {minimum:g} to {maximum:g}"
    if minimum is not None:
        return f"{what} >= {minimum:g}"
    if maximum is not None:
        return f"{what} <= {maximum:g}"
    return what


# The consumer's expiry of history items; the producer and the local stack refuse a bad value too,
# so nothing is published that the consumer would then reject batch after batch.
HISTORY_TTL_DAYS = "HISTORY_TTL_DAYS"
DEFAULT_HISTORY_TTL_DAYS = 30
MAX_HISTORY_TTL_DAYS = 36_500


def history_ttl_days(env: Environment, default: int = DEFAULT_HISTORY_TTL_DAYS) -> int:
    return integer(
        env, HISTORY_TTL_DAYS, default, minimum=0, maximum=MAX_HISTORY_TTL_DAYS, unit="days", note=" (0: no expiry)"
    )
