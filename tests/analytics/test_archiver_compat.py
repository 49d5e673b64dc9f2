"""The local stack's archiver output (its schema, its key layout) reads the same as the fixture writer's."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics import run_query
from tests.analytics import reference
from tests.analytics.test_queries import assert_rows_equal
from tests.fixtures.archive.builder import build_rows

archiver = pytest.importorskip("local.archiver")


def test_queries_read_what_the_local_archiver_writes(tmp_path: Path) -> None:
    first, redelivered, poison = build_rows()
    rows = first + redelivered + poison
    partitions: dict[str, list[dict]] = defaultdict(list)
    rejected = 0
    for record in rows:
        payload = json.dumps({k: v for k, v in record.items() if v is not None}).encode()
        try:
            prefix, row = archiver.to_archive_row(payload)
        except archiver.NotArchivable:  # the transformation keeps poison out of the archive
            rejected += 1
            continue
        partitions[prefix].append(row)
    assert rejected == sum(1 for row in rows if not reference.valid(row) or row["interval"] == "7min")
    for prefix, members in partitions.items():
        (tmp_path / prefix).mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(members, schema=archiver.ARCHIVE_SCHEMA), tmp_path / prefix / "o.parquet")
    assert_rows_equal(run_query("vwap_1d", {}, str(tmp_path)), reference.vwap_1d(rows))
    assert_rows_equal(run_query("rollup_1h", {}, str(tmp_path)), reference.rollup(rows, "hour"))
