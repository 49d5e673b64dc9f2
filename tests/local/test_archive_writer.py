"""The archive's one writer: the Glue table's columns, naive UTC timestamps, SNAPPY, Firehose's key layout; the
named queries read what the local archiver writes through it."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq

from analytics import run_query
from cryptostream_model.archive import ARCHIVE_COLUMNS
from local.archive_writer import ARCHIVE_SCHEMA, archive_row, parquet_bytes, write_archive_objects
from local.archiver import NotArchivable, to_archive_row
from tests.analytics import reference
from tests.analytics.test_queries import assert_rows_equal
from tests.fixtures.archive.builder import build_rows

RECORD = {
    "symbol": "BTC", "market": "USD", "interval": "5min", "ts": "2026-11-21T23:55:00Z", "open": "100",
    "high": "101", "low": "99", "close": "100.5", "volume": 3, "fetched_at": "2026-11-22T00:01:00Z",
}  # fmt: skip


def test_columns_are_the_glue_tables_with_naive_utc_timestamps_and_snappy() -> None:
    parquet = pq.ParquetFile(io.BytesIO(parquet_bytes([RECORD])))
    assert parquet.schema_arrow == ARCHIVE_SCHEMA
    assert parquet.schema_arrow.names == [name for name, _ in ARCHIVE_COLUMNS]
    for name in ("ts", "fetched_at"):
        column = parquet.schema.column(parquet.schema_arrow.names.index(name))
        assert json.loads(column.logical_type.to_json())["isAdjustedToUTC"] is False  # Athena's zone-less timestamp
    row_group = parquet.metadata.row_group(0)
    assert {row_group.column(i).compression for i in range(row_group.num_columns)} == {"SNAPPY"}
    row = parquet.read().to_pylist()[0]
    assert (row["v"], row["close"], row["volume"], row["bid"]) == (1, 100.5, 3.0, None)
    assert row["ts"] == datetime(2026, 11, 21, 23, 55)


def test_every_form_of_a_moment_is_the_same_utc_value() -> None:
    moment = datetime(2026, 11, 21, 22, 30)
    for value in ("2026-11-21T22:30:00Z", "2026-11-22T00:30:00+02:00", moment, moment.replace(tzinfo=UTC),
                  datetime(2026, 11, 21, 17, 30, tzinfo=timezone(timedelta(hours=-5)))):
        assert archive_row({**RECORD, "ts": value})["ts"] == moment, value
    assert archive_row(archive_row(RECORD)) == archive_row(RECORD)  # an archive row passes through


def test_objects_land_in_the_partition_of_the_bars_utc_day(tmp_path: Path) -> None:
    late = {**RECORD, "ts": "2026-11-22T01:00:00+02:00"}  # 23:00 UTC the day before
    written = write_archive_objects([RECORD, late, {**RECORD, "symbol": "ETH"}], str(tmp_path), object_name="o")
    assert [Path(p).relative_to(tmp_path).as_posix() for p in written] == [
        "quotes/symbol=BTC/market=USD/dt=2026-11-21/o.parquet",
        "quotes/symbol=ETH/market=USD/dt=2026-11-21/o.parquet",
    ]
    assert pq.read_table(written[0]).num_rows == 2


def test_queries_read_what_the_local_archiver_writes(tmp_path: Path) -> None:
    first, redelivered, poison = build_rows()
    rows = first + redelivered + poison
    partitions: dict[str, list[dict]] = defaultdict(list)
    rejected = 0
    for record in rows:
        payload = json.dumps({k: v for k, v in record.items() if v is not None}).encode()
        try:
            prefix, row = to_archive_row(payload)
        except NotArchivable:  # the transformation keeps poison out of the archive
            rejected += 1
            continue
        partitions[prefix].append(row)
    assert rejected == sum(1 for row in rows if not reference.valid(row) or row["interval"] == "7min")
    for prefix, members in partitions.items():
        (tmp_path / prefix).mkdir(parents=True)
        (tmp_path / prefix / "o.parquet").write_bytes(parquet_bytes(members))
    assert_rows_equal(run_query("vwap_1d", {}, str(tmp_path)), reference.vwap_1d(rows))
    assert_rows_equal(run_query("rollup_1h", {}, str(tmp_path)), reference.rollup(rows, "hour"))
