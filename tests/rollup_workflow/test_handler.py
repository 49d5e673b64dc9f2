"""The cloud rollups (plan -> rollup per batch -> commit) on moto S3 and an Athena that runs the rendered SQL:
the materialized tables equal the local full recompute, late and replayed rows included; a rerun with nothing new
writes nothing; failures are one-line errors and leave the watermark where it was."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from analytics.cloud_rollups import TEMPLATES_DIR, rollup_template
from cryptostream_model.rollups import ROLLUP_TABLES, decode_days
from rollup_workflow.errors import AthenaQueryFailed, AthenaThrottled, ConcurrentRollup
from rollup_workflow.handler import lambda_handler
from tests.analytics.test_rollups import new_bars
from tests.iam.recorder import CallRecorder
from tests.rollup_workflow.conftest import BUCKET, CloudRollups, local_rollup


def parts(batch: dict) -> list[dict]:
    """A planned batch's partitions as {symbol, market, day}."""
    return [p.to_dict() for p in decode_days(batch["days"])]


def recorded_run(cloud: CloudRollups) -> tuple[dict, list]:
    recorder = CallRecorder()
    with recorder.installed():
        out = cloud.run(recorder.attributed_handler("rollup_workflow", lambda_handler))
    return out, recorder.calls


@pytest.mark.parametrize("table", ROLLUP_TABLES)
def test_shipped_sql_is_the_fresh_rendering_of_the_named_query(table: str) -> None:
    assert (TEMPLATES_DIR / f"{table}.sql").read_text() == rollup_template(table), \
        "run `python -m analytics.cloud_rollups` after changing analytics/queries"


def test_first_run_materializes_what_the_local_rollup_computes(cloud: CloudRollups) -> None:
    out, calls = recorded_run(cloud)
    plan = out["plan"]
    assert len(plan["batches"]) == 1 and plan["batches"][0]["tables"] == list(ROLLUP_TABLES)
    assert len(parts(plan["batches"][0])) == 6  # 3 pairs x 2 days
    for table in ROLLUP_TABLES:
        assert cloud.table(table) == local_rollup(cloud.root, table)  # ==: the same bits
    assert out["commit"]["months_written"] == 6  # 3 pairs x 1 month x 2 tables
    operations = [(c.service, c.operation) for c in calls]
    assert operations.count(("athena", "StartQueryExecution")) == 2  # one query per table for the batch
    assert operations.count(("s3", "ListObjectsV2")) == 2  # the archive, the rollups: one page each
    puts = [c.params["Key"] for c in calls if c.operation == "PutObject"]
    assert sorted(puts) == sorted(
        [f"rollups/{t}/symbol={s}/market=USD/month=2026-11/part-0.json" for t in ROLLUP_TABLES for s in
         ("BTC", "ETH", "SOL")] + [f"rollups/{t}/_watermark.json" for t in ROLLUP_TABLES])
    mark = cloud.watermark("rollup_1h")
    assert mark["source_interval"] == "5min" and mark["paths_at_mark"][0].startswith(f"{BUCKET}/quotes/")


def test_each_query_is_restricted_to_its_batch_partitions(cloud: CloudRollups) -> None:
    cloud.run()
    sql = cloud.athena.queries[0]
    assert "FROM cryptostream.quotes AS q" in sql and "q.\"interval\" = '5min'" in sql
    pairs = re.findall(r"q\.symbol = '(\w+)' AND q\.market = '(\w+)' AND q\.dt IN \(([^)]*)\)", sql)
    assert sorted((s, m, days) for s, m, days in pairs) == [
        (s, "USD", "'2026-11-21', '2026-11-22'") for s in ("BTC", "ETH", "SOL")]


def test_rerun_with_nothing_new_writes_nothing(cloud: CloudRollups) -> None:
    cloud.run()
    before = {t: cloud.table(t) for t in ROLLUP_TABLES}
    out, calls = recorded_run(cloud)
    assert out["plan"]["batches"] == [] and out["plan"]["watermarks"] == {}
    assert [c.operation for c in calls if c.operation in ("PutObject", "DeleteObject", "StartQueryExecution")] == []
    assert {t: cloud.table(t) for t in ROLLUP_TABLES} == before


