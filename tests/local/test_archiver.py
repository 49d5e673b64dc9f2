"""The local archiver writes what Firehose would, where Firehose would."""

from __future__ import annotations

import io
import json

import boto3
import pyarrow.parquet as pq

from cryptostream_model.archive import ARCHIVE_COLUMNS
from local.archive_writer import ARCHIVE_SCHEMA
from local.archiver import LocalArchiver
from local.checkpoints import CheckpointStore
from tests.local.conftest import put, reader

BUCKET = "cryptostream-archive"


def quote(symbol: str, ts: str, close: str = "100.5") -> bytes:
    return json.dumps(
        {
            "v": 1,
            "source": "alphavantage",
            "symbol": symbol,
            "market": "USD",
            "interval": "1min",
            "ts": ts,
            "open": "100",
            "high": "101",
            "low": "99",
            "close": close,
            "volume": 3,
            "fetched_at": "2026-11-22T10:00:00Z",
        }
    ).encode()


def keys(s3) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_partitions_by_pair_and_utc_date_and_converts_to_parquet(stream):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    put(
        stream,
        [
            quote("BTC", "2026-11-21T23:59:00Z"),
            quote("BTC", "2026-11-22T00:00:00Z"),
            quote("ETH", "2026-11-22T00:00:00Z"),
            b"{broken",
            quote("ETH", "2026-11-22T00:01:00Z", close="500"),  # valid JSON, but close above high
        ],
    )
    archiver = LocalArchiver(reader(stream, name="firehose"), s3, BUCKET, buffer_seconds=3600)
    assert archiver.poll() == 0  # buffered, not yet due
    assert archiver.poll(flush=True) == 5
    written = keys(s3)
    prefixes = sorted(k.rsplit("/", 1)[0] for k in written)
    assert prefixes == [
        "errors/processing-failed/dt=" + written[0].split("dt=")[1].split("/")[0],
        "quotes/symbol=BTC/market=USD/dt=2026-11-21",
        "quotes/symbol=BTC/market=USD/dt=2026-11-22",
        "quotes/symbol=ETH/market=USD/dt=2026-11-22",
    ]
    body = s3.get_object(Bucket=BUCKET, Key=[k for k in written if "ETH" in k][0])["Body"].read()
    table = pq.read_table(io.BytesIO(body))
    assert table.schema.names == [name for name, _ in ARCHIVE_COLUMNS]
    assert table.schema == ARCHIVE_SCHEMA
    row = table.to_pylist()[0]
    assert row["close"] == 100.5 and row["volume"] == 3.0 and row["bid"] is None
    assert row["ts"].isoformat() == "2026-11-22T00:00:00"
    error = json.loads(s3.get_object(Bucket=BUCKET, Key=written[0])["Body"].read().decode().splitlines()[0])
    assert error["errorCode"] == "Lambda.ProcessingFailed"
    assert archiver.stats.archived == 3 and archiver.stats.errors == 2  # broken JSON, close above high


def test_flush_is_checkpointed_and_retried_flush_overwrites(stream, tmp_path):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    put(stream, [quote("BTC", f"2026-11-22T00:0{i}:00Z") for i in range(5)])
    checkpoints = CheckpointStore(tmp_path / "cp.json")
    LocalArchiver(reader(stream, checkpoints, "firehose"), s3, BUCKET).poll(flush=True)
    first = keys(s3)
    # a restarted archiver re-reads nothing: the checkpoint moved with the flush
    again = LocalArchiver(reader(stream, CheckpointStore(tmp_path / "cp.json"), "firehose"), s3, BUCKET)
    assert again.poll(flush=True) == 0
    # a crash before the checkpoint (fresh checkpoints) rewrites the same object names: no duplicates
    LocalArchiver(reader(stream, CheckpointStore(), "firehose"), s3, BUCKET).poll(flush=True)
    assert keys(s3) == first
