"""The cost model's view of the one configuration: the deployed pipeline's cost-relevant settings, from ``cdk.json``
in the current directory.

By design the cost command prices the deployment whose ``cdk.json`` sits where it runs (where ``cdk deploy``
would run), so it passes ``./cdk.json`` to ``cryptostream_config.deployment`` rather than following
``CRYPTOSTREAM_CDK_JSON``.
Reading, defaults and validation are ``cryptostream_config.deployment``'s: with no ``./cdk.json`` the built-in
defaults (equal to the repository's cdk.json) apply; a broken one is a one-line ``ConfigError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cryptostream_config.deployment import DEFAULT_CONTEXT, DeploymentConfig, load_deployment_config
from cryptostream_config.free_tier import runs_per_day
from tools.cost.market_data import ScheduleDemand

CDK_JSON = "cdk.json"
BUILT_IN = "built-in defaults"
_RATE = re.compile(r"^rate\((?P<value>\d+) (?P<unit>minute|hour|day)s?\)$")
_MINUTES = {"minute": 1, "hour": 60, "day": 1440}


def schedule_runs_per_day(expression: str) -> float:
    """Runs a day of an EventBridge Scheduler expression (validated by cryptostream_config): ``rate(N unit)``
    exactly; a 6-field ``cron(...)`` by its minute and hour fields (``*`` = every one, ``a,b`` = a list, a single
    value = one), which is what the rollup schedule's crons say; day fields are ignored (every day)."""
    rate = _RATE.match(expression)
    if rate is not None:
        return 1440 / (int(rate["value"]) * _MINUTES[rate["unit"]])
    minute, hour = expression[5:-1].split()[:2]

    def count(field: str, every: int) -> int:
        if field == "*":
            return every
        if "/" in field:
            return every // int(field.split("/")[1])
        return len(field.split(","))

    return float(count(minute, 60) * count(hour, 24))


# The spot rate to price when a deployment has no spot schedule: the built-in spot schedule's.
_BUILT_IN_SPOT_RATE: int = next(s["rate_minutes"] for s in DEFAULT_CONTEXT["schedules"] if s["interval"] == "spot")


@dataclass(frozen=True, slots=True)
class CostSettings:
    """What the cost model reads of a deployment, and from where (``source``: a cdk.json path or BUILT_IN)."""

    stream_shards: int
    stream_retention_hours: int
    history_ttl_days: int
    firehose_buffer_seconds: int
    firehose_buffer_mib: int
    consumer_batch_size: int
    consumer_batching_window_seconds: float
    consumer_parallelization_factor: int
    spot_rate_minutes: int
    schedules: int
    source: str = BUILT_IN
    pairs: int = len(DEFAULT_CONTEXT["pairs"])
    # The interval `cryptostream cost` prices without --interval: the schedule that runs most often.
    busiest_interval: str = "spot"
    demands: tuple[ScheduleDemand, ...] = ()  # what each schedule asks of its market-data source
    free_tier: bool = False
    daily_request_budget: int = 25
    rollup_runs_per_day: float = 24  # rollup_schedule


def cost_settings_of(config: DeploymentConfig, source: str) -> CostSettings:
    """The cost-relevant part of a validated configuration."""
    spot_rates = (s.rate_minutes for s in config.schedules if s.interval == "spot" and s.rate_minutes)
    return CostSettings(
        stream_shards=config.stream_shards,
        stream_retention_hours=config.stream_retention_hours,
        history_ttl_days=config.history_ttl_days,
        firehose_buffer_seconds=config.firehose_buffer_seconds,
        firehose_buffer_mib=config.firehose_buffer_mib,
        consumer_batch_size=config.consumer.batch_size,
        consumer_batching_window_seconds=float(config.consumer.batching_window_seconds),
        consumer_parallelization_factor=config.consumer.parallelization_factor,
        spot_rate_minutes=next(spot_rates, _BUILT_IN_SPOT_RATE),
        schedules=len(config.schedules),
        source=source,
        pairs=len(config.pairs),
        busiest_interval=max(config.schedules, key=runs_per_day).interval if config.schedules else "spot",
        demands=tuple(
            ScheduleDemand(
                name=s.name,
                interval=s.interval,
                source=config.schedule_source(s),
                runs_per_day=runs_per_day(s),
                pairs=len(s.pairs) if s.pairs else None,
            )
            for s in config.schedules
        ),
        free_tier=config.free_tier,
        daily_request_budget=config.alphavantage_daily_requests,
        rollup_runs_per_day=schedule_runs_per_day(config.rollup_schedule),
    )


def load_cost_settings(directory: Path | None = None) -> CostSettings:
    """``./cdk.json`` (or ``directory``'s) when present, else the built-in defaults."""
    path = (directory or Path.cwd()) / CDK_JSON
    return cost_settings_of(load_deployment_config(path), str(path) if path.is_file() else BUILT_IN)
