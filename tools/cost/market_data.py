"""What the market data costs, beside the AWS bill: per source, from the deployment's schedules.

An exchange source (public, keyless market data) has no subscription. Alpha Vantage is free within 25
requests a UTC day and its free functions (spot, 1d); CRYPTO_INTRADAY or more requests need a premium plan,
the cheapest of which allows 75 requests a minute. Requests a day = runs a day x pairs, per schedule
(``cryptostream_config.free_tier``).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptostream_config.free_tier import ALPHAVANTAGE, FREE_DAILY_REQUESTS
from cryptostream_model.intervals import INTRADAY_INTERVALS
from cryptostream_model.sources import KEYLESS_SOURCES

# The cheapest premium plan: $49.99 a month, 75 requests a minute, no daily limit.
PREMIUM_USD = 49.99
PREMIUM_REQUESTS_PER_MINUTE = 75
PREMIUM_SOURCE = (
    "https://fintut.com/alpha-vantage-api-limits ('the cheapest plan ($49.99/month) allows 75 API requests per "
    "minute'); plans: https://www.alphavantage.co/premium/"
)


@dataclass(frozen=True, slots=True)
class ScheduleDemand:
    """What one schedule asks of its source: ``pairs`` None means the deployment's pairs."""

    name: str
    interval: str
    source: str
    runs_per_day: int
    pairs: int | None = None

    def requests_per_day(self, default_pairs: int) -> int:
        return self.runs_per_day * (self.pairs or default_pairs)


@dataclass(frozen=True, slots=True)
class MarketData:
    source: str
    plan: str
    monthly_usd: float | None  # None: a plan this model does not price
    requests_per_day: int
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "plan": self.plan,
            "monthly_usd": self.monthly_usd,
            "requests_per_day": self.requests_per_day,
            "reason": self.reason,
        }


def _alpha_vantage(demands: list[ScheduleDemand], pairs: int, free_tier: bool, budget: int) -> MarketData:
    per_day = sum(d.requests_per_day(pairs) for d in demands)
    if free_tier:
        return MarketData(ALPHAVANTAGE, "free key", 0.0, per_day, f"free_tier: {per_day} of {budget} requests a day")
    premium = sorted({d.interval for d in demands if d.interval in INTRADAY_INTERVALS})
    if not premium and per_day <= FREE_DAILY_REQUESTS:
        return MarketData(ALPHAVANTAGE, "free key", 0.0, per_day, f"{per_day} requests a day, no premium function")
    why = [f"CRYPTO_INTRADAY ({', '.join(premium)}) is premium"] if premium else []
    if per_day > FREE_DAILY_REQUESTS:
        why.append(f"{per_day:,} requests a day > the free {FREE_DAILY_REQUESTS}")
    burst = sum(d.pairs or pairs for d in demands)  # every schedule firing in the same minute
    if burst > PREMIUM_REQUESTS_PER_MINUTE:
        plan = f"premium above {PREMIUM_REQUESTS_PER_MINUTE} requests/min (not priced)"
        return MarketData(ALPHAVANTAGE, plan, None, per_day, "; ".join(why))
    plan = f"premium, {PREMIUM_REQUESTS_PER_MINUTE} requests/min"
    return MarketData(ALPHAVANTAGE, plan, PREMIUM_USD, per_day, "; ".join(why))


def market_data(demands: tuple[ScheduleDemand, ...], pairs: int, *, free_tier: bool, budget: int) -> list[MarketData]:
    """One entry per source the schedules use, Alpha Vantage first."""
    by_source: dict[str, list[ScheduleDemand]] = {}
    for demand in demands:
        by_source.setdefault(demand.source, []).append(demand)
    found = []
    if ALPHAVANTAGE in by_source:
        found.append(_alpha_vantage(by_source.pop(ALPHAVANTAGE), pairs, free_tier, budget))
    for source, mine in by_source.items():
        per_day = sum(d.requests_per_day(pairs) for d in mine)
        if source in KEYLESS_SOURCES:
            found.append(MarketData(source, "public API", 0.0, per_day, "keyless exchange data: no subscription"))
        else:
            found.append(MarketData(source, "unknown", None, per_day, "a source this model does not price"))
    return found


def market_data_note(entries: list[MarketData], aws_usd: float) -> str:
    parts = []
    for entry in entries:
        price = "not priced" if entry.monthly_usd is None else f"${entry.monthly_usd:,.2f}"
        parts.append(f"{entry.source} {entry.plan} {price} ({entry.reason})")
    subscriptions = sum(e.monthly_usd or 0.0 for e in entries)
    note = f"Market data, beside the AWS total: {'; '.join(parts)}. AWS + market data: ${aws_usd + subscriptions:,.2f}."
    if subscriptions:
        note += " A free key within its 25 requests a day (profiles/free-tier.json) or an exchange source costs $0."
    return note
