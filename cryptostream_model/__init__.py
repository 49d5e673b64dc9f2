"""The shared model of cryptostream: the stream record, the table keys and the archive layout.

This package is the public contract between the producer, the consumer, the archive and the
analytics. Both Lambdas ship it (through the layer built from ``layers/``); it imports nothing
but the standard library so it adds nothing to a cold start.
"""

from cryptostream_model.archive import ARCHIVE_COLUMNS, ARCHIVE_PREFIX, archive_partition_prefix
from cryptostream_model.intervals import INTERVALS, INTRADAY_INTERVALS, interval_seconds
from cryptostream_model.keys import LATEST_SK, WATERMARK_SK, latest_index_pk, table_pk
from cryptostream_model.record import SCHEMA_VERSION, PoisonRecord, Quote, parse_pair, parse_record

__all__ = [
    "ARCHIVE_COLUMNS",
    "ARCHIVE_PREFIX",
    "INTERVALS",
    "INTRADAY_INTERVALS",
    "LATEST_SK",
    "SCHEMA_VERSION",
    "WATERMARK_SK",
    "PoisonRecord",
    "Quote",
    "archive_partition_prefix",
    "interval_seconds",
    "latest_index_pk",
    "parse_pair",
    "parse_record",
    "table_pk",
]
