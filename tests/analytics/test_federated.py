"""Federated path: the serving table (DynamoDB, here moto's mock_aws) joined with the archive on DuckDB."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from analytics import run_query
from analytics.named_queries import QueryError
from consumer.items import bar_item, latest_item
from cryptostream_model.intervals import INTERVALS
from cryptostream_model.keys import LATEST_INDEX_NAME, LATEST_INDEX_PK
from cryptostream_model.record import quote_from_dict
from tests.analytics import reference
from tests.fixtures.archive.builder import FixtureArchive

TABLE = "cryptostream-quotes"


def create_serving_table(client: Any) -> None:
    """As the stack creates it: pk/sk plus the sparse latest-by-interval index."""
    client.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", LATEST_INDEX_PK)],
        GlobalSecondaryIndexes=[{
            "IndexName": LATEST_INDEX_NAME,
            "KeySchema": [{"AttributeName": LATEST_INDEX_PK, "KeyType": "HASH"},
                          {"AttributeName": "pk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
    )


def put_quote(client: Any, row: dict[str, Any], latest: bool = True) -> None:
    body = {k: v for k, v in row.items() if v is not None}
    body.update({k: str(body[k]) for k in ("open", "high", "low", "close", "volume", "bid", "ask") if k in body})
    quote = quote_from_dict(body)
    bar = bar_item(quote, quote.pk, "2026-11-22T06:00:00.000Z", 30)
    client.put_item(TableName=TABLE, Item=bar)
    if latest:
        client.put_item(TableName=TABLE, Item=latest_item(bar))


@pytest.fixture
def serving(monkeypatch: pytest.MonkeyPatch, fixture_archive: FixtureArchive) -> Iterator[dict[tuple, dict]]:
    """The serving table holding, per pair and interval, the newest archived bar as LATEST (SOL-USD 5min one
    bar ahead of the archive, ETH-USD spot missing from it), plus some history items."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_serving_table(client)
        latest: dict[tuple, dict] = {}
        for row in reference.deduped(fixture_archive.rows):
            key = (row["symbol"], row["market"], row["interval"])
            if row["interval"] in INTERVALS and (key not in latest or row["ts"] > latest[key]["ts"]):
                latest[key] = row
        ahead = dict(latest[("SOL", "USD", "5min")], ts="2026-11-22T01:05:00Z")
        latest[("SOL", "USD", "5min")] = ahead
        latest[("ETH", "USD", "spot")] = dict(latest[("ETH", "USD", "spot")], ts="2026-11-22T05:00:17Z")
        for row in list(reference.deduped(fixture_archive.rows))[:40]:
            if row["interval"] in INTERVALS:
                put_quote(client, row, latest=False)
        for row in latest.values():
            put_quote(client, row)
        yield latest


def test_latest_reads_every_latest_item_without_a_scan(serving: dict[tuple, dict]) -> None:
    rows = run_query("latest", {})
    assert [(r["symbol"], r["market"], r["interval"]) for r in rows] == sorted(serving)
    for row in rows:
        want = serving[(row["symbol"], row["market"], row["interval"])]
        fields = ("ts", "close", "bid", "ask")
        assert [row[f] for f in fields] == [want[f] for f in fields]
        if want["bid"] is not None:
            mid = (want["ask"] + want["bid"]) / 2
            assert row["spread_bps"] == pytest.approx((want["ask"] - want["bid"]) / mid * 1e4)
        else:
            assert row["spread_bps"] is None


def test_latest_filters_by_pair_and_interval(serving: dict[tuple, dict]) -> None:
    rows = run_query("latest", {"pair": "eth-usd", "quote_interval": "spot"})
    assert [(r["symbol"], r["interval"]) for r in rows] == [("ETH", "spot")]


def test_serving_vs_archive_joins_dynamodb_with_the_archive(serving: dict[tuple, dict],
                                                             fixture_archive: FixtureArchive) -> None:
    rows = run_query("serving_vs_archive", {}, str(fixture_archive.root))
    archived = {}
    for row in reference.deduped(fixture_archive.rows):
        key = (row["symbol"], row["market"], row["interval"])
        if key not in archived or row["ts"] > archived[key]["ts"]:
            archived[key] = row
    assert len(rows) == len(serving)
    for row in rows:
        key = (row["symbol"], row["market"], row["interval"])
        served, stored = serving[key], archived[key]
        assert row["served_ts"] == reference.ts_of(served) and row["archived_ts"] == reference.ts_of(stored)
        assert row["archive_lag_seconds"] == (reference.ts_of(served) - reference.ts_of(stored)).total_seconds()
        assert row["in_sync"] == (served["ts"] == stored["ts"] and served["close"] == stored["close"])
    out_of_sync = {(r["symbol"], r["interval"]) for r in rows if not r["in_sync"]}
    assert out_of_sync == {("SOL", "5min"), ("ETH", "spot")}
    assert {r["archive_lag_seconds"] for r in rows if r["symbol"] == "SOL"} == {300}


def test_missing_serving_table_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(), pytest.raises(QueryError, match="cannot read DynamoDB table cryptostream-quotes"):
        run_query("latest", {})



def test_without_the_latest_index_each_configured_pair_is_queried(monkeypatch: pytest.MonkeyPatch,
                                                                 fixture_archive: FixtureArchive) -> None:
    """A table created without the sparse index still answers: one Query per configured pair and interval."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
        )
        newest = {}
        for row in reference.deduped(fixture_archive.rows):
            if row["interval"] == "5min":
                newest[row["symbol"]] = row
        for row in newest.values():
            put_quote(client, row)
        rows = run_query("latest", {"quote_interval": "5min"})
    assert [(r["symbol"], r["ts"]) for r in rows] == [(s, newest[s]["ts"]) for s in sorted(newest)]