def test_late_and_replayed_rows_are_recomputed_as_locally(cloud: CloudRollups) -> None:
    cloud.run()
    rows_of = {(r["symbol"], r["ts"], r["interval"]): r for r in _fixture_rows()}
    late = dict(rows_of[("BTC", "2026-11-21T21:55:00Z", "5min")])
    late.update(close=late["low"], fetched_at="2026-11-22T09:00:00Z")  # a revised close, delivered late
    replayed = dict(rows_of[("ETH", "2026-11-22T01:00:00Z", "5min")])  # an exact copy, replayed
    cloud.add([late, replayed, *new_bars(datetime(2026, 11, 23, tzinfo=UTC))], "quotes-0009")
    out, calls = recorded_run(cloud)
    partitions = {(p["symbol"], p["day"]) for b in out["plan"]["batches"] for p in parts(b)}
    assert partitions == {("BTC", "2026-11-21"), ("ETH", "2026-11-22"), ("BTC", "2026-11-23")}
    for table in ROLLUP_TABLES:
        assert cloud.table(table) == local_rollup(cloud.root, table)
    puts = {c.params["Key"].split("/")[2] for c in calls if c.operation == "PutObject" and "month=" in c.params["Key"]}
    assert puts == {"symbol=BTC"}  # ETH's replayed copy recomputes the same bytes: not rewritten
    month = [c for c in calls if c.operation == "PutObject" and "symbol=BTC" in c.params["Key"]][0]
    assert "IfMatch" in month.params  # read-modify-write, conditional on the object read


