"""What a set of schedules asks of Alpha Vantage in a day, and the free-tier check of cdk.json's ``free_tier``.

A free Alpha Vantage key answers 25 requests a UTC day and only the free functions: CURRENCY_EXCHANGE_RATE
(interval ``spot``) and DIGITAL_CURRENCY_DAILY (``1d``); CRYPTO_INTRADAY (``1min``…``60min``) is premium.
Each producer run asks one request per pair (the daily function returns the whole history in one answer),
so a schedule costs ``runs a day x pairs`` requests. With ``free_tier: true`` the configuration refuses
schedules that would be refused upstream, and the producer keeps the budget (``producer/budget.py``).
Pure Python, like the rest of ``cryptostream_config``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from cryptostream_model.intervals import ALPHA_VANTAGE_FUNCTION, INTRADAY_INTERVALS

ALPHAVANTAGE = "alphavantage"  # the source a schedule without ``source`` uses
FREE_DAILY_REQUESTS = 25  # Alpha Vantage's free key, per UTC day
MINUTES_PER_DAY = 1440


class FreeTierError(ValueError):
    """The schedules do not fit a free key (one line, naming the numbers)."""


class Schedule(Protocol):
    name: str
    interval: str
    payload: Mapping[str, Any]
    rate_minutes: int | None
    cron: str | None
    source: str | None
    pairs: tuple[str, ...] | None


def schedule_source(schedule: Schedule, default: str = ALPHAVANTAGE) -> str:
    """The market-data source a schedule names, else the deployment's (cdk.json ``source``)."""
    return schedule.source or default


def _cron_field_count(field: str, low: int, high: int) -> int:
    """How many values one EventBridge cron field (minutes or hours) matches: ``*``, ``*/n``, ``a-b/n``, lists."""
    total = 0
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            start, end = (int(x) for x in base.split("-", 1))
        else:
            start = int(base)
            end = high if step_text else start
        total += len(range(start, end + 1, step))
    return total


def runs_per_day(schedule: Schedule) -> int:
    """The most runs a schedule fires in one day (a cron's day fields only ever make it fewer)."""
    if schedule.rate_minutes is not None:
        return math.ceil(MINUTES_PER_DAY / schedule.rate_minutes)
    minutes, hours = str(schedule.cron).split()[:2]
    try:
        return _cron_field_count(minutes, 0, 59) * _cron_field_count(hours, 0, 23)
    except ValueError:
        raise FreeTierError(f"schedule {schedule.name!r}: cannot count the runs of cron({schedule.cron})") from None


def schedule_pairs(schedule: Schedule, default_pairs: int) -> int:
    """The pairs a schedule's payload names, else the deployment's ``default_pairs``."""
    return len(schedule.pairs) if schedule.pairs else default_pairs


def requests_per_day(
    schedules: Iterable[Schedule], pairs: int, source: str = ALPHAVANTAGE, default_source: str = ALPHAVANTAGE
) -> int:
    """Requests a day that ``source``'s schedules ask for: runs a day x pairs, summed."""
    return sum(
        runs_per_day(s) * schedule_pairs(s, pairs) for s in schedules if schedule_source(s, default_source) == source
    )


def check_free_tier(
    schedules: tuple[Schedule, ...], pairs: int, budget: int, default_source: str = ALPHAVANTAGE
) -> None:
    """Raise FreeTierError when a free key would refuse what the schedules ask of Alpha Vantage."""
    for schedule in schedules:
        if schedule_source(schedule, default_source) == ALPHAVANTAGE and schedule.interval in INTRADAY_INTERVALS:
            function = ALPHA_VANTAGE_FUNCTION[schedule.interval]
            raise FreeTierError(
                f"free_tier: schedule {schedule.name!r} asks {function} ({schedule.interval}), a premium Alpha "
                "Vantage function; a free key can use interval spot or 1d"
            )
    needed = requests_per_day(schedules, pairs, default_source=default_source)
    if needed > budget:
        parts = ", ".join(
            f"{s.name} {runs_per_day(s)} runs x {schedule_pairs(s, pairs)} pairs"
            for s in schedules
            if schedule_source(s, default_source) == ALPHAVANTAGE
        )
        raise FreeTierError(
            f"free_tier: the schedules ask {needed} Alpha Vantage requests a day ({parts}), "
            f"over the budget of {budget} (alphavantage_daily_requests)"
        )
