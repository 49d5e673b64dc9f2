"""The embedded stack across kill -9, a full disk, stale leases and a second `up` (issue 10).

A crash is simulated in-process as kill -9 leaves things: the server stops answering, nothing is
snapshotted, the journal is as written so far, and the home's lock is gone with the process.
A full disk is injected through the journal's documented fault file (``local.wal``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cli.demo import count_bars
from cli.dlq import redrive
from cli.stack_commands import _run_line
from cli.target import Target
from cryptostream_model.keys import LEASE_SK, lease_pk, table_pk
from cryptostream_model.record import format_ts
from local import owner, wal
from local.home import HomeLocked
from local.poison import poison_records
from local.stack import LocalStack

pytestmark = pytest.mark.e2e

PAIRS = ["BTC-USD", "ETH-USD"]
END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def crash(stack: LocalStack) -> None:
    assert stack._moto is not None
    stack._moto._app = None  # no clean close: no snapshot, the journal stays as written
    stack.stop()


def quarantined(stack: LocalStack) -> int:
    url = stack.resources.quarantine_queue_url
    attributes = stack.clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def watermark(stack: LocalStack, pair: str) -> str:
    item = stack.clients.dynamodb.get_item(
        TableName=stack.config.table_name, Key={"pk": {"S": table_pk(pair, "1min")}, "sk": {"S": "WATERMARK"}}
    )["Item"]
    return item["ts"]["S"]


def target(stack: LocalStack) -> Target:
    return Target(
        "local",
        stack.endpoint,
        stack.config,
        stack.clients,
        simulator_url=stack.simulator.base_url,
        quarantine_queue_url=stack.resources.quarantine_queue_url,
    )


def test_kill_9_after_a_redrive_keeps_one_key_and_does_not_double_the_quarantine(tmp_path):
    """Issue 10: every start made a new KMS key; after `dlq redrive` and a restart the quarantine doubled."""
    stack = LocalStack(tmp_path, seed=3).start()
    stack.simulator.clock.set(END)
    stack.produce({"mode": "incremental", "interval": "1min", "pairs": PAIRS})
    stack.clients.kinesis.put_records(
        StreamName=stack.config.stream_name,
        Records=[{"Data": d, "PartitionKey": "BTC-USD"} for d in poison_records(5, "1min", END)],
    )
    stack.pump(flush=True)
    assert quarantined(stack) == 5
    assert redrive(target(stack), limit=100)["redriven"] == 5
    stack.pump(flush=True)  # the consumer quarantines the poison again
    assert quarantined(stack) == 5
    key = stack.resources.kms_key_id
    crash(stack)

    for _ in range(2):
        again = LocalStack(tmp_path, seed=3).start()
        try:
            assert again.replayed_requests > 0 or (tmp_path / "snapshot.pickle").exists()
            assert again.resources.kms_key_id == key
            assert len(again.clients.kms.list_keys()["Keys"]) == 1
            assert quarantined(again) == 5
            assert count_bars(again, PAIRS, "1min") == 2 * 100
        finally:
            crash(again)


def test_a_full_disk_refuses_cleanly_and_a_restart_after_it_frees_loses_nothing(tmp_path, monkeypatch):
    marker = tmp_path / "disk-full"
    monkeypatch.setenv(wal.ENOSPC_FILE_ENV, str(marker))
    monkeypatch.setenv("KINESIS_MAX_ATTEMPTS", "2")
    home = tmp_path / "home"
    stack = LocalStack(home, seed=5).start()
    stack.simulator.clock.set(END - timedelta(minutes=30))
    stack.produce({"mode": "incremental", "interval": "1min", "pairs": PAIRS})
    stack.pump(flush=True)
    before = {pair: watermark(stack, pair) for pair in PAIRS}

    marker.touch()  # the disk fills up
    stack.simulator.clock.set(END)
    line = _run_line(stack, "1min")
    notices = stack.notices()
    assert stack.disk_full and len(notices) == 1 and "No space left on device" in notices[0]
    assert "\n" not in line and ("not done" in line or "failed" in line or "produced 0" in line), line
    assert {pair: watermark(stack, pair) for pair in PAIRS} == before  # nothing moved without being journaled
    assert not stack.journal_writable()

    marker.unlink()  # space again
    assert stack.journal_writable()
    assert "writing again" in stack.notices()[0]
    summary = stack.produce({"mode": "incremental", "interval": "1min", "pairs": PAIRS})
    assert summary["published"] == 2 * 30
    stack.pump(flush=True)
    after = {pair: watermark(stack, pair) for pair in PAIRS}
    crash(stack)

    again = LocalStack(home, seed=5).start()
    try:
        assert {pair: watermark(again, pair) for pair in PAIRS} == after  # never moved back
        assert after["BTC-USD"] > before["BTC-USD"]
        again.pump(flush=True)
        assert count_bars(again, PAIRS, "1min") == 2 * 130  # every bar, once
        again.simulator.clock.set(END)
        assert again.produce({"mode": "incremental", "interval": "1min", "pairs": PAIRS})["published"] == 0
    finally:
        again.stop()


def test_a_lease_left_by_a_dead_process_is_released_and_said(tmp_path):
    stack = LocalStack(tmp_path, seed=9).start()
    try:
        dead = f"local:{owner.boot_id()}:999999999:1/run-abc"  # no such pid
        for interval, holder in (("1min", dead), ("5min", f"{owner.identity()}/run-live")):
            stack.clients.dynamodb.put_item(
                TableName=stack.config.table_name,
                Item={
                    "pk": {"S": lease_pk(interval)},
                    "sk": {"S": LEASE_SK},
                    "owner": {"S": holder},
                    "lease_until": {"N": str(int(END.timestamp()) + 10**9)},
                },
            )
        stack.simulator.clock.set(END)
        assert _run_line(stack, "5min") == f"producer run skipped: lease held by {owner.identity()}/run-live"
        assert stack.notices() == []
        line = _run_line(stack, "1min")
        assert line.startswith("produced ") and not line.startswith("produced 0 "), line
        released = "released the alphavantage 1min producer lease of run-abc: its process (pid 999999999) is gone"
        assert stack.notices() == [released]
    finally:
        stack.stop()


def test_the_producer_names_its_local_process_as_the_lease_owner(tmp_path):
    stack = LocalStack(tmp_path, seed=9).start()
    seen = []
    try:
        original = stack.clients.dynamodb  # watch the lease item while the run holds it

        def hold(**_):
            item = original.get_item(
                TableName=stack.config.table_name, Key={"pk": {"S": lease_pk("1min")}, "sk": {"S": LEASE_SK}}
            ).get("Item")
            if item:
                seen.append(item["owner"]["S"])

        stack.simulator.clock.set(END)
        from producer import handler

        real = handler._run_locked

        def spy(*args, **kwargs):
            hold()
            return real(*args, **kwargs)

        handler._run_locked = spy
        try:
            stack.produce({"mode": "incremental", "interval": "1min", "pairs": ["BTC-USD"]})
        finally:
            handler._run_locked = real
        assert seen and seen[0].startswith(owner.identity() + "/run-")
    finally:
        stack.stop()


def test_a_second_stack_on_the_same_home_is_refused_and_the_first_keeps_its_state_file(tmp_path):
    first = LocalStack(tmp_path, seed=1).start()
    try:
        with pytest.raises(
            HomeLocked, match=rf"in use by another `cryptostream up` \(pid {__import__('os').getpid()}\)"
        ):
            LocalStack(tmp_path, seed=1).start()
        assert (tmp_path / "stack.json").exists()
    finally:
        first.stop()
    assert not (tmp_path / "stack.json").exists()
    LocalStack(tmp_path, seed=1).start().stop()  # the lock went with the first stack


def test_restart_time_does_not_grow_with_history_replayed(tmp_path):
    """A restart after a crash replays at most one compaction interval; a clean one replays nothing."""
    stack = LocalStack(tmp_path, seed=2).start()
    stack.simulator.clock.set(END)
    stack.produce({"mode": "incremental", "interval": "1min", "pairs": PAIRS})
    stack.pump(flush=True)
    stack.stop()
    again = LocalStack(tmp_path, seed=2).start()
    try:
        assert again.replayed_requests == 0
        assert count_bars(again, PAIRS, "1min") == 200
        assert format_ts(END - timedelta(minutes=1)) <= watermark(again, "BTC-USD")
    finally:
        again.stop()
