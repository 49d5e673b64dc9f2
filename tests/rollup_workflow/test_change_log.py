"""The plan from the change log (S3 notifications on SQS, rollup_workflow.changes): the same tables as a full listing
and as the local recompute; late and replayed objects taken; nothing lost when a step fails mid-way."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cryptostream_model.rollups import ROLLUP_TABLES, decode_days
from rollup_workflow import changes
from rollup_workflow.errors import AthenaQueryFailed, ChangeLogError, RollupStorageError
from rollup_workflow.handler import aws, lambda_handler
from tests.analytics.test_rollups import new_bars
from tests.iam.recorder import CallRecorder
from tests.rollup_workflow.conftest import BUCKET, EVENTS, CloudRollups, local_rollup, notification

PENDING = "rollups/_pending_changes.json"


def planned(out: dict[str, Any]) -> set[tuple[str, str]]:
    return {(p.symbol, p.day) for b in out["plan"]["batches"] for p in decode_days(b["days"])}


def recorded(cloud: CloudRollups, **options: Any) -> tuple[dict[str, Any], list[Any]]:
    recorder = CallRecorder()
    with recorder.installed():
        out = cloud.run(recorder.attributed_handler("rollup_workflow", lambda_handler), **options)
    return out, recorder.calls


def queued(cloud: CloudRollups) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = cloud.sqs.get_queue_attributes(QueueUrl=cloud.queue_url, AttributeNames=names)
    return sum(int(v) for v in attributes["Attributes"].values())


def pending(cloud: CloudRollups) -> list[list[Any]]:
    return json.loads(cloud.s3.get_object(Bucket=BUCKET, Key=PENDING)["Body"].read())["objects"]


def late_replayed_and_new(cloud: CloudRollups) -> None:
    """A revised close for an old day delivered late, an exact replay, and a new day (as test_handler does)."""
    from tests.rollup_workflow.test_handler import _fixture_rows

    rows_of = {(r["symbol"], r["ts"], r["interval"]): r for r in _fixture_rows()}
    late = dict(rows_of[("BTC", "2026-11-21T21:55:00Z", "5min")])
    late.update(close=late["low"], fetched_at="2026-11-22T09:00:00Z")
    replayed = dict(rows_of[("ETH", "2026-11-22T01:00:00Z", "5min")])
    cloud.add([late, replayed, *new_bars(datetime(2026, 11, 23, tzinfo=UTC))], "quotes-0009")


# --- the messages -------------------------------------------------------------------------------------------------
def test_the_recorded_notification_gives_its_decoded_archive_object() -> None:
    message = json.loads((EVENTS / "object_created_message.json").read_text())
    drained = changes.Drained()
    bucket = "cryptostream-archive-123456789012-us-east-1"
    changes.parse_message(message["Body"], bucket, "quotes/", drained)
    (found,) = drained.objects
    assert found.path.startswith(f"{bucket}/quotes/symbol=BTC/market=USD/dt=2026-11-22/cryptostream-archive-1-")
    assert (found.partition.symbol, found.partition.market, found.partition.day) == ("BTC", "USD", "2026-11-22")
    assert found.mtime_ns == int(datetime(2026, 11, 22, 9, 6, 1, tzinfo=UTC).timestamp()) * 10**9  # whole seconds
    test_event = json.loads((EVENTS / "test_event_message.json").read_text())
    changes.parse_message(test_event["Body"], bucket, "quotes/", drained)
    assert drained.test_events == 1 and len(drained.objects) == 1


def test_keys_are_url_decoded_and_foreign_ones_counted() -> None:
    drained = changes.Drained()
    spaced = notification("quotes/symbol=BTC/market=USD/dt=2026-11-22/a b+c.parquet", "2026-11-22T09:00:00.000Z", 9)
    assert '"key": "quotes/symbol%3DBTC/market%3DUSD/dt%3D2026-11-22/a+b%2Bc.parquet"' in spaced
    changes.parse_message(spaced, BUCKET, "quotes/", drained)
    assert [o.path for o in drained.objects] == [f"{BUCKET}/quotes/symbol=BTC/market=USD/dt=2026-11-22/a b+c.parquet"]
    for key in ("quotes/symbol=BTC/market=USD/dt=2026-11-22/2026/11/22/09/x.parquet",  # an emulator's time folders
                "quotes/symbol=BTC/market=USD/dt=2026-11-22/_hidden", "errors/processing-failed/x", "rollups/x"):
        changes.parse_message(notification(key, "2026-11-22T09:00:00.000Z", 1), BUCKET, "quotes/", drained)
    changes.parse_message(notification("quotes/symbol=BTC/market=USD/dt=2026-11-22/y.parquet",
                                       "2026-11-22T09:00:00.000Z", 1, bucket="another"), BUCKET, "quotes/", drained)
    changes.parse_message("not json", BUCKET, "quotes/", drained)
    assert (len(drained.objects), drained.outside_layout, drained.unreadable) == (1, 5, 1)


# --- the plan -----------------------------------------------------------------------------------------------------
def test_the_first_run_lists_then_runs_plan_from_the_change_log(logged: CloudRollups) -> None:
    first, _ = recorded(logged)
    assert first["plan"]["source"] == "full_listing"  # no watermark yet: rebuilt from a listing, as before
    assert first["plan"]["changes"]["objects"] == first["plan"]["new_objects"]["rollup_1h"] > 0
    assert pending(logged) == [] and queued(logged) == 0  # drained, recorded, committed, emptied
    late_replayed_and_new(logged)
    out, calls = recorded(logged)
    assert out["plan"]["source"] == "change_log"
    assert planned(out) == {("BTC", "2026-11-21"), ("ETH", "2026-11-22"), ("BTC", "2026-11-23")}
    listings = [c.params["Prefix"] for c in calls if c.operation == "ListObjectsV2"]
    assert listings == ["rollups/"]  # the archive is not listed
    operations = [c.operation for c in calls if c.service == "sqs"]
    assert operations[:1] == ["ReceiveMessage"] and "DeleteMessageBatch" in operations
    for table in ROLLUP_TABLES:
        assert logged.table(table) == local_rollup(logged.root, table)  # ==: the same bits
    assert out["commit"]["pending_changes_emptied"] and pending(logged) == [] and queued(logged) == 0
    again, calls = recorded(logged)
    assert again["plan"]["batches"] == [] and again["plan"]["source"] == "change_log"
    assert [c.operation for c in calls if c.operation in ("PutObject", "StartQueryExecution")] == []


@pytest.mark.parametrize("full_listing", [False, True])
def test_the_change_log_and_a_full_listing_give_the_same_tables(logged: CloudRollups, full_listing: bool) -> None:
    logged.run()
    # S3 times are whole seconds: the next objects land a second later, as an hourly run's would (objects of the
    # mark's own second that the log did not name would only be recomputed again by a listing, never missed).
    time.sleep(1.1)
    late_replayed_and_new(logged)
    out = logged.run(full_listing=full_listing)
    assert out["plan"]["source"] == ("full_listing" if full_listing else "change_log")
    for table in ROLLUP_TABLES:
        assert logged.table(table) == local_rollup(logged.root, table)
    # Either way the watermark now covers every object: a full listing finds nothing left to do.
    assert logged.run(full_listing=True)["plan"]["batches"] == []


def test_test_events_and_keys_outside_the_layout_are_deleted_and_counted(logged: CloudRollups) -> None:
    logged.run()
    test_event = json.loads((EVENTS / "test_event_message.json").read_text())["Body"]
    logged.sqs.send_message(QueueUrl=logged.queue_url, MessageBody=test_event)
    logged.put("quotes/symbol=BTC/market=USD/dt=2026-11-22/2026/11/22/09/emulator.parquet", b"x")
    logged.put("errors/processing-failed/2026/11/22/x", b"x")
    out, calls = recorded(logged)
    counts = out["plan"]["changes"]
    assert (counts["messages"], counts["test_events"], counts["outside_layout"], counts["objects"]) == (3, 1, 2, 0)
    assert out["plan"]["batches"] == [] and queued(logged) == 0
    assert [c.operation for c in calls if c.operation == "PutObject"] == []  # nothing recorded: nothing written


def test_no_queue_configured_plans_from_the_listing(cloud: CloudRollups) -> None:
    out = cloud.run()
    assert out["plan"]["source"] == "full_listing" and out["plan"]["changes"] is None


def test_a_reset_table_is_rebuilt_from_a_full_listing(logged: CloudRollups) -> None:
    logged.run()
    logged.s3.delete_object(Bucket=BUCKET, Key="rollups/rollup_1d/_watermark.json")
    out = logged.run()
    assert out["plan"]["source"] == "full_listing" and out["plan"]["batches"][0]["rebuild"] == ["rollup_1d"]
    for table in ROLLUP_TABLES:
        assert logged.table(table) == local_rollup(logged.root, table)


# --- failures lose nothing ----------------------------------------------------------------------------------------
def _failing(client: Any, operation: str, after: int = 0) -> None:
    """Make ``client``'s ``operation`` fail (moto cannot) after ``after`` successful calls."""
    method = getattr(client, operation)
    calls = {"n": 0}

    def fail(**params: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > after:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, operation)
        return method(**params)

    setattr(client, operation, fail)


