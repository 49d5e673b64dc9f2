"""Producer settings from the environment, and the run plan one event asks for.

The producer only reads the environment; loading ``.env`` is the command line's job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptostream_model import settings as read
from cryptostream_model.intervals import INTERVALS
from cryptostream_model.keys import WATERMARK_PER_PAIR as PER_PAIR
from cryptostream_model.keys import WATERMARK_WRITE_MODES
from cryptostream_model.record import parse_pair
from cryptostream_model.settings import SettingError
from cryptostream_model.sources import DEFAULT_SOURCE, SOURCES, Series, check_serves, check_source, decode_owners
from producer.errors import ConfigError

MODES = ("incremental", "full")
DEFAULT_BASE_URL = "https://www.alphavantage.co/query"
DAILY_BUDGET_ENV = "ALPHAVANTAGE_DAILY_REQUESTS"


@dataclass(frozen=True)
class Settings:
    stream_name: str
    table_name: str
    pairs: tuple[str, ...]
    interval: str
    api_key: str | None
    secret_arn: str | None
    base_url: str = DEFAULT_BASE_URL
    timeout_seconds: float = 10.0
    max_retries: int = 2
    rate_limit_backoff_seconds: float = 2.0
    rate_limit_budget_seconds: float = 20.0  # used when there is no Lambda context to ask
    lease_seconds: int = 900
    kinesis_max_attempts: int = 6
    watermark_writes: str = PER_PAIR  # or TRANSACTION: fewer requests, twice the write units
    # Alpha Vantage requests a UTC day the producer allows itself (free key: 25); None = no budget kept.
    daily_request_budget: int | None = None
    # Sources: the default one, the (pair, interval)s other sources own, exchange hosts (e.g. the simulator)
    source: str = DEFAULT_SOURCE
    source_owners: Mapping[Series, str] = field(default_factory=dict)
    exchange_base_urls: Mapping[str, str] = field(default_factory=dict)
    exchange_rate_limit_ms: float | None = None  # None: CCXT's own spacing per exchange

    def owner(self, pair: str, interval: str) -> str:
        """The one source that publishes ``pair`` at ``interval``."""
        return self.source_owners.get((pair, interval), self.source)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Every setting the producer reads, checked at once; a bad one raises ConfigError naming it."""
        env = os.environ if env is None else env
        try:
            read.required(env, "STREAM_NAME", "TABLE_NAME")
            # Not the producer's, but refused here too: the consumer would reject every record published.
            read.history_ttl_days(env)
            return cls(
                stream_name=env["STREAM_NAME"].strip(),
                table_name=env["TABLE_NAME"].strip(),
                pairs=read.pairs(env, "PAIRS", ("BTC-USD",)),
                interval=read.choice(env, "INTERVAL", "5min", INTERVALS),
                api_key=env.get("ALPHAVANTAGE_API_KEY") or None,
                secret_arn=env.get("ALPHAVANTAGE_SECRET_ARN") or None,
                base_url=read.url(env, "ALPHAVANTAGE_BASE_URL", DEFAULT_BASE_URL) or DEFAULT_BASE_URL,
                timeout_seconds=read.number(
                    env, "ALPHAVANTAGE_TIMEOUT_SECONDS", 10.0, above_minimum=True, maximum=900, unit="seconds"
                ),
                max_retries=read.integer(env, "ALPHAVANTAGE_MAX_RETRIES", 2, minimum=0, maximum=10),
                rate_limit_backoff_seconds=read.number(
                    env, "ALPHAVANTAGE_RATE_LIMIT_BACKOFF_SECONDS", 2.0, maximum=900, unit="seconds"
                ),
                rate_limit_budget_seconds=read.number(
                    env, "ALPHAVANTAGE_RATE_LIMIT_BUDGET_SECONDS", 20.0, maximum=900, unit="seconds"
                ),
                lease_seconds=read.integer(
                    env, "PRODUCER_LEASE_SECONDS", 900, minimum=1, maximum=86_400, unit="seconds"
                ),
                kinesis_max_attempts=read.integer(env, "KINESIS_MAX_ATTEMPTS", 6, minimum=1, maximum=20),
                watermark_writes=read.choice(env, "WATERMARK_WRITES", PER_PAIR, WATERMARK_WRITE_MODES, lower=True),
                daily_request_budget=parse_budget(env.get(DAILY_BUDGET_ENV)),
                source=_source(env.get("SOURCE") or DEFAULT_SOURCE, "SOURCE"),
                source_owners=_owners(env.get("SOURCE_OWNERS") or ""),
                exchange_base_urls={
                    name: env[f"{name.upper()}_BASE_URL"] for name in SOURCES if env.get(f"{name.upper()}_BASE_URL")
                },
                exchange_rate_limit_ms=read.number(env, "EXCHANGE_RATE_LIMIT_MS", -1.0, maximum=60_000, unit="ms")
                if env.get("EXCHANGE_RATE_LIMIT_MS")
                else None,
            )
        except ConfigError:
            raise
        except SettingError as exc:
            raise ConfigError(str(exc)) from None


