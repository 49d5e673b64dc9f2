"""Consumer Lambda: Kinesis -> validate -> DynamoDB (history + LATEST), poison -> quarantine queue.

Settings: ``TABLE_NAME``, ``QUARANTINE_QUEUE_URL``, ``HISTORY_TTL_DAYS`` (default 30, 0 disables);
boto3 honours ``AWS_ENDPOINT_URL``. Returns ``{"batchItemFailures": [...]}`` (ReportBatchItemFailures).

``lambda_handler`` is what Lambda calls. ``make_handler(on_stats=..., clients=...)`` makes the same
handler with a hook that receives each batch's ``BatchStats`` (the local stack and the bench count
with it) and, for tests and the soak, the clients to use instead of boto3's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.batch import process_partial_response

from consumer.processor import QuoteBatchProcessor
from consumer.settings import ConsumerSettings, SettingsError
from consumer.stats import BatchStats, StatsHook
from cryptostream_runtime.clients import ClientOptions
from cryptostream_runtime.clients import clients as boto3_clients

logger = Logger(service=os.getenv("POWERTOOLS_SERVICE_NAME") or "cryptostream-consumer")
# The consumer's modules log through the standard library: give them the same structured JSON output.
copy_config_to_registered_loggers(source_logger=logger, include={"consumer"})
# Few botocore retries: the consumer retries throttling itself with backoff bounded by the
# invocation's remaining time, and counts every request it makes.
CLIENT_OPTIONS = ClientOptions(max_attempts=2, connect_timeout=3, read_timeout=10, tcp_keepalive=True)


def _refuse_bad_settings_at_init() -> None:
    """Deployed (Lambda sets AWS_LAMBDA_FUNCTION_NAME), a bad setting fails the cold start with one line
    naming it, rather than every batch after Kinesis delivered it. In-process (the local stack, tests)
    the environment is set after import, so the handler reads it per invocation as well."""
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    try:
        ConsumerSettings.from_env()
    except SettingsError as exc:
        logger.error("bad configuration", extra={"error": str(exc)})
        raise


_refuse_bad_settings_at_init()

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
ClientSource = Callable[[str], Any]  # service name -> boto3 client (or a stand-in)

# No metric series (each costs $0.30 a month, and no alarm reads one of the consumer's): every count of a
# batch (records, written, failed, duplicates, quarantined, stale LATEST skips, retries, requests, ingest lag)
# is in its "batch consumed" log line, which the dashboard charts with Logs Insights (docs/cost.md). Its
# alarms read AWS's own metrics: the stream's iterator age, the function's Errors, the queues' depth.


def make_handler(*, on_stats: StatsHook | None = None, clients: ClientSource | None = None) -> Handler:
    """The consumer's handler; ``on_stats`` gets each batch's stats, ``clients`` replaces boto3's clients."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        settings = ConsumerSettings.from_env()
        # The local stack invokes in-process and may change the level between invocations.
        level = os.getenv("POWERTOOLS_LOG_LEVEL") or "INFO"
        logger.setLevel(level)
        logging.getLogger("consumer").setLevel(level)
        if context is not None:
            logger.append_keys(function_request_id=getattr(context, "aws_request_id", None))
        client = (
            clients or boto3_clients(CLIENT_OPTIONS, endpoint_url=settings.endpoint_url, region=settings.region).client
        )
        processor = QuoteBatchProcessor(settings, dynamodb=client("dynamodb"), sqs=client("sqs"))
        response = process_partial_response(
            event=event, record_handler=processor.record_handler, processor=processor, context=context
        )
        _publish(processor.stats)
        if on_stats is not None:
            on_stats(processor.stats)
        return response

    return handler


def _publish(stats: BatchStats) -> None:
    logger.info("batch consumed", extra={"stats": stats.as_dict()})
    if stats.quarantined:
        logger.warning("poison records quarantined", extra={"reasons": dict(stats.quarantined_by_reason)})
    if stats.failed:
        logger.warning(
            "records left for Lambda to retry",
            extra={"failed": stats.failed, "from_sequence_number": stats.first_failed_sequence_number},
        )


lambda_handler = make_handler()
