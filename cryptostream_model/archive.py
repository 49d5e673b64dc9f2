"""Archive layout on S3, shared by the cloud Firehose, the local archiver, Glue and the analytics.

Objects are Parquet, Hive-partitioned by pair and UTC date of the bar's ``ts``::

    quotes/symbol=BTC/market=USD/dt=2026-11-22/<object>.parquet

``symbol``, ``market`` and ``dt`` are partition columns (in the key, not in the file), exactly as
Firehose dynamic partitioning writes them; the columns below are what every file holds.
"""

ARCHIVE_PREFIX = "quotes/"
ARCHIVE_TABLE = "quotes"  # the Glue (Athena) table and the local DuckDB view over this layout
ERROR_PREFIX = "errors/"

# (name, Glue/Athena type). Prices are double here: the archive is for analytics; the serving
# table keeps the exact decimal values.
ARCHIVE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("v", "int"),
    ("source", "string"),
    ("interval", "string"),
    ("ts", "timestamp"),
    ("open", "double"),
    ("high", "double"),
    ("low", "double"),
    ("close", "double"),
    ("volume", "double"),
    ("bid", "double"),
    ("ask", "double"),
    ("fetched_at", "timestamp"),
)
PARTITION_COLUMNS: tuple[tuple[str, str], ...] = (("symbol", "string"), ("market", "string"), ("dt", "string"))


def archive_partition_prefix(symbol: str, market: str, ts: str) -> str:
    """Key prefix of the partition holding a bar: ``quotes/symbol=BTC/market=USD/dt=2026-11-22/``."""
    return f"{ARCHIVE_PREFIX}symbol={symbol}/market={market}/dt={ts[:10]}/"
