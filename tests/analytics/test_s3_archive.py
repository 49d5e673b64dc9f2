"""The archive on S3 (moto's server, as the local stack runs it): DuckDB reads it through httpfs, rollups write
beside it, and the watermark survives between runs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pyarrow.fs as pafs
import pytest
from moto.server import ThreadedMotoServer

from analytics import run_query
from analytics.engine import connect, fetch_dicts, register_rollup
from analytics.location import resolve_archive
from analytics.named_queries import QueryError
from analytics.rollups import run_rollups
from local.archive_writer import write_archive_objects
from tests.analytics import reference
from tests.analytics.test_queries import assert_rows_equal
from tests.analytics.test_rollups import new_bars
from tests.fixtures.archive.builder import build_rows

BUCKET = "cryptostream-archive"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_archive(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict]]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET)
    location = resolve_archive(None, endpoint)
    first, redelivered, poison = build_rows()
    write_archive_objects(first, BUCKET, filesystem=location.filesystem, object_name="a")
    write_archive_objects(redelivered, BUCKET, filesystem=location.filesystem, object_name="b")
    write_archive_objects(poison, BUCKET, filesystem=location.filesystem, object_name="c")
    yield first + redelivered + poison
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
    s3.delete_bucket(Bucket=BUCKET)


def test_queries_read_the_stack_bucket_by_default(s3_archive: list[dict]) -> None:
    assert_rows_equal(run_query("vwap_1d", {}), reference.vwap_1d(s3_archive))
    assert_rows_equal(run_query("rollup_1d", {}, f"s3://{BUCKET}/quotes/"), reference.rollup(s3_archive, "day"))


def test_incremental_rollups_on_s3(s3_archive: list[dict], endpoint: str) -> None:
    first = run_rollups()
    assert [r.partitions_rebuilt for r in first] == [6, 6]
    assert [r.new_objects for r in run_rollups()] == [0, 0]
    location = resolve_archive(None, endpoint)
    added = new_bars(datetime(2026, 11, 23, tzinfo=UTC), "SOL")
    write_archive_objects(added, BUCKET, filesystem=location.filesystem, object_name="c")
    assert [r.partitions_rebuilt for r in run_rollups()] == [1, 1]
    con = connect(location.s3)
    register_rollup(con, "rollup_1h", location.rollups_root)
    rows = fetch_dicts(con, "SELECT symbol, market, bucket, open, high, low, close, volume, bars FROM rollup_1h "
                            "ORDER BY symbol, market, bucket")
    assert_rows_equal(rows, reference.rollup(s3_archive + added, "hour"))
    marks = location.filesystem.get_file_info(pafs.FileSelector(f"{BUCKET}/rollups", recursive=True))
    assert sum(m.path.endswith("_watermark.json") for m in marks) == 2


def test_missing_bucket_is_a_one_line_error(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(QueryError, match="archive bucket not found: s3://nobucket"):
        run_query("vwap_1d", {}, "s3://nobucket/quotes")


def test_unreachable_endpoint_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(QueryError) as error:
        run_query("vwap_1d", {})
    assert "cannot reach the archive" in str(error.value) and "\n" not in str(error.value)


def test_compaction_on_s3_leaves_one_object_per_partition_with_every_row(s3_archive: list[dict], endpoint: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Against S3 the sources go in DeleteObjects batches (one request per 1,000 keys), not one DELETE each."""
    from datetime import date

    from analytics.compaction import compact

    s3 = boto3.client("s3", endpoint_url=endpoint)

    def keys() -> list[str]:
        return [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="quotes/")
                for o in page.get("Contents", []) if not o["Key"].endswith("/")]  # not the folder markers

    before = keys()
    vwap, quality = run_query("vwap_1d", {}), run_query("data_quality", {"as_of": "2026-11-23 00:00:00"})
    monkeypatch.setattr("analytics.location.S3_DELETE_BATCH", 2)
    report = compact(None, endpoint=endpoint, before=date(2030, 1, 1))
    after = keys()
    partitions = {k.rsplit("/", 1)[0] for k in before}
    assert len(after) == len(partitions) and report.objects_read == report.objects_deleted
    folders = [k.rsplit("/", 1)[0] for k in before]
    assert report.objects_read == sum(1 for folder in folders if folders.count(folder) > 1)
    assert_rows_equal(run_query("vwap_1d", {}), vwap)
    assert run_query("data_quality", {"as_of": "2026-11-23 00:00:00"}) == quality  # raw rows, duplicates, poison