def _restore(client: Any, operation: str) -> None:
    delattr(client, operation)


def test_a_plan_failing_before_it_records_leaves_the_messages_in_the_queue(logged: CloudRollups) -> None:
    logged.run()
    late_replayed_and_new(logged)
    logged.sqs.set_queue_attributes(QueueUrl=logged.queue_url, Attributes={"VisibilityTimeout": "0"})
    s3 = aws().client("s3")
    _failing(s3, "put_object")
    try:
        with pytest.raises(RollupStorageError, match="writing s3://.*_pending_changes.json"):
            lambda_handler({"action": "plan"}, None)
    finally:
        _restore(s3, "put_object")
    assert pending(logged) == [] and queued(logged) == 3  # not recorded, so not deleted: they come back
    sqs = aws().client("sqs")
    _failing(sqs, "receive_message", after=1)  # the queue fails mid-drain
    try:
        with pytest.raises(ChangeLogError, match="injected"):
            lambda_handler({"action": "plan"}, None)
    finally:
        _restore(sqs, "receive_message")
    assert pending(logged) == [] and queued(logged) == 3
    out = logged.run()
    assert planned(out) == {("BTC", "2026-11-21"), ("ETH", "2026-11-22"), ("BTC", "2026-11-23")}
    for table in ROLLUP_TABLES:
        assert logged.table(table) == local_rollup(logged.root, table)


