"""The deployment configuration: the ``cryptostream`` block of ``cdk.json`` context, read and validated once.

The CDK app validates the block CDK hands it (``config_from_context``); the local stack, the CLI, the analytics and
the cost model read a cdk.json file through ``read_context``/``load_deployment_config``, so every key keeps
its meaning in both worlds and has one default (``DEFAULT_CONTEXT``, equal to the repository's cdk.json).
``DeploymentConfig`` is the one settings model; the others are views of it that add only what their world
needs: ``cryptostream_config.local.LocalSettings`` (local stack and CLI: environment overrides),
``analytics.settings.AnalyticsSettings`` (names the queries read) and ``tools.cost.settings.CostSettings``.
Pure Python: importing it must stay cheap (no aws_cdk), since the CLI imports it on every run.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptostream_config.free_tier import FREE_DAILY_REQUESTS, FreeTierError, check_free_tier
from cryptostream_model.intervals import INTERVALS, INTRADAY_INTERVALS
from cryptostream_model.keys import WATERMARK_WRITE_MODES  # the producer's WATERMARK_WRITES (docs/producer.md)
from cryptostream_model.record import parse_pair
from cryptostream_model.sources import (
    DEFAULT_SOURCE,
    Claim,
    Series,
    SourceOverlap,
    check_serves,
    check_source,
    owners_of,
)

CONTEXT_KEY = "cryptostream"
# Points the CLI and the local stack at another cdk.json.
CDK_JSON_ENV = "CRYPTOSTREAM_CDK_JSON"
REPO_CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"
# A real released version of the connector in the Serverless Application Repository.
DEFAULT_ATHENA_CONNECTOR_VERSION = "2026.33.1"
_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,80}$")
_CATALOG_NAME = re.compile(r"^[a-z0-9-_]{1,64}$")  # the connector's AthenaCatalogName pattern
_GLUE_NAME = re.compile(r"^[a-z0-9_]{1,255}$")
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557)
_CRON_FIELDS = 6  # EventBridge cron: minutes hours day-of-month month day-of-week year


# The block as the repository's cdk.json ships it (tests/test_config.py keeps the two equal): what a
# missing cdk.json means, and what fills the keys a cdk.json file leaves out.
DEFAULT_CONTEXT: dict[str, Any] = {
    "prefix": "cryptostream",
    "pairs": ["BTC-USD", "ETH-USD", "SOL-USD"],
    "schedules": [
        {
            "name": "intraday-5min",
            "interval": "5min",
            "rate_minutes": 5,
            "payload": {"mode": "incremental", "interval": "5min"},
        },
        {
            "name": "spot-1min",
            "interval": "spot",
            "rate_minutes": 1,
            "payload": {"mode": "incremental", "interval": "spot"},
        },
        {
            "name": "daily-backfill",
            "interval": "1d",
            "cron": "15 0 * * ? *",
            "payload": {"mode": "full", "interval": "1d"},
        },
    ],
    "stream_name": "cryptostream-quotes",
    "stream_shards": 1,
    "stream_retention_hours": 24,
    "table_name": "cryptostream-quotes",
    "history_ttl_days": 30,
    "table_deletion_protection": True,
    "quarantine_queue_name": "cryptostream-quarantine",
    "archive_bucket_name": "cryptostream-archive",
    "firehose_buffer_seconds": 900,
    "firehose_buffer_mib": 64,
    "consumer": {
        "batch_size": 500,
        "batching_window_seconds": 5,
        "parallelization_factor": 1,
        "max_retries": 5,
        "max_record_age_seconds": 3600,
        "bisect_on_error": True,
    },
    "glue_database": "cryptostream",
    "athena_workgroup": "cryptostream",
    "athena_bytes_scanned_cutoff": 10_737_418_240,
    "athena_catalog_name": "cryptostream-ddb",
    "flink_studio": True,
    "alarm_email": "",
    "athena_connector_version": DEFAULT_ATHENA_CONNECTOR_VERSION,
    "archive_tiering_after_days": 30,
    "retain_data": True,
    "log_retention_days": 30,
    "iterator_age_alarm_seconds": 600,
    "producer_watermark_writes": "per_pair",
    "athena_federation": True,
    "athena_named_queries": True,
    "free_tier": False,
    "alphavantage_daily_requests": FREE_DAILY_REQUESTS,
    "lake_formation": True,
    "rollup_schedule": "rate(1 hour)",
    "rollup_source_interval": "5min",
}
CONSUMER_DEFAULTS: Mapping[str, Any] = DEFAULT_CONTEXT["consumer"]

# Keys only the AWS deployment reads; even the context CDK hands over may leave them out.
OPTIONAL_DEFAULTS: dict[str, Any] = {
    key: DEFAULT_CONTEXT[key]
    for key in (
        "athena_connector_version",
        "archive_tiering_after_days",
        "retain_data",
        "log_retention_days",
        "iterator_age_alarm_seconds",
        "producer_watermark_writes",
        "athena_federation",
        "athena_named_queries",
        "free_tier",
        "alphavantage_daily_requests",
        "lake_formation",
        "rollup_schedule",
        "rollup_source_interval",
    )
}


class ConfigError(ValueError):
    """A configuration problem, described in one line."""


@dataclass(frozen=True)
class ScheduleConfig:
    """One EventBridge schedule that invokes the producer with a fixed payload."""

    name: str
    interval: str
    payload: Mapping[str, Any]
    rate_minutes: int | None = None
    cron: str | None = None
    source: str | None = None  # None: the deployment's default source (``source``)
    pairs: tuple[str, ...] | None = None  # the payload's pairs; None: every configured pair


@dataclass(frozen=True)
class ConsumerConfig:
    """Settings of the consumer's Kinesis event source mapping: Lambda's in AWS, ``local.event_source``'s locally."""

    batch_size: int = CONSUMER_DEFAULTS["batch_size"]
    batching_window_seconds: int = CONSUMER_DEFAULTS["batching_window_seconds"]
    parallelization_factor: int = CONSUMER_DEFAULTS["parallelization_factor"]
    max_retries: int = CONSUMER_DEFAULTS["max_retries"]
    max_record_age_seconds: int = CONSUMER_DEFAULTS["max_record_age_seconds"]
    bisect_on_error: bool = CONSUMER_DEFAULTS["bisect_on_error"]


