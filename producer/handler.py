"""Producer Lambda: a market data source -> Kinesis, one scheduled run per (source, interval).

``lambda_handler(event, context)``; event (all optional)::

    {"mode": "incremental"}                       # default: bars newer than each pair's watermark
    {"mode": "full", "start": ISO, "end": ISO}   # backfill a range (outputsize=full)
    {"mode": "full", ..., "backfill": "<id>/<chunk>"}  # one chunk of a planned backfill: resumable (backfill_marks)
    {"pairs": ["BTC-USD"] | "BTC-USD,ETH-USD", "interval": "5min" | "spot" | "1d" | ...}
    {"source": "alphavantage" | "coinbase" | "kraken"}  # must own the pairs at that interval

A run takes the (source, interval) lease, reads the watermarks, fetches each pair (one pair's failure never
stops the others), publishes everything with batched PutRecords, then advances each pair's watermark
over the contiguous prefix Kinesis accepted, all pairs in one batch (``WATERMARK_WRITES``: one
conditional UpdateItem per pair, or conditional TransactWriteItems of up to 100 pairs). A crash
between publishing and saving a watermark makes the next run publish those bars again (at least
once; the consumer is idempotent), never skip them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from cryptostream_model.intervals import SPOT, interval_seconds
from cryptostream_model.record import Quote, parse_ts
from cryptostream_model.sources import ALPHA_VANTAGE
from cryptostream_runtime.metrics import log_metrics
from producer import redaction
from producer.errors import ConfigError, SourceError
from producer.settings import RunPlan, Settings, plan_run
from producer.summary import RunSummary

SERVICE = "cryptostream-producer"
logger = Logger(service=os.getenv("POWERTOOLS_SERVICE_NAME", SERVICE))
metrics = Metrics(namespace=os.getenv("POWERTOOLS_METRICS_NAMESPACE", "cryptostream"), service=SERVICE)
LEASE_OWNER_ENV = "PRODUCER_LEASE_OWNER"
# The API key travels in request URLs: no log line may show it, third-party libraries' included.
redaction.install(logger)
RESERVE_SECONDS = 10.0  # kept back from rate-limit waits for publishing, watermarks and the lease


def _refuse_bad_settings_at_init() -> None:
    """Deployed (Lambda sets AWS_LAMBDA_FUNCTION_NAME), a bad setting fails the cold start with one line
    naming it, so nothing is fetched or published. In-process (the local stack, the CLI, tests) the
    environment is set after import and the handler reads it on every invocation."""
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    try:
        Settings.from_env()
    except ConfigError as exc:
        logger.error("bad configuration", extra={"error": str(exc)})
        raise


_refuse_bad_settings_at_init()


@log_metrics(metrics)
def lambda_handler(event: dict | None, context: Any) -> dict:
    try:
        settings = Settings.from_env()
        plan = plan_run(event, settings)
    except ConfigError as exc:
        logger.error("bad configuration or event", extra={"error": str(exc)})
        raise
    summary = run(plan, settings, context)
    if summary.skipped is None:
        _record_metrics(summary)
    return summary.as_event_result()


def run(
    plan: RunPlan,
    settings: Settings,
    context: Any = None,
    *,
    clients: Any = None,
    now: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    kinesis: Any = None,
) -> RunSummary:
    """One producer run; returns its summary. ``clients``/``kinesis``/``now``/``sleep`` are test seams."""
    from cryptostream_runtime.retry import RetryPolicy
    from producer.aws import aws_clients
    from producer.watermarks import LeaseHeld, RunLease, WatermarkStore

    started = time.monotonic()
    clients = clients or aws_clients()
    dynamodb = clients.client("dynamodb")
    lease_store = RunLease(dynamodb, settings.table_name, clock=now)
    try:
        lease = lease_store.acquire(plan.interval, settings.lease_seconds, owner=_lease_owner(), source=plan.source)
    except LeaseHeld as held:
        logger.warning(
            "another run holds the lease", extra={"source": plan.source, "interval": plan.interval, "owner": held.owner}
        )
        return RunSummary(plan.interval, plan.mode, source=plan.source, skipped=f"lease held by {held.owner}")
    try:
        summary = _run_locked(
            plan,
            settings,
            context,
            clients,
            WatermarkStore(
                dynamodb, settings.table_name, writes=settings.watermark_writes, backoff=RetryPolicy(sleep=sleep)
            ),
            now=now,
            sleep=sleep,
            kinesis=kinesis,
        )
    finally:
        try:
            lease_store.release(lease)
        except Exception as exc:  # it expires on its own; don't mask the run's own outcome or error
            logger.warning("lease not released", extra={"interval": plan.interval, "error": str(exc)[:200]})
    summary.duration_ms = round((time.monotonic() - started) * 1000, 1)
    logger.info("producer run finished", extra={"summary": summary.as_event_result()})
    return summary


def _lease_owner() -> str | None:
    """``<PRODUCER_LEASE_OWNER>/run-<id>`` when the environment names who runs the producer (the local
    stack names its process, so a lease left by a killed process can be recognised); else a run id."""
    prefix = os.environ.get(LEASE_OWNER_ENV)
    if not prefix:
        return None
    import uuid

    return f"{prefix}/run-{uuid.uuid4().hex[:12]}"


def _run_locked(
    plan: RunPlan,
    settings: Settings,
    context: Any,
    clients: Any,
    store: Any,
    *,
    now: Callable[[], float],
    sleep: Callable[[float], None],
    kinesis: Any,
) -> RunSummary:
    from producer.alpha_client import redact
    from producer.budget import BudgetSpent
    from producer.fetching import PairFetch, fetch_pair, rate_limit_policy
    from producer.publisher import KinesisPublisher
    from producer.sources import open_source

    summary = RunSummary(plan.interval, plan.mode, source=plan.source, pairs=list(plan.pairs))
    budget = _request_budget(settings, clients, now) if plan.source == ALPHA_VANTAGE else None
    if budget is not None and budget.remaining() == 0:  # every request would be refused: don't send one
        summary.skipped = budget.spent_reason()
        logger.info("daily request budget spent: run skipped", extra={"interval": plan.interval})
        return summary
    watermarks = store.get_many(list(plan.pairs), plan.interval)
    marks = _backfill_marks(plan, settings, clients)
    done = marks.get_many(list(plan.pairs), plan.interval) if marks else {}
    summary.newest_ts = {pair: watermarks.get(pair) for pair in plan.pairs}
    try:
        source = open_source(plan.source, settings, clients, sleep, budget.guard() if budget else None)
    except SourceError as exc:
        summary.failed_pairs = {pair: str(exc) for pair in plan.pairs}
        return summary

    deadline = time.monotonic() + _rate_limit_budget(settings, context)
    rate_limits = rate_limit_policy(settings.rate_limit_backoff_seconds, deadline, sleep)
    fetches: list[PairFetch] = []
    fatal: SourceError | None = None
    for pair in plan.pairs:
        if isinstance(fatal, BudgetSpent):  # known to be refused: not requested, not failed
            summary.deferred_pairs[pair] = str(fatal)
            continue
        if fatal is not None:  # same key, same function: every remaining pair would fail alike
            summary.failed_pairs[pair] = f"{fatal} (not requested)"
            continue
        try:
            fetched = fetch_pair(source, pair, plan, watermarks.get(pair), rate_limits=rate_limits, now=now())
        except BudgetSpent as exc:  # another run took the last of the day's requests meanwhile
            summary.deferred_pairs[pair] = str(exc)
            fatal = exc
            continue
        except SourceError as exc:
            summary.failed_pairs[pair] = str(exc)
            logger.warning("pair failed", extra={"pair": pair, "interval": plan.interval, "reason": str(exc)})
            fatal = exc if exc.fails_whole_run else None
            continue
        except Exception as exc:  # a bug or an odd body must cost one pair, not the run
            reason = f"internal_error: {type(exc).__name__}: {redact(str(exc))[:200]}"
            summary.failed_pairs[pair] = reason
            logger.error("pair failed unexpectedly", extra={"pair": pair, "reason": reason})
            continue
        for reason in fetched.invalid:
            logger.warning("invalid upstream bar skipped", extra={"pair": pair, "reason": reason})
        if pair in done:  # a resumed backfill chunk: what Kinesis accepted before is not published again
            kept = [quote for quote in fetched.quotes if quote.ts > done[pair]]
            fetched.skipped_seen += len(fetched.quotes) - len(kept)
            fetched.quotes = kept
        fetches.append(fetched)
        summary.rate_limit_retries += fetched.rate_limit_retries
        summary.fetched += fetched.fetched
        summary.skipped_seen += fetched.skipped_seen
        summary.skipped_open += fetched.skipped_open
        summary.out_of_range += fetched.out_of_range
        summary.invalid_upstream += len(fetched.invalid)
    summary.source_requests = source.requests_made
    if plan.source == ALPHA_VANTAGE:
        summary.alphavantage_requests = source.requests_made
    if summary.deferred_pairs and len(summary.deferred_pairs) == len(plan.pairs):
        summary.skipped = str(fatal).removeprefix(f"{BudgetSpent.kind}: ")
        return summary

    quotes: list[Quote] = [quote for fetched in fetches for quote in fetched.quotes]
    if quotes:
        publisher = KinesisPublisher(
            kinesis or clients.client("kinesis"),
            settings.stream_name,
            max_attempts=settings.kinesis_max_attempts,
            sleep=sleep,
        )
        outcome = publisher.publish(quotes)
        summary.published, summary.kinesis_requests = outcome.published, outcome.requests
        summary.kinesis_retries = outcome.retries
        position = 0
        targets: dict[str, str] = {}
        progress: dict[str, str] = {}
        for fetched in fetches:
            accepted = outcome.accepted[position : position + len(fetched.quotes)]
            position += len(fetched.quotes)
            target = _settle_pair(fetched.pair, fetched.quotes, accepted, outcome, plan, watermarks, summary)
            if target is not None:
                targets[fetched.pair] = target
            prefix = _accepted_prefix(accepted)
            if prefix:
                progress[fetched.pair] = fetched.quotes[prefix - 1].ts
        if marks and progress:  # before the watermarks: a crash in between only repeats the watermark write
            marks.advance_many(progress, plan.interval)
        if targets:  # one batch for the whole run: per pair or in transactions (WATERMARK_WRITES)
            store.advance_many(targets, plan.interval, source=plan.source)
            summary.newest_ts.update(targets)
    return summary


def _backfill_marks(plan: RunPlan, settings: Settings, clients: Any) -> Any:
    if plan.backfill is None:
        return None
    from producer.backfill_marks import BackfillMarks

    return BackfillMarks(clients.client("dynamodb"), settings.table_name, plan.backfill)


def _accepted_prefix(accepted: list[bool]) -> int:
    prefix = 0
    while prefix < len(accepted) and accepted[prefix]:
        prefix += 1
    return prefix


def _settle_pair(
    pair: str,
    quotes: list[Quote],
    accepted: list[bool],
    outcome: Any,
    plan: RunPlan,
    watermarks: dict[str, str],
    summary: RunSummary,
) -> str | None:
    """The pair's new watermark: the end of the contiguous accepted prefix, or None when it stays.
    Reports what Kinesis did not accept."""
    prefix = _accepted_prefix(accepted)
    if prefix < len(quotes):
        codes = ", ".join(f"{code} x{count}" for code, count in outcome.error_codes.most_common(3))
        summary.failed_pairs[pair] = (
            f"kinesis: {len(quotes) - sum(accepted)} of {len(quotes)} records not accepted"
            f" ({outcome.fatal or codes}); they are sent again next run"
        )
    if prefix == 0:
        return None
    newest = quotes[prefix - 1].ts
    current = watermarks.get(pair)
    if plan.mode == "full" and not _contiguous(current, quotes[0].ts, plan.interval):
        # A backfill of a later range must not jump the watermark over bars never published.
        return None
    return newest if current is None or newest > current else None


def _contiguous(watermark: str | None, first_ts: str, interval: str) -> bool:
    if watermark is None or interval == SPOT:
        return True
    step = interval_seconds(interval)
    return parse_ts(first_ts).timestamp() <= parse_ts(watermark).timestamp() + step


def _rate_limit_budget(settings: Settings, context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        return max(0.0, remaining() / 1000 - RESERVE_SECONDS)
    return settings.rate_limit_budget_seconds


def _request_budget(settings: Settings, clients: Any, now: Callable[[], float]) -> Any:
    """The source's daily request budget when the deployment keeps one (``ALPHAVANTAGE_DAILY_REQUESTS``)."""
    if settings.daily_request_budget is None:
        return None
    from producer.budget import RequestBudget

    dynamodb = clients.client("dynamodb")
    return RequestBudget(dynamodb, settings.table_name, ALPHA_VANTAGE, settings.daily_request_budget, clock=now)


def _record_metrics(summary: RunSummary) -> None:
    """One EMF blob per run, flushed by ``log_metrics`` when the handler returns.

    One series only (each metric name x dimension set is a custom metric, $0.30 a month): ``FailedPairs``, which
    the alarm needs. The run's counts (published, fetched, ..., per interval) are in its "producer run finished"
    log line, which the dashboard queries with Logs Insights (docs/cost.md, "One key, one series").
    """
    try:
        metrics.add_metric(name="FailedPairs", unit=MetricUnit.Count, value=len(summary.failed_pairs))
        # The source as metadata, not a dimension: in the EMF record for Logs Insights, no extra series to pay for.
        metrics.add_metadata(key="source", value=summary.source)
    except Exception as exc:  # metrics must never fail a run that published data
        logger.warning("metrics not recorded", extra={"error": str(exc)[:200]})


__all__ = ["RunSummary", "lambda_handler", "run"]