def test_an_execution_failing_after_the_plan_keeps_its_changes_in_the_pending_object(logged: CloudRollups) -> None:
    logged.run()
    late_replayed_and_new(logged)
    logged.athena.fail_next("HIVE_BAD_DATA: injected")
    with pytest.raises(AthenaQueryFailed):
        logged.run()
    assert queued(logged) == 0 and len(pending(logged)) == 3  # the messages are gone, the object holds them
    logged.add(new_bars(datetime(2026, 11, 24, tzinfo=UTC)), "quotes-0010")  # more arrives meanwhile: merged
    out = logged.run()
    assert out["plan"]["source"] == "change_log"
    assert planned(out) == {("BTC", "2026-11-21"), ("ETH", "2026-11-22"), ("BTC", "2026-11-23"),
                            ("BTC", "2026-11-24")}
    for table in ROLLUP_TABLES:
        assert logged.table(table) == local_rollup(logged.root, table)
    assert pending(logged) == []


def test_commit_keeps_changes_another_plan_merged_since(logged: CloudRollups) -> None:
    logged.run()
    late_replayed_and_new(logged)
    plan = lambda_handler({"action": "plan"}, None)
    s3 = aws().client("s3")
    put = s3.put_object

    def merged_meanwhile(**params: Any) -> Any:  # another execution's plan rewrote the object since this one's
        if params.get("Key") == PENDING and "IfMatch" in params:
            raise ClientError({"Error": {"Code": "PreconditionFailed", "Message": "At least one of the pre-conditions"
                                                                                  " you specified did not hold"}},
                              "PutObject")
        return put(**params)

    s3.put_object = merged_meanwhile
    try:
        results = [lambda_handler({"action": "rollup", "batch": b}, None) for b in plan["batches"]]
        commit = lambda_handler({"action": "commit", "watermarks": plan["watermarks"], "results": results,
                                 "changes": plan["changes"]}, None)
    finally:
        del s3.put_object
    assert commit["pending_changes_emptied"] is False and len(pending(logged)) == 3  # kept: at worst redone


def test_the_drain_stops_at_its_budget_and_leaves_the_rest(logged: CloudRollups, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    logged.run()
    for i in range(25):
        logged.put(f"quotes/symbol=SOL/market=USD/dt=2026-11-22/extra-{i:02d}.parquet",
                   (logged.root / "quotes/symbol=SOL/market=USD/dt=2026-11-22").glob("*").__next__().read_bytes())
    monkeypatch.setenv("CHANGES_MAX_RECEIVES", "2")
    out = logged.run()
    assert out["plan"]["changes"]["budget_exhausted"] and out["plan"]["changes"]["messages"] == 20
    assert queued(logged) == 5
    monkeypatch.delenv("CHANGES_MAX_RECEIVES")
    assert logged.run()["plan"]["changes"]["messages"] == 5 and queued(logged) == 0


def test_a_watermark_older_than_the_queue_keeps_messages_plans_from_a_listing(logged: CloudRollups,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Notifications that expired unread (the schedule paused, or plans failing, longer than the queue keeps them)
    are in no log: a watermark that old means the log cannot be trusted, so that plan lists the archive."""
    logged.run()
    late_replayed_and_new(logged)
    logged.sqs.purge_queue(QueueUrl=logged.queue_url)  # their messages expired
    assert logged.run()["plan"]["batches"] == []  # the log alone misses them ...
    monkeypatch.setenv("CHANGES_RETENTION_SECONDS", "60")
    now_ns = time.time_ns
    monkeypatch.setattr("rollup_workflow.handler.time.time_ns", lambda: now_ns() + 46 * 1_000_000_000)
    out = logged.run()  # ... a watermark 46 s old, past 3/4 of a 60 s retention, lists them
    assert out["plan"]["source"] == "full_listing"
    assert planned(out) == {("BTC", "2026-11-21"), ("ETH", "2026-11-22"), ("BTC", "2026-11-23")}
    for table in ROLLUP_TABLES:
        assert logged.table(table) == local_rollup(logged.root, table)


def test_a_newer_time_for_a_pending_key_is_written_before_its_message_is_deleted() -> None:
    first = changes.ArchiveObject("b/quotes/symbol=BTC/market=USD/dt=2026-11-22/a", 1, None)  # type: ignore[arg-type]
    pending = changes.Pending({first.path: first})
    rewritten = changes.ArchiveObject(first.path, 2, None)  # type: ignore[arg-type]
    assert pending.add([first]) == 0 and pending.add([rewritten]) == 1
    assert pending.objects[first.path].mtime_ns == 2
