"""Read paths of the serving table, shared by the CLI (``quote``, ``bars``) and the analytics.

Pure low-level client code: pass a boto3 DynamoDB client (this module imports no AWS SDK, so the
Lambda layer and the local stack can both use it). Numbers come back as Decimal, exactly as stored.
Access patterns and their costs: docs/serving.md.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from cryptostream_model.intervals import INTERVALS
from cryptostream_model.keys import LATEST_INDEX_NAME, LATEST_INDEX_PK, LATEST_SK, latest_index_pk, table_pk
from cryptostream_model.record import format_ts, parse_pair, parse_ts


def from_attribute_value(value: dict[str, Any]) -> Any:
    """One DynamoDB attribute value (``{"N": "1.5"}``) as plain Python (``Decimal("1.5")``)."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return raw
    if kind == "N":
        return Decimal(raw)
    if kind == "BOOL":
        return raw
    if kind == "NULL":
        return None
    if kind == "M":
        return from_item(raw)
    if kind == "L":
        return [from_attribute_value(element) for element in raw]
    if kind == "SS":
        return set(raw)
    if kind == "NS":
        return {Decimal(number) for number in raw}
    if kind in ("B", "BS"):
        return raw if kind == "B" else set(raw)
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def from_item(item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {name: from_attribute_value(value) for name, value in item.items()}


def _pk(pair: str, interval: str) -> str:
    symbol, market = parse_pair(pair)
    if interval not in INTERVALS:
        raise ValueError(f"unknown interval {interval!r}; expected one of {', '.join(INTERVALS)}")
    return table_pk(f"{symbol}-{market}", interval)


def _bound(name: str, value: str | datetime) -> str:
    if isinstance(value, datetime):
        return format_ts(value)
    try:
        parse_ts(value)
    except (ValueError, TypeError):
        raise ValueError(f"invalid {name} {value!r}: expected an ISO-8601 UTC time like 2026-11-22T09:05:00Z") from None
    return value


def get_latest(client: Any, table: str, pair: str, interval: str, *, consistent: bool = False) -> dict[str, Any] | None:
    """The newest bar of a pair at an interval: one GetItem on ``sk = LATEST``; None if there is none."""
    response = client.get_item(
        TableName=table,
        Key={"pk": {"S": _pk(pair, interval)}, "sk": {"S": LATEST_SK}},
        ConsistentRead=consistent,
    )
    item = response.get("Item")
    return from_item(item) if item else None


def query_bars(
    client: Any,
    table: str,
    pair: str,
    interval: str,
    start: str | datetime,
    end: str | datetime,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Bars of a pair and interval with ``start <= ts <= end``, oldest first: one Query per 1 MB page
    on ``pk = :pk AND sk BETWEEN :start AND :end`` (LATEST and other letter keys sort after every time)."""
    start, end = _bound("start", start), _bound("end", end)
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :start AND :end",
        "ExpressionAttributeValues": {":pk": {"S": _pk(pair, interval)}, ":start": {"S": start}, ":end": {"S": end}},
    }
    bars: list[dict[str, Any]] = []
    while True:
        if limit is not None:
            request["Limit"] = limit - len(bars)
        page = client.query(**request)
        bars += (from_item(item) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page or (limit is not None and len(bars) >= limit):
            return bars
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def list_latest(client: Any, table: str, interval: str) -> list[dict[str, Any]]:
    """The latest quote of every pair at an interval, ordered by pk, without a Scan: a Query on the
    sparse GSI ``latest-by-interval`` (only LATEST items carry its key)."""
    if interval not in INTERVALS:
        raise ValueError(f"unknown interval {interval!r}; expected one of {', '.join(INTERVALS)}")
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": LATEST_INDEX_NAME,
        "KeyConditionExpression": "#index_pk = :interval",
        "ExpressionAttributeNames": {"#index_pk": LATEST_INDEX_PK},
        "ExpressionAttributeValues": {":interval": {"S": latest_index_pk(interval)}},
    }
    latest: list[dict[str, Any]] = []
    while True:
        page = client.query(**request)
        latest += (from_item(item) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return latest
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