@dataclass(frozen=True)
class DeploymentConfig:
    """Everything ``app.py`` deploys is named or sized here."""

    prefix: str
    pairs: tuple[str, ...]
    schedules: tuple[ScheduleConfig, ...]
    stream_name: str
    stream_shards: int
    stream_retention_hours: int
    table_name: str
    history_ttl_days: int
    table_deletion_protection: bool
    quarantine_queue_name: str
    archive_bucket_name: str
    firehose_buffer_seconds: int
    firehose_buffer_mib: int
    consumer: ConsumerConfig
    glue_database: str
    athena_workgroup: str
    athena_bytes_scanned_cutoff: int
    athena_catalog_name: str
    flink_studio: bool
    alarm_email: str
    # AWS-only settings with defaults.
    athena_connector_version: str = OPTIONAL_DEFAULTS["athena_connector_version"]
    producer_reserved_concurrency: int | None = None
    archive_tiering_after_days: int = OPTIONAL_DEFAULTS["archive_tiering_after_days"]
    retain_data: bool = OPTIONAL_DEFAULTS["retain_data"]
    log_retention_days: int = OPTIONAL_DEFAULTS["log_retention_days"]
    iterator_age_alarm_seconds: int = OPTIONAL_DEFAULTS["iterator_age_alarm_seconds"]
    producer_watermark_writes: str = OPTIONAL_DEFAULTS["producer_watermark_writes"]
    # The Athena DynamoDB connector (a Serverless Application Repository app) and its data catalog; an
    # emulator without SAR/Athena catalogs (docs/infrastructure.md, "Verified by deployment") turns it off.
    athena_federation: bool = OPTIONAL_DEFAULTS["athena_federation"]
    # The analytics queries as Athena named queries (AWS::Athena::NamedQuery).
    athena_named_queries: bool = OPTIONAL_DEFAULTS["athena_named_queries"]
    # The market data source of every schedule that names none (cryptostream_model.sources).
    source: str = DEFAULT_SOURCE
    # A free Alpha Vantage key: schedules must fit its daily requests, and the producer keeps that budget.
    free_tier: bool = OPTIONAL_DEFAULTS["free_tier"]
    alphavantage_daily_requests: int = OPTIONAL_DEFAULTS["alphavantage_daily_requests"]
    # Lake Formation governs the Glue catalog (infra/governance.py); off for an emulator without AWS::LakeFormation::*.
    lake_formation: bool = OPTIONAL_DEFAULTS["lake_formation"]
    # Lake Formation administrators (IAM role/user ARNs), named instead of the CDK deploy role.
    lake_formation_admins: tuple[str, ...] = ()
    # EventBridge Scheduler expression starting the rollups state machine (infra/rollups.py).
    rollup_schedule: str = OPTIONAL_DEFAULTS["rollup_schedule"]
    # The intraday bars the cloud rollups read (the local `cryptostream rollup --source-interval`).
    rollup_source_interval: str = OPTIONAL_DEFAULTS["rollup_source_interval"]
    extra: Mapping[str, Any] = field(default_factory=dict)

    def schedule_source(self, schedule: ScheduleConfig) -> str:
        return schedule.source or self.source

    @property
    def source_owners(self) -> dict[Series, str]:
        """(pair, interval) -> source for every series a schedule covers (the rest is the default source's)."""
        return {series: claim.source for series, claim in owners_of(schedule_claims(self)).items()}

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(parse_pair(p)[0] for p in self.pairs))

    @property
    def markets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(parse_pair(p)[1] for p in self.pairs))

    @property
    def daily_request_budget(self) -> int | None:
        """The producer's ``ALPHAVANTAGE_DAILY_REQUESTS``: the free tier's budget, or None (premium: none kept)."""
        return self.alphavantage_daily_requests if self.free_tier else None

    @property
    def default_interval(self) -> str:
        """The producer's ``INTERVAL`` when an event names none: the first schedule's interval."""
        return self.schedules[0].interval if self.schedules else "spot"

    def resource_name(self, suffix: str) -> str:
        """``cryptostream`` + ``consumer`` -> ``cryptostream-consumer``."""
        return f"{self.prefix}-{suffix}"


