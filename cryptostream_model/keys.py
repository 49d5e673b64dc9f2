"""DynamoDB key design (public contract: change only with a schema version bump).

- ``pk`` = ``SYMBOL-MARKET#INTERVAL`` (``BTC-USD#5min``), ``sk`` = the bar's ``ts`` (ISO-8601 UTC, ``Z``).
- ``sk`` = ``LATEST`` holds a copy of the newest bar of its ``pk``; it also carries ``latest_interval``
  so the sparse GSI ``latest-by-interval`` lists every pair's latest quote without a Scan.
- ``sk`` = ``WATERMARK`` holds the producer's watermark for the (pair, interval).
- ``pk`` = ``PRODUCER#SOURCE#INTERVAL``, ``sk`` = ``LEASE`` holds the producer's run lease of one source and
  interval, so overlapping scheduled runs cannot publish twice.
- ``pk`` = ``PRODUCER#<source>``, ``sk`` = ``BUDGET#<UTC day>`` holds the producer's count of one market-data
  source's requests that day (its daily request budget, e.g. Alpha Vantage's free 25); it expires by TTL.

Letters sort after digits, so a bar range query ``sk BETWEEN start AND end`` never returns these items.
"""

LATEST_SK = "LATEST"
WATERMARK_SK = "WATERMARK"
LEASE_SK = "LEASE"
BUDGET_SK_PREFIX = "BUDGET#"
LATEST_INDEX_NAME = "latest-by-interval"
LATEST_INDEX_PK = "latest_interval"
TTL_ATTRIBUTE = "expires_at"
# How a producer run saves its watermarks (WATERMARK_WRITES; cdk.json producer_watermark_writes):
# one conditional UpdateItem per pair, or conditional TransactWriteItems of up to 100 pairs.
WATERMARK_PER_PAIR, WATERMARK_TRANSACTION = "per_pair", "transaction"
WATERMARK_WRITE_MODES = (WATERMARK_PER_PAIR, WATERMARK_TRANSACTION)


def table_pk(pair: str, interval: str) -> str:
    """``BTC-USD`` + ``5min`` -> ``BTC-USD#5min``."""
    return f"{pair}#{interval}"


def latest_index_pk(interval: str) -> str:
    """Partition value of the latest-quotes index for one interval."""
    return interval


def budget_key(source: str, day: str) -> tuple[str, str]:
    """``alphavantage`` + ``2026-12-02`` -> (``PRODUCER#alphavantage``, ``BUDGET#2026-12-02``)."""
    return f"PRODUCER#{source}", f"{BUDGET_SK_PREFIX}{day}"


def lease_pk(interval: str, source: str = "alphavantage") -> str:
    """Run-lease item for the producer's runs of one source and interval."""
    return f"PRODUCER#{source}#{interval}"
