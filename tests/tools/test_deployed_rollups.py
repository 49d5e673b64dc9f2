"""The deployed rollups proof's own logic: the emulator's archive keys, the local recompute, the comparison."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from local.archive_writer import parquet_bytes
from tools.deployed.rollups import (
    RollupsProof,
    cloud_rows,
    compare,
    download_archive,
    emulator_keys,
    local_rows,
    move_to_aws_keys,
    object_versions,
)

BUCKET = "proof-archive"
DAY = "quotes/symbol=BTC/market=USD/dt=2026-12-01/"


def _bars(hour: int, closes: list[float]) -> bytes:
    return parquet_bytes([
        {"symbol": "BTC", "market": "USD", "interval": "5min", "ts": f"2026-12-01T{hour:02d}:{5 * i:02d}:00Z",
         "open": c, "high": c + 1, "low": c - 1, "close": c, "volume": 2.5, "fetched_at": "2026-12-01T12:00:00Z"}
        for i, c in enumerate(closes)
    ])  # fmt: skip


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def test_emulator_time_folders_are_moved_to_the_aws_key_and_others_left(s3) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{DAY}2026/12/01/10/cryptostream-archive-1-a.parquet", Body=b"a")
    s3.put_object(Bucket=BUCKET, Key=f"{DAY}cryptostream-archive-1-b.parquet", Body=b"b")
    s3.put_object(Bucket=BUCKET, Key=f"{DAY}2026/12/01/11/cryptostream-archive-1-c.parquet", Body=b"c")
    assert emulator_keys(s3, BUCKET) == [f"{DAY}2026/12/01/10/cryptostream-archive-1-a.parquet",
                                         f"{DAY}2026/12/01/11/cryptostream-archive-1-c.parquet"]
    assert move_to_aws_keys(s3, BUCKET, [f"{DAY}2026/12/01/11/cryptostream-archive-1-c.parquet"]) == 1  # some
    assert move_to_aws_keys(s3, BUCKET) == 1  # the rest
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == [f"{DAY}cryptostream-archive-1-{n}.parquet" for n in "abc"]


def test_the_local_recompute_reads_the_downloaded_archive_as_the_cloud_stores_rows(s3, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{DAY}a.parquet", Body=_bars(10, [100.0, 101.0, 99.5]))
    s3.put_object(Bucket=BUCKET, Key=f"{DAY}b.parquet", Body=_bars(11, [102.0]))
    assert download_archive(s3, BUCKET, tmp_path) == 2
    local = local_rows(tmp_path, "5min")
    assert local["rollup_1h"] == [
        ("BTC", "USD", "2026-12-01 10:00:00.000", 100.0, 102.0, 98.5, 99.5, 7.5, 3),
        ("BTC", "USD", "2026-12-01 11:00:00.000", 102.0, 103.0, 101.0, 102.0, 2.5, 1),
    ]
    assert local["rollup_1d"] == [("BTC", "USD", "2026-12-01 00:00:00.000", 100.0, 103.0, 98.5, 102.0, 10.0, 4)]
    # The same rows as JSON lines in the emulator compare equal; one changed bit does not.
    lines = [dict(zip(("symbol", "market", "bucket", "open", "high", "low", "close", "volume", "bars"), row,
                      strict=True)) for row in local["rollup_1h"]]  # fmt: skip
    key = "rollups/rollup_1h/symbol=BTC/market=USD/month=2026-12/part-0.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body="".join(json.dumps(line) + "\n" for line in lines).encode())
    cloud = cloud_rows(s3, BUCKET, "rollup_1h")
    assert compare("rollup_1h", cloud, local["rollup_1h"]) == []
    off = [(*cloud[0][:7], cloud[0][7] + 1e-12, cloud[0][8]), *cloud[1:]]
    (difference,) = compare("rollup_1h", off, local["rollup_1h"])
    assert difference.startswith("rollup_1h: 2 rows in the emulator, 2 in the local recompute, 1 only in the emulator")


def test_a_rewrite_of_the_same_bytes_is_still_a_write(s3) -> None:
    key = "rollups/rollup_1d/_watermark.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")
    before = object_versions(s3, BUCKET, "rollups/")
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")
    assert len(object_versions(s3, BUCKET, "rollups/") - before) == 1


def test_the_summary_line() -> None:
    proof = RollupsProof(rows={"rollup_1h": 6, "rollup_1d": 3}, sources=["full_listing", "change_log", "change_log"],
                         logged=4, outside_layout=9)
    assert proof.line == ("rollups: 6 hourly rows, 3 daily rows equal the local recompute; planned from full_listing "
                          "then change_log then change_log (4 objects from the change log, 9 notifications outside "
                          "the archive layout deleted); rerun wrote 0 objects")
    proof.differences.append("x")
    assert "DIFFER from the local recompute" in proof.line