def test_batches_hold_whole_months_and_still_equal_the_local_rollup(cloud: CloudRollups,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLUP_MAX_PARTITIONS_PER_QUERY", "31")
    december = [datetime(2026, 12, 1, tzinfo=UTC) + timedelta(days=i) for i in range(26)]  # 6 + 26 > 31
    cloud.add([bar for day in december for bar in new_bars(day, count=12)], "quotes-0010")
    out = cloud.run()
    batches = out["plan"]["batches"]
    assert len(batches) == 2 and all(len(parts(b)) <= 31 for b in batches)
    months = [{p["day"][:7] for p in parts(b)} for b in batches]
    assert months == [{"2026-11"}, {"2026-12"}]
    assert len(cloud.athena.queries) == 4  # one per table per batch
    for table in ROLLUP_TABLES:
        assert cloud.table(table) == local_rollup(cloud.root, table)


def test_results_over_several_pages_are_all_read(cloud: CloudRollups) -> None:
    days = [datetime(2026, 10, 1, tzinfo=UTC) + timedelta(days=i) for i in range(30)]
    rows = [bar for day in days for symbol in ("BTC", "ETH") for bar in new_bars(day, symbol, count=288)]
    cloud.add(rows, "quotes-0011")
    cloud.run()
    assert len(cloud.table("rollup_1h")) > 1000  # more than one GetQueryResults page
    assert cloud.table("rollup_1h") == local_rollup(cloud.root, "rollup_1h")


def test_a_failed_query_is_one_line_and_the_watermark_does_not_move(cloud: CloudRollups) -> None:
    cloud.run()
    mark = cloud.watermark("rollup_1h")
    before = cloud.table("rollup_1h")
    cloud.add(new_bars(datetime(2026, 11, 23, tzinfo=UTC)), "quotes-0012")
    cloud.athena.fail_next("HIVE_CURSOR_ERROR: Failed to read Parquet file: s3://x/y\nat io.trino...")
    with pytest.raises(AthenaQueryFailed) as failed:
        cloud.run()
    assert "\n" not in str(failed.value) and "failed: HIVE_CURSOR_ERROR: Failed to read Parquet" in str(failed.value)
    assert "(rollup_1h)" in str(failed.value)
    assert cloud.watermark("rollup_1h") == mark and cloud.table("rollup_1h") == before
    assert "StopQueryExecution" in cloud.athena.calls  # the other table's query is cancelled
    out = cloud.run()  # the next run does the same work again
    assert {p["day"] for b in out["plan"]["batches"] for p in parts(b)} == {"2026-11-23"}
    assert cloud.table("rollup_1h") == local_rollup(cloud.root, "rollup_1h")


@pytest.mark.parametrize("operation", ["StartQueryExecution", "GetQueryExecution", "GetQueryResults"])
def test_throttling_is_a_retryable_one_line_error_and_the_watermark_does_not_move(cloud: CloudRollups,
                                                                                   operation: str) -> None:
    cloud.athena.throttle(operation)
    with pytest.raises(AthenaThrottled) as throttled:
        cloud.run()
    assert str(throttled.value).startswith("Athena throttled ") and "ThrottlingException: Rate exceeded" in str(
        throttled.value)
    assert cloud.watermark("rollup_1h") is None and cloud.table("rollup_1h") == []
    cloud.run()  # the state machine's retry
    assert cloud.table("rollup_1h") == local_rollup(cloud.root, "rollup_1h")


def test_a_month_object_changed_during_the_step_is_a_concurrency_error(cloud: CloudRollups) -> None:
    cloud.run()
    cloud.add(new_bars(datetime(2026, 11, 23, tzinfo=UTC)), "quotes-0013")
    plan = lambda_handler({"action": "plan"}, None)
    from rollup_workflow.handler import aws

    s3 = aws().client("s3")
    read = s3.get_object

    def read_then_another_writer(**params):  # another execution writes between this step's read and its write
        response = read(**params)
        body = cloud.s3.get_object(**params)["Body"].read()
        cloud.s3.put_object(Bucket=params["Bucket"], Key=params["Key"], Body=body + b"\n")
        return response

    s3.get_object = read_then_another_writer
    try:
        with pytest.raises(ConcurrentRollup, match="changed while this step ran"):
            lambda_handler({"action": "rollup", "batch": plan["batches"][0]}, None)
    finally:
        del s3.get_object


def test_bad_events_and_settings_are_one_line_errors(cloud: CloudRollups, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown action 'merge'"):
        lambda_handler({"action": "merge"}, None)
    with pytest.raises(ValueError, match="batch tables"):
        lambda_handler({"action": "rollup", "batch": {"tables": ["rollup_5m"], "partitions": []}}, None)
    with pytest.raises(ValueError, match="symbol and market must be codes"):
        lambda_handler({"action": "rollup", "batch": {"tables": ["rollup_1h"], "partitions": [
            {"symbol": "BTC' OR 1=1 --", "market": "USD", "day": "2026-11-21"}]}}, None)
    monkeypatch.delenv("ATHENA_WORKGROUP")
    with pytest.raises(ValueError, match="ATHENA_WORKGROUP is not set"):
        lambda_handler({"action": "plan"}, None)


def test_another_source_interval_rebuilds_and_empties_months_without_data(cloud: CloudRollups,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    cloud.run()
    monkeypatch.setenv("SOURCE_INTERVAL", "1min")  # only BTC has 1min bars, on 2026-11-22
    out = cloud.run()
    assert all(b["rebuild"] for b in out["plan"]["batches"])
    from analytics.rollups import run_rollups
    from tests.analytics.test_rollups import read_rollup

    run_rollups(str(cloud.root), full=True, source_interval="1min")
    local = [(r["symbol"], r["market"], r["bucket"].strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], r["open"], r["high"],
              r["low"], r["close"], r["volume"], r["bars"]) for r in read_rollup(cloud.root / "rollups", "rollup_1h")]
    assert cloud.table("rollup_1h") == local and {r[0] for r in local} == {"BTC"}
    assert json.loads(json.dumps(cloud.watermark("rollup_1h")))["source_interval"] == "1min"


def _fixture_rows() -> list[dict]:
    from tests.fixtures.archive.builder import build_rows

    first, _, _ = build_rows()
    return first



def test_a_rebuilt_table_beside_an_incremental_one_still_gets_whole_months(cloud: CloudRollups) -> None:
    """rollup_1h without a watermark (rebuilt: every day of its months) and rollup_1d with one (one new day): each
    month object is still rewritten by one batch, with every day it needs."""
    cloud.run()
    cloud.s3.delete_object(Bucket=BUCKET, Key="rollups/rollup_1h/_watermark.json")
    cloud.add(new_bars(datetime(2026, 11, 23, tzinfo=UTC)), "quotes-0014")
    out = cloud.run()
    months = [p["symbol"] + p["day"][:7] for b in out["plan"]["batches"] for p in parts(b)]
    per_batch = [{p["symbol"] + p["day"][:7] for p in parts(b)} for b in out["plan"]["batches"]]
    assert sum(len(m) for m in per_batch) == len(set(months))  # no month in two batches
    for table in ROLLUP_TABLES:
        assert cloud.table(table) == local_rollup(cloud.root, table)


def test_a_year_of_ten_pairs_plans_well_under_the_state_limit() -> None:
    """The first rollup after a year's backfill of ten pairs: 3,650 partitions travel through the state machine."""
    from datetime import date

    from cryptostream_model.rollups import Partition, batches, encode_days

    pairs = [(f"C{i}", "USD") for i in range(10)]
    days = [(date(2025, 1, 1) + timedelta(days=i)).isoformat() for i in range(365)]
    partitions = [Partition(s, m, d) for s, m in pairs for d in days]
    planned = [{"tables": list(ROLLUP_TABLES), "days": encode_days(b), "rebuild": list(ROLLUP_TABLES),
                "existing": {t: [] for t in ROLLUP_TABLES}} for b in batches(partitions, 400)]
    assert sum(len(parts(b)) for b in planned) == 3650
    assert len(json.dumps({"batches": planned})) < 64 * 1024


def test_local_parquet_rollups_in_the_cloud_folders_stop_the_plan(cloud: CloudRollups) -> None:
    from rollup_workflow.errors import RollupStorageError

    cloud.s3.put_object(Bucket=BUCKET, Key="rollups/rollup_1h/symbol=BTC/market=USD/month=2026-11/part-0.parquet",
                        Body=b"PAR1")
    with pytest.raises(RollupStorageError, match="local rollups' Parquet objects"):
        lambda_handler({"action": "plan"}, None)


@pytest.mark.parametrize("settle, taken", [("900", True), ("0", False)])
def test_an_object_listed_late_with_an_older_time_is_taken_inside_the_settle_window(
        cloud: CloudRollups, monkeypatch: pytest.MonkeyPatch, settle: str, taken: bool) -> None:
    """S3 stamps an object with its upload's start and lists it once complete: one still uploading during the plan's
    listing appears later with a time older than the newest object listed. The watermark's settle window takes it;
    without one it would be missed (shown with ROLLUP_SETTLE_SECONDS=0)."""
    import rollup_workflow.handler as handler

    monkeypatch.setenv("ROLLUP_SETTLE_SECONDS", settle)
    slow = "quotes/symbol=SOL/market=USD/dt=2026-11-21/quotes-0001.parquet"
    listing = handler._listing

    def still_uploading(s3, bucket, prefix):  # the first plan does not see it yet
        return [item for item in listing(s3, bucket, prefix) if item["Key"] != slow]

    def complete(s3, bucket, prefix):  # now listed, stamped with its upload's start, seconds before the others
        return [dict(item, LastModified=item["LastModified"] - timedelta(seconds=5)) if item["Key"] == slow else item
                for item in listing(s3, bucket, prefix)]

    monkeypatch.setattr(handler, "_listing", still_uploading)
    cloud.run()
    monkeypatch.setattr(handler, "_listing", complete)
    again = cloud.run()
    planned = {(p["symbol"], p["day"]) for b in again["plan"]["batches"] for p in parts(b)}
    assert (("SOL", "2026-11-21") in planned) is taken
    assert (cloud.table("rollup_1h") == local_rollup(cloud.root, "rollup_1h")) is taken
    assert cloud.run()["plan"]["batches"] == []  # and then it is up to date: the window remembers what it took


def test_watermark_reads_both_shapes_and_never_moves_back() -> None:
    from cryptostream_model.rollups import ArchiveObject, Partition, Watermark

    day = Partition("BTC", "USD", "2026-11-21")

    def obj(name: str, second: int) -> ArchiveObject:
        return ArchiveObject(f"b/quotes/{name}", second * 10**9, day)

    local = Watermark("5min").advanced([obj("a", 100), obj("b", 100), obj("c", 90)])
    assert (local.mtime_ns, local.paths_at_mark) == (100 * 10**9, ["b/quotes/a", "b/quotes/b"])
    assert local.is_new(obj("d", 100)) and not local.is_new(obj("a", 100)) and not local.is_new(obj("e", 99))
    windowed = Watermark("5min").advanced([obj("a", 100), obj("b", 95), obj("c", 80)], settle_ns=10 * 10**9)
    assert windowed.mtime_ns == 90 * 10**9 and windowed.paths_at_mark == ["b/quotes/a", "b/quotes/b"]
    assert windowed.is_new(obj("late", 92)) and not windowed.is_new(obj("b", 95)) and not windowed.is_new(obj("c", 80))
    assert windowed.advanced([obj("old", 50)], settle_ns=10 * 10**9).mtime_ns == 90 * 10**9  # never backwards
