"""Archive compaction: a closed partition's objects become one, every row kept (duplicates and poison included),
every archive query and rollup answers the same, and a run stopped anywhere loses and duplicates nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics import compaction, run_query
from analytics.compaction import COMPACTED_PREFIX, compact
from analytics.location import ArchiveError
from analytics.named_queries import load_query, query_names
from analytics.rollups import run_rollups
from local.archive_writer import ARCHIVE_SCHEMA, write_archive_objects
from tests.analytics.test_queries import assert_rows_equal
from tests.analytics.test_rollups import new_bars, read_rollup
from tests.fixtures.archive.builder import FixtureArchive

LATER = date(2030, 1, 1)  # every fixture day is before it
ARCHIVE_ONLY = [n for n in query_names() if load_query(n).tables == {"quotes"}]
FIXED = {"as_of": "2026-11-23 00:00:00"}  # data_quality's staleness would otherwise move with the clock


def objects(root: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((root / "quotes").rglob("*.parquet")):
        found.setdefault(path.parent.relative_to(root / "quotes").as_posix(), []).append(path.name)
    return found


def rows(root: Path) -> list[str]:
    """Every archive row with its partition, as a multiset (sorted reprs: NaN, which poison carries, equals itself)."""
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    return sorted(map(repr, con.execute(
        f"SELECT * EXCLUDE (filename) FROM read_parquet('{root}/quotes/*/*/*/*.parquet', hive_partitioning = true, "
        "union_by_name = true, filename = true)").fetchall()))


def answers(root: Path) -> dict[str, list[dict]]:
    return {name: run_query(name, FIXED if name == "data_quality" else {"pair": "BTC-USD"} if name == "bars" else {},
                            str(root)) for name in ARCHIVE_ONLY}


def test_the_archive_schema_is_the_one_the_local_archiver_writes() -> None:
    assert compaction.ARCHIVE_ARROW_SCHEMA == ARCHIVE_SCHEMA


def test_one_object_per_partition_with_every_row_and_the_same_answers(fresh_archive: FixtureArchive) -> None:
    root = fresh_archive.root
    before_rows, before_answers = rows(root), answers(root)
    run_rollups(str(root))
    before_rollups = {t: read_rollup(root / "rollups", t) for t in ("rollup_1h", "rollup_1d")}
    objects_before = objects(root)
    crowded = {p for p, names in objects_before.items() if len(names) > 1}
    assert crowded  # the fixture has redeliveries and poison beside the first delivery

    report = compact(str(root), before=LATER)

    after = objects(root)
    assert report.partitions == len(crowded)
    assert report.objects_read == report.objects_deleted == sum(len(objects_before[p]) for p in crowded)
    assert all(len(names) == 1 for names in after.values())
    assert all(names[0].startswith(COMPACTED_PREFIX) for p, names in after.items() if p in crowded)
    assert rows(root) == before_rows  # duplicates, poison and the misfiled row are all still there
    after_answers = answers(root)
    for name, expected in before_answers.items():  # unordered float sums (vwap, spreads) move in the last digit
        assert_rows_equal(after_answers[name], expected)
    reports = run_rollups(str(root))  # the compacted objects are new: their partitions are recomputed ...
    assert [r.partitions_rebuilt for r in reports] == [len(crowded)] * 2
    assert {t: read_rollup(root / "rollups", t) for t in before_rollups} == before_rollups  # ... to the same rows
    assert compact(str(root), before=LATER).partitions == 0  # nothing left to do


def test_only_closed_days_and_the_pair_asked_for(fresh_archive: FixtureArchive) -> None:
    root = fresh_archive.root
    before = objects(root)
    assert compact(str(root), before=date(2026, 11, 22), pair="eth-usd").partitions == sum(
        1 for p, names in before.items() if p.startswith("symbol=ETH/") and p < "symbol=ETH/market=USD/dt=2026-11-22"
        and len(names) > 1)
    after = objects(root)
    for partition, names in before.items():
        touched = partition.startswith("symbol=ETH/") and partition.rsplit("dt=", 1)[1] < "2026-11-22"
        assert (after[partition] != names) == (touched and len(names) > 1), partition


def test_a_dry_run_counts_and_changes_nothing(fresh_archive: FixtureArchive) -> None:
    root = fresh_archive.root
    before = objects(root)
    report = compact(str(root), before=LATER, dry_run=True)
    assert objects(root) == before
    assert report.partitions == sum(1 for names in before.values() if len(names) > 1)
    assert report.objects_read == sum(len(names) for names in before.values() if len(names) > 1)
    assert report.line.startswith(f"would compact {report.partitions} partitions before 2030-01-01")


def test_a_run_stopped_before_deleting_is_finished_by_the_next_without_a_row_twice(
        fresh_archive: FixtureArchive, monkeypatch: pytest.MonkeyPatch) -> None:
    root = fresh_archive.root
    before_rows = rows(root)

    def stop(location, paths):  # noqa: ANN001 - the run stops after publishing its first compacted object
        raise KeyboardInterrupt

    monkeypatch.setattr(compaction, "_delete", stop)
    with pytest.raises(KeyboardInterrupt):
        compact(str(root), before=LATER)
    monkeypatch.undo()
    assert len(rows(root)) > len(before_rows)  # the compacted object and its sources side by side
    report = compact(str(root), before=LATER)
    assert report.leftovers_deleted >= 2
    assert rows(root) == before_rows
    assert all(len(names) == 1 for names in objects(root).values())


def test_a_late_object_is_compacted_with_the_compacted_one(fresh_archive: FixtureArchive) -> None:
    root = fresh_archive.root
    compact(str(root), before=LATER)
    write_archive_objects(new_bars(datetime(2026, 11, 22, 3, tzinfo=UTC)), str(root), object_name="late")
    before_rows = rows(root)
    report = compact(str(root), before=LATER)
    assert (report.partitions, report.objects_read, report.leftovers_deleted) == (1, 2, 0)
    assert rows(root) == before_rows


def test_a_compacted_object_that_does_not_hold_its_sources_deletes_nothing(
        fresh_archive: FixtureArchive, monkeypatch: pytest.MonkeyPatch) -> None:
    root = fresh_archive.root
    monkeypatch.setattr(compaction, "_delete", lambda location, paths: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        compact(str(root), before=LATER)
    monkeypatch.undo()
    holder = next((root / "quotes").rglob(f"{COMPACTED_PREFIX}*.parquet"))
    table = pq.read_table(holder)
    # A row gone, its list of sources kept: it no longer holds what it names.
    pq.write_table(table.slice(1).replace_schema_metadata(table.schema.metadata), holder)
    left = objects(root)
    with pytest.raises(ArchiveError, match="does not hold the rows of the objects it names; nothing deleted"):
        compact(str(root), before=LATER)
    assert objects(root) == left


def test_objects_of_an_older_record_read_with_the_missing_columns_empty(tmp_path: Path) -> None:
    directory = tmp_path / "quotes" / "symbol=BTC" / "market=USD" / "dt=2026-11-22"
    directory.mkdir(parents=True)
    bars = new_bars(datetime(2026, 11, 22, tzinfo=UTC), count=4)
    write_archive_objects(bars[:2], str(tmp_path), object_name="new")
    old = pa.table({"v": pa.array([1, 1], pa.int32()), "source": ["alphavantage"] * 2, "interval": ["5min"] * 2,
                    "ts": pa.array([datetime(2026, 11, 22, 0, 10), datetime(2026, 11, 22, 0, 15)], pa.timestamp("us")),
                    **{k: [b[k] for b in bars[2:]] for k in ("open", "high", "low", "close", "volume")},
                    "fetched_at": pa.array([datetime(2026, 11, 22, 1)] * 2, pa.timestamp("us"))})  # no bid, ask
    pq.write_table(old, directory / "old.parquet")
    assert compact(str(tmp_path), before=LATER).rows == 4
    (only,) = directory.iterdir()
    table = pq.read_table(only)
    assert table.schema.remove_metadata() == ARCHIVE_SCHEMA and table.num_rows == 4
    assert table["bid"].null_count == 4 and table["ts"].to_pylist() == sorted(table["ts"].to_pylist())


def test_a_partition_whose_rows_would_not_survive_whole_is_refused_and_the_others_compacted(
        fresh_archive: FixtureArchive) -> None:
    """A column the contract does not have (a newer record) or a type that would lose values: that partition is left
    as it is, with the reason; the run goes on."""
    root = fresh_archive.root
    directory = root / "quotes" / "symbol=BTC" / "market=USD" / "dt=2026-11-22"
    extra = pq.read_table(next(directory.iterdir()))
    pq.write_table(extra.append_column("venue_seq", pa.array(range(extra.num_rows), pa.int64())),
                   directory / "newer.parquet")
    left = sorted(p.name for p in directory.iterdir())
    report = compact(str(root), before=LATER)
    assert sorted(p.name for p in directory.iterdir()) == left
    (refusal,) = report.refused
    assert "dt=2026-11-22 not compacted, nothing deleted" in refusal and "venue_seq" in refusal
    assert report.partitions == sum(1 for p, names in objects(root).items() if names[0].startswith(COMPACTED_PREFIX))
    assert report.partitions > 0 and report.line.endswith("; 1 partitions refused")


def test_nanosecond_timestamps_are_refused_rather_than_truncated(tmp_path: Path) -> None:
    directory = tmp_path / "quotes" / "symbol=BTC" / "market=USD" / "dt=2026-11-22"
    write_archive_objects(new_bars(datetime(2026, 11, 22, tzinfo=UTC), count=2), str(tmp_path), object_name="a")
    precise = pq.read_table(next(directory.iterdir()))
    ts = precise.schema.get_field_index("ts")
    precise = precise.set_column(ts, "ts", pa.array([datetime(2026, 11, 22, 0, 10)] * 2, pa.timestamp("ns")))
    pq.write_table(precise, directory / "b.parquet", coerce_timestamps=None, version="2.6")
    report = compact(str(tmp_path), before=LATER)
    assert report.partitions == 0 and "ts TIMESTAMP_NS" in report.refused[0]
    assert len(list(directory.iterdir())) == 2


def test_a_compacted_object_that_cannot_be_read_stops_the_run_before_anything_is_compacted_twice(
        fresh_archive: FixtureArchive) -> None:
    root = fresh_archive.root
    directory = root / "quotes" / "symbol=BTC" / "market=USD" / "dt=2026-11-22"
    (directory / f"{COMPACTED_PREFIX}broken.parquet").write_bytes(b"not parquet")
    left = objects(root)
    with pytest.raises(ArchiveError, match="cannot read which objects .*compacted-broken.parquet holds"):
        compact(str(root), before=LATER)
    assert objects(root) == left