def schedule_claims(config: DeploymentConfig) -> list[Claim]:
    """What each schedule publishes: its source, interval and pairs."""
    return [
        Claim(config.schedule_source(s), s.interval, s.pairs or config.pairs, f"schedule {s.name!r}")
        for s in config.schedules
    ]


def _require(block: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in block:
        raise ConfigError(f"cdk.json context.{CONTEXT_KEY}.{key} is missing")
    value = block[key]
    # bool is an int in Python: never accept one for the other.
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ConfigError(f"cdk.json context.{CONTEXT_KEY}.{key} must be {names}, got {value!r}")
    return value


def _positive(block: Mapping[str, Any], key: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    value = _require(block, key, int)
    if value < minimum or maximum is not None and value > maximum:
        bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ConfigError(f"cdk.json context.{CONTEXT_KEY}.{key} must be {bounds}, got {value}")
    return value


def _name(block: Mapping[str, Any], key: str, pattern: re.Pattern[str] = _NAME) -> str:
    value = _require(block, key, str)
    if not pattern.match(value):
        raise ConfigError(f"cdk.json context.{CONTEXT_KEY}.{key}={value!r} does not match {pattern.pattern}")
    return value


def _choice(block: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = _require(block, key, str)
    if value not in allowed:
        raise ConfigError(f"cdk.json context.{CONTEXT_KEY}.{key} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _schedule(raw: Any, index: int) -> ScheduleConfig:
    where = f"cdk.json context.{CONTEXT_KEY}.schedules[{index}]"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be an object")
    name, interval, payload = raw.get("name"), raw.get("interval"), raw.get("payload", {})
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 40:
        raise ConfigError(f"{where}.name must be a short name ([a-zA-Z0-9_.-], at most 40), got {name!r}")
    if interval not in INTERVALS:
        raise ConfigError(f"{where}.interval must be one of {', '.join(INTERVALS)}, got {interval!r}")
    if not isinstance(payload, Mapping):
        raise ConfigError(f"{where}.payload must be an object")
    if payload.get("interval", interval) != interval:
        raise ConfigError(f"{where}: payload interval {payload['interval']!r} differs from interval {interval!r}")
    rate, cron = raw.get("rate_minutes"), raw.get("cron")
    if (rate is None) == (cron is None):
        raise ConfigError(f"{where} needs exactly one of rate_minutes or cron")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or rate < 1):
        raise ConfigError(f"{where}.rate_minutes must be a positive integer, got {rate!r}")
    if cron is not None and (not isinstance(cron, str) or len(cron.split()) != _CRON_FIELDS):
        raise ConfigError(f"{where}.cron must have 6 fields (EventBridge cron, e.g. '15 0 * * ? *'), got {cron!r}")
    source = raw.get("source", payload.get("source"))
    if payload.get("source", source) != source:
        raise ConfigError(f"{where}: payload source {payload['source']!r} differs from source {source!r}")
    if source is not None:
        try:
            check_source(source, f"{where}.source")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    pairs = payload.get("pairs")
    if pairs is not None:
        if isinstance(pairs, str):
            pairs = pairs.split(",")
        if not isinstance(pairs, list) or not pairs:
            raise ConfigError(f"{where}.payload.pairs must be a non-empty list of pairs such as BTC-USD")
        try:
            pairs = tuple(dict.fromkeys("-".join(parse_pair(str(p))) for p in pairs))
        except ValueError as exc:
            raise ConfigError(f"{where}.payload.pairs: {exc}") from None
    return ScheduleConfig(
        name=name, interval=interval, payload=dict(payload), rate_minutes=rate, cron=cron, source=source, pairs=pairs
    )


def check_sources(config: DeploymentConfig) -> DeploymentConfig:
    """Each schedule's source serves its interval, and no two sources claim one (pair, interval)."""
    for index, schedule in enumerate(config.schedules):
        try:
            check_serves(config.schedule_source(schedule), schedule.interval, f"{CONTEXT_KEY}.schedules[{index}]")
        except ValueError as exc:
            raise ConfigError(f"cdk.json context.{exc}") from None
    try:
        owners_of(schedule_claims(config))
    except SourceOverlap as exc:
        raise ConfigError(f"cdk.json context.{CONTEXT_KEY}.schedules: {exc}") from None
    return config


def _consumer(block: Mapping[str, Any]) -> ConsumerConfig:
    raw = block.get("consumer", {})
    if not isinstance(raw, Mapping):
        raise ConfigError(f"cdk.json context.{CONTEXT_KEY}.consumer must be an object")
    merged = {name: raw.get(name, CONSUMER_DEFAULTS[name]) for name in ConsumerConfig.__dataclass_fields__}
    prefixed = {f"consumer.{k}": v for k, v in merged.items()}
    # Limits of a Lambda Kinesis event source mapping.
    return ConsumerConfig(
        batch_size=_positive(prefixed, "consumer.batch_size", maximum=10_000),
        batching_window_seconds=_positive(prefixed, "consumer.batching_window_seconds", minimum=0, maximum=300),
        parallelization_factor=_positive(prefixed, "consumer.parallelization_factor", maximum=10),
        max_retries=_positive(prefixed, "consumer.max_retries", minimum=0, maximum=10_000),
        max_record_age_seconds=_positive(prefixed, "consumer.max_record_age_seconds", minimum=60, maximum=604_800),
        bisect_on_error=_require(prefixed, "consumer.bisect_on_error", bool),
    )


_IAM_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")


def _iam_principals(block: Mapping[str, Any], key: str) -> tuple[str, ...]:
    values = block.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) and _IAM_PRINCIPAL.match(v) for v in values):
        raise ConfigError(
            f"cdk.json context.{CONTEXT_KEY}.{key} must be a list of IAM role or user ARNs, got {values!r}"
        )
    return tuple(values)


_RATE = re.compile(r"^rate\((?P<value>[1-9][0-9]*) (?P<unit>minute|hour|day)s?\)$")


def _schedule_expression(block: Mapping[str, Any], key: str) -> str:
    """An EventBridge Scheduler ``rate(N unit[s])`` (singular unit for 1) or 6-field ``cron(...)`` expression."""
    value = _require(block, key, str).strip()
    rate = _RATE.match(value)
    if rate is not None:
        plural = value.endswith("s)")
        if plural != (rate["value"] != "1"):
            raise ConfigError(f"cdk.json context.{CONTEXT_KEY}.{key}={value!r}: say 'rate(1 {rate['unit']})' "
                              f"or 'rate(N {rate['unit']}s)'")  # fmt: skip
        return value
    if value.startswith("cron(") and value.endswith(")") and len(value[5:-1].split()) == _CRON_FIELDS:
        return value
    raise ConfigError(
        f"cdk.json context.{CONTEXT_KEY}.{key} must be 'rate(N minutes|hours|days)' or a 6-field 'cron(...)', "
        f"got {value!r}"
    )


def _log_retention(block: Mapping[str, Any]) -> int:
    value = block["log_retention_days"]
    if value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
        raise ConfigError(f"cdk.json context.{CONTEXT_KEY}.log_retention_days must be one of {allowed}")
    return int(value)


def config_from_context(context: Any) -> DeploymentConfig:
    """Validate the ``cryptostream`` context block; raises ConfigError naming the first bad key."""
    if not isinstance(context, Mapping):
        raise ConfigError(f"cdk.json context.{CONTEXT_KEY} is missing or not an object")
    block = {**OPTIONAL_DEFAULTS, **context}
    pairs = _require(block, "pairs", list)
    if not pairs:
        raise ConfigError(f"cdk.json context.{CONTEXT_KEY}.pairs is empty")
    try:
        normalised = tuple("-".join(parse_pair(str(p))) for p in pairs)
    except ValueError as exc:
        raise ConfigError(f"cdk.json context.{CONTEXT_KEY}.pairs: {exc}") from None
    schedules = tuple(_schedule(raw, i) for i, raw in enumerate(_require(block, "schedules", list)))
    if len({s.name for s in schedules}) != len(schedules):
        raise ConfigError(f"cdk.json context.{CONTEXT_KEY}.schedules: names must be unique")
    reserved = block.get("producer_reserved_concurrency")
    if reserved is not None:
        reserved = _positive(block, "producer_reserved_concurrency", minimum=0)
    if block.get("retain_data") is False and block.get("table_deletion_protection") is True:
        # CloudFormation cannot delete a protected table: `cdk destroy` would fail half-way.
        raise ConfigError(
            f"cdk.json context.{CONTEXT_KEY}.table_deletion_protection must be false when retain_data is false "
            "(cdk destroy deletes the table, which deletion protection forbids)"
        )
    try:
        source = check_source(block.get("source", DEFAULT_SOURCE), f"cdk.json context.{CONTEXT_KEY}.source")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    config = DeploymentConfig(
        prefix=_name(block, "prefix", re.compile(r"^[a-z][a-z0-9-]{1,30}$")),
        pairs=normalised,
        schedules=schedules,
        stream_name=_name(block, "stream_name"),
        stream_shards=_positive(block, "stream_shards", minimum=0),
        stream_retention_hours=_positive(block, "stream_retention_hours", minimum=24, maximum=8760),
        table_name=_name(block, "table_name"),
        history_ttl_days=_positive(block, "history_ttl_days", minimum=0),
        table_deletion_protection=_require(block, "table_deletion_protection", bool),
        quarantine_queue_name=_name(block, "quarantine_queue_name"),
        archive_bucket_name=_name(block, "archive_bucket_name", re.compile(r"^[a-z0-9][a-z0-9-]{2,40}$")),
        # Dynamic partitioning needs a buffer interval of at least 60 s.
        firehose_buffer_seconds=_positive(block, "firehose_buffer_seconds", minimum=60, maximum=900),
        # Firehose needs >= 64 MiB buffers when it converts to Parquet.
        firehose_buffer_mib=_positive(block, "firehose_buffer_mib", minimum=64, maximum=128),
        consumer=_consumer(block),
        glue_database=_name(block, "glue_database", _GLUE_NAME),
        athena_workgroup=_name(block, "athena_workgroup"),
        athena_bytes_scanned_cutoff=_positive(block, "athena_bytes_scanned_cutoff", minimum=10_000_000),
        athena_catalog_name=_name(block, "athena_catalog_name", _CATALOG_NAME),
        flink_studio=_require(block, "flink_studio", bool),
        alarm_email=_require(block, "alarm_email", str).strip(),
        athena_connector_version=_name(block, "athena_connector_version", re.compile(r"^\d+\.\d+\.\d+$")),
        producer_reserved_concurrency=reserved,
        archive_tiering_after_days=_positive(block, "archive_tiering_after_days", minimum=0),
        retain_data=_require(block, "retain_data", bool),
        log_retention_days=_log_retention(block),
        iterator_age_alarm_seconds=_positive(block, "iterator_age_alarm_seconds", minimum=60),
        producer_watermark_writes=_choice(block, "producer_watermark_writes", WATERMARK_WRITE_MODES),
        athena_federation=_require(block, "athena_federation", bool),
        athena_named_queries=_require(block, "athena_named_queries", bool),
        source=source,
        free_tier=_require(block, "free_tier", bool),
        alphavantage_daily_requests=_positive(block, "alphavantage_daily_requests"),
        lake_formation=_require(block, "lake_formation", bool),
        lake_formation_admins=_iam_principals(block, "lake_formation_admins"),
        rollup_schedule=_schedule_expression(block, "rollup_schedule"),
        rollup_source_interval=_choice(block, "rollup_source_interval", INTRADAY_INTERVALS),
        extra={k: v for k, v in block.items() if k not in DeploymentConfig.__dataclass_fields__},
    )
    return check_free_tier_of(check_sources(config))


def check_free_tier_of(config: DeploymentConfig) -> DeploymentConfig:
    """With ``free_tier``: what the schedules ask of Alpha Vantage fits a free key (one line naming the numbers)."""
    if config.free_tier:
        try:
            check_free_tier(config.schedules, len(config.pairs), config.alphavantage_daily_requests, config.source)
        except FreeTierError as exc:
            raise ConfigError(f"cdk.json context.{CONTEXT_KEY}.{exc}") from None
    return config


def with_defaults(block: Mapping[str, Any]) -> dict[str, Any]:
    """``block`` over ``DEFAULT_CONTEXT`` (key by key, and inside ``consumer``): a partial cdk.json still loads."""
    merged = {**copy.deepcopy(DEFAULT_CONTEXT), **block}
    consumer = block.get("consumer")
    if isinstance(consumer, Mapping):
        merged["consumer"] = {**CONSUMER_DEFAULTS, **consumer}
    return merged


def merged_context(base: Mapping[str, Any], override: Any) -> dict[str, Any]:
    """The block CDK hands the app (``override``) over cdk.json's (``base``), key by key and inside ``consumer``.

    ``cdk synth -c 'cryptostream={"flink_studio": false}'`` hands the app a JSON *string* that replaces
    cdk.json's object whole; parsing it and merging it over cdk.json lets one key be changed on the command
    line. An object (``App(context=...)``, cdk.json itself) is merged the same way.
    """
    if isinstance(override, str):
        try:
            override = json.loads(override)
        except ValueError as exc:
            raise ConfigError(f"-c {CONTEXT_KEY}=...: not valid JSON ({exc})") from None
    if override is None:
        override = {}
    if not isinstance(override, Mapping):
        raise ConfigError(f"cdk.json context.{CONTEXT_KEY} is missing or not an object")
    merged = {**copy.deepcopy(dict(base)), **override}
    if isinstance(base.get("consumer"), Mapping) and isinstance(override.get("consumer"), Mapping):
        merged["consumer"] = {**base["consumer"], **override["consumer"]}
    return merged


def load_block(block: Mapping[str, Any], source: str) -> DeploymentConfig:
    """``config_from_context`` of ``block`` with the defaults filled in; the one-line error names ``source``."""
    if not isinstance(block, Mapping):
        raise ConfigError(f"{source} context.{CONTEXT_KEY} must be an object")
    try:
        return config_from_context(with_defaults(block))
    except ConfigError as exc:
        # config_from_context's messages say "cdk.json context...": say which file.
        message = str(exc)
        raise ConfigError(
            source + message.removeprefix("cdk.json") if message.startswith("cdk.json") else message
        ) from None


def cdk_json_path() -> Path:
    """``CRYPTOSTREAM_CDK_JSON`` when set, else this checkout's cdk.json."""
    return Path(os.environ.get(CDK_JSON_ENV) or REPO_CDK_JSON)


def read_cdk_context(path: Path) -> dict[str, Any]:
    """The whole ``context`` object of a cdk.json file (CDK feature flags included); one-line ConfigError."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    context = document.get("context", {}) if isinstance(document, dict) else None
    if not isinstance(context, dict):
        raise ConfigError(f"cannot read {path}: expected an object with an object 'context'")
    return context


def read_context(path: Path | None = None) -> dict[str, Any]:
    """The ``context.cryptostream`` block of ``path`` (default: ``cdk_json_path()``) over the defaults.

    No such file, or a cdk.json without the block (another CDK app's), means the built-in defaults.
    """
    path = path or cdk_json_path()
    if not path.is_file():
        return copy.deepcopy(DEFAULT_CONTEXT)
    block = read_cdk_context(path).get(CONTEXT_KEY, {})
    if not isinstance(block, Mapping):
        raise ConfigError(f"{path} context.{CONTEXT_KEY} must be an object")
    return with_defaults(block)


def load_deployment_config(path: Path | None = None) -> DeploymentConfig:
    """The validated configuration of a cdk.json file (default: ``cdk_json_path()``); one-line ConfigError."""
    path = path or cdk_json_path()
    return load_block(read_context(path), str(path))
