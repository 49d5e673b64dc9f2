"""The serving-table side of federated queries: DynamoDB ``LATEST`` items loaded by Query into DuckDB.

Athena reaches the table through the DynamoDB connector; locally the same rows come from a Query on the
sparse ``latest-by-interval`` index (one Query per interval, never a Scan) and land in a DuckDB table
named ``serving`` with the connector's columns. Only ``sk = 'LATEST'`` items are loaded, so queries on
``serving`` filter on that (the named queries do).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError

from analytics.named_queries import QueryError
from cryptostream_model.intervals import INTERVALS
from cryptostream_model.keys import LATEST_INDEX_NAME, LATEST_INDEX_PK, LATEST_SK, latest_index_pk, table_pk

SERVING_SCHEMA = pa.schema([
    ("pk", pa.string()), ("sk", pa.string()), ("symbol", pa.string()), ("market", pa.string()),
    ("interval", pa.string()), ("ts", pa.string()),
    ("open", pa.float64()), ("high", pa.float64()), ("low", pa.float64()), ("close", pa.float64()),
    ("volume", pa.float64()), ("bid", pa.float64()), ("ask", pa.float64()),
    ("fetched_at", pa.string()), ("latest_interval", pa.string()), ("expires_at", pa.int64()),
])


class ServingError(QueryError):
    """The serving table cannot be read (one line for the user)."""


def _plain(value: Any) -> Any:
    # DynamoDB numbers arrive as Decimal; the connector hands them to Athena as numbers.
    return float(value) if isinstance(value, Decimal) else value


def _index_missing(exc: ClientError) -> bool:
    # DynamoDB answers ValidationException for an unknown index; moto (and some emulators) ResourceNotFound.
    error = exc.response["Error"]
    return error["Code"] in ("ValidationException", "ResourceNotFoundException") and "index" in str(
        error.get("Message", "")).lower()


def _query_pages(table: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    while True:
        page = table.query(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def latest_items(table_name: str, endpoint_url: str | None, pairs: tuple[str, ...] = (),
                 region: str = "us-east-1") -> list[dict[str, Any]]:
    """Every LATEST item, by Query on the latest-by-interval index (falls back to one Query per pair and
    interval if the index is missing or projects keys only)."""
    import boto3
    from boto3.dynamodb.conditions import Key

    table = boto3.resource("dynamodb", endpoint_url=endpoint_url, region_name=region).Table(table_name)
    try:
        items: list[dict[str, Any]] = []
        try:
            for interval in INTERVALS:
                condition = Key(LATEST_INDEX_PK).eq(latest_index_pk(interval))
                items.extend(_query_pages(table, IndexName=LATEST_INDEX_NAME, KeyConditionExpression=condition))
            if all("close" in item for item in items):
                return items
        except ClientError as exc:
            if not _index_missing(exc):
                raise
        items = []
        for pair in pairs:
            for interval in INTERVALS:
                condition = Key("pk").eq(table_pk(pair, interval)) & Key("sk").eq(LATEST_SK)
                items.extend(_query_pages(table, KeyConditionExpression=condition))
        return items
    except ClientError as exc:
        error = exc.response["Error"]
        message = f"{error['Code']}: {error.get('Message', '')}"
        raise ServingError(f"cannot read DynamoDB table {table_name}: {message}") from None
    except BotoCoreError as exc:
        raise ServingError(f"cannot reach DynamoDB table {table_name}: {exc}") from None


def register_serving(con: duckdb.DuckDBPyConnection, items: list[dict[str, Any]]) -> int:
    """Load items into the DuckDB table ``serving`` with the connector's columns; returns the row count."""
    rows = {name: [_plain(item.get(name)) for item in items] for name in SERVING_SCHEMA.names}
    rows["expires_at"] = [int(v) if v is not None else None for v in rows["expires_at"]]
    arrow = pa.table(rows, schema=SERVING_SCHEMA)
    con.register("serving_items", arrow)
    con.execute("CREATE OR REPLACE TABLE serving AS SELECT * FROM serving_items")
    con.unregister("serving_items")
    return arrow.num_rows