def parse_pairs(raw: object) -> tuple[str, ...]:
    """``"btc-usd, ETH-USD"`` or ``["BTC-USD"]`` -> ``("BTC-USD", "ETH-USD")`` (deduplicated, in order)."""
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, (list, tuple)):
        raise ConfigError(f"pairs must be a list or a comma-separated string, got {type(raw).__name__}")
    pairs: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            continue
        try:
            symbol, market = parse_pair(item)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if f"{symbol}-{market}" not in pairs:
            pairs.append(f"{symbol}-{market}")
    if not pairs:
        raise ConfigError("no pairs configured (PAIRS, e.g. BTC-USD,ETH-USD)")
    return tuple(pairs)


def parse_budget(raw: str | None) -> int | None:
    """``ALPHAVANTAGE_DAILY_REQUESTS``: a whole number of requests a day; empty or 0 keeps no budget."""
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{DAILY_BUDGET_ENV} must be a whole number of requests, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{DAILY_BUDGET_ENV} must not be negative, got {raw!r}")
    return value or None


def parse_watermark_writes(raw: str) -> str:
    mode = raw.strip().lower()
    if mode not in WATERMARK_WRITE_MODES:
        raise ConfigError(f"WATERMARK_WRITES must be one of {', '.join(WATERMARK_WRITE_MODES)}, got {raw!r}")
    return mode


def parse_interval(raw: object) -> str:
    if raw not in INTERVALS:
        raise ConfigError(f"unknown interval {raw!r}; expected one of {', '.join(INTERVALS)}")
    return str(raw)


def parse_moment(raw: object, name: str) -> datetime | None:
    """ISO-8601 date or date-time (naive means UTC) -> aware UTC datetime; None stays None."""
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise ConfigError(f"{name} must be an ISO-8601 string, got {type(raw).__name__}")
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{name} is not an ISO-8601 date or time: {raw!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class RunPlan:
    """What one invocation does: which pairs, which interval, which mode and range."""

    pairs: tuple[str, ...]
    interval: str
    mode: str
    start: datetime | None = None
    end: datetime | None = None
    backfill: str | None = None  # "<backfill_id>/<chunk_id>": keep per-pair progress marks (producer.backfill_marks)
    source: str = DEFAULT_SOURCE


def plan_run(event: object, settings: Settings) -> RunPlan:
    """Merge an EventBridge/CLI event over the settings; raises ConfigError with one line."""
    if event is None:
        event = {}
    if not isinstance(event, dict):
        raise ConfigError(f"event must be a JSON object, got {type(event).__name__}")
    mode = event.get("mode", "incremental")
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    interval = parse_interval(event["interval"]) if event.get("interval") else settings.interval
    source, pairs = _source_and_pairs(event, settings, interval)
    start, end = parse_moment(event.get("start"), "start"), parse_moment(event.get("end"), "end")
    if mode == "incremental" and (start or end):
        raise ConfigError("start/end apply to mode 'full' only")
    if start and end and start > end:
        raise ConfigError(f"start {start.isoformat()} is after end {end.isoformat()}")
    backfill = event.get("backfill") or None
    if backfill is not None:
        from producer.backfill_marks import BACKFILL_KEY

        if mode != "full":
            raise ConfigError("backfill applies to mode 'full' only")
        if not isinstance(backfill, str) or not BACKFILL_KEY.fullmatch(backfill):
            raise ConfigError(f"backfill must be '<backfill_id>/<chunk_id>' (lowercase, digits), got {backfill!r}")
    return RunPlan(pairs=pairs, interval=interval, mode=mode, start=start, end=end, backfill=backfill, source=source)


def _source(raw: object, where: str) -> str:
    try:
        return check_source(raw, where)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _owners(raw: str) -> dict[Series, str]:
    try:
        return decode_owners(raw)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _source_and_pairs(event: Mapping, settings: Settings, interval: str) -> tuple[str, tuple[str, ...]]:
    """The run's source and pairs. One source owns each (pair, interval) (``SOURCE_OWNERS``, else the default
    ``SOURCE``): an event naming a source for pairs it does not own is refused, so two sources never write
    the same bars. Without pairs, a source runs the configured pairs it owns at ``interval``; without a
    source, the event's pairs' owner runs (the default source when they have none in common)."""
    named = _source(event["source"], "event source") if event.get("source") else None
    if event.get("pairs"):
        pairs = parse_pairs(event["pairs"])
        owners = {settings.owner(pair, interval) for pair in pairs}
        source = named or (owners.pop() if len(owners) == 1 else settings.source)
    else:
        source = named or settings.source
        extra = [
            pair for (pair, owned), owner in settings.source_owners.items() if owned == interval and owner == source
        ]
        pairs = tuple(
            pair for pair in dict.fromkeys([*settings.pairs, *extra]) if settings.owner(pair, interval) == source
        )
        if not pairs:
            raise ConfigError(f"source {source} owns no {interval} pair (SOURCE, SOURCE_OWNERS; cdk.json schedules)")
    for pair in pairs:
        owner = settings.owner(pair, interval)
        if owner != source:
            raise ConfigError(
                f"source {source} does not publish {pair} {interval}: {owner} does (one source per pair and interval;"
                " change the owner in cdk.json schedules / SOURCE, not per event)"
            )
    try:
        check_serves(source, interval, f"source {source}")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return source, pairs
