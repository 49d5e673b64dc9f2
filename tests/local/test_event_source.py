"""The local event source mapping behaves as Lambda's Kinesis poller does."""

from __future__ import annotations

import base64

from local.checkpoints import CheckpointStore
from local.event_source import KinesisEventSourceMapping
from tests.local.conftest import mapping_settings, put, reader

ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/s"


class RecordingHandler:
    """Remembers every payload it saw; fails as told."""

    def __init__(self, fail_on: set[bytes] | None = None, crash_on: set[bytes] | None = None, times: int = 1):
        self.seen: list[bytes] = []
        self.events: list[dict] = []
        self.fail_on = fail_on or set()
        self.crash_on = crash_on or set()
        self.times = times
        self.failures = 0

    def __call__(self, event, context):
        self.events.append(event)
        payloads = [(r["kinesis"]["sequenceNumber"], base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]]
        if self.crash_on & {p for _, p in payloads}:
            raise RuntimeError("crash")
        for seq, payload in payloads:
            if payload in self.fail_on and self.failures < self.times:
                self.failures += 1
                return {"batchItemFailures": [{"itemIdentifier": seq}]}
            self.seen.append(payload)
        return {"batchItemFailures": []}


def make(kinesis, handler, checkpoints=None, failures=None, **settings):
    sent = failures if failures is not None else []
    return KinesisEventSourceMapping(
        reader(kinesis, checkpoints),
        handler,
        mapping_settings(**settings),
        stream_arn=ARN,
        region="us-east-1",
        on_failure=sent.append,
        sleep=lambda s: None,
    )


def test_event_has_lambdas_shape(stream):
    put(stream, [b"a"])
    handler = RecordingHandler()
    make(stream, handler).poll(flush=True)
    record = handler.events[0]["Records"][0]
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventName"] == "aws:kinesis:record"
    assert record["eventSourceARN"] == ARN
    assert record["eventID"] == f"shardId-000000000000:{record['kinesis']['sequenceNumber']}"
    assert set(record["kinesis"]) == {
        "kinesisSchemaVersion",
        "partitionKey",
        "sequenceNumber",
        "data",
        "approximateArrivalTimestamp",
    }
    assert record["kinesis"]["partitionKey"] == "BTC-USD"


def test_batch_size_is_honoured(stream):
    put(stream, [b"%d" % i for i in range(25)])
    handler = RecordingHandler()
    make(stream, handler, batch_size=10).poll(flush=True)
    assert [len(e["Records"]) for e in handler.events] == [10, 10, 5]
    assert handler.seen == [b"%d" % i for i in range(25)]


def test_batching_window_holds_a_small_batch_back(stream):
    put(stream, [b"x"])
    handler = RecordingHandler()
    mapping = make(stream, handler, batching_window_seconds=60)
    assert mapping.poll() == 0 and handler.events == []
    assert mapping.poll(flush=True) == 1


def test_partial_failure_resumes_from_the_failed_record(stream):
    put(stream, [b"a", b"b", b"c", b"d"])
    handler = RecordingHandler(fail_on={b"c"})
    mapping = make(stream, handler)
    mapping.poll(flush=True)
    assert handler.seen == [b"a", b"b", b"c", b"d"]  # a, b once; retried from c
    assert [len(e["Records"]) for e in handler.events] == [4, 2]
    assert mapping.stats.partial_failures == 1


def test_function_error_bisects_and_exhausted_retries_go_to_on_failure(stream):
    put(stream, [b"a", b"b", b"poison", b"d"])
    failures: list[dict] = []
    handler = RecordingHandler(crash_on={b"poison"})
    mapping = make(stream, handler, failures=failures, max_retries=1)
    mapping.poll(flush=True)
    assert sorted(handler.seen) == [b"a", b"b", b"d"]
    assert mapping.stats.bisections >= 2
    assert len(failures) == 1
    info = failures[0]["KinesisBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == ARN
    assert failures[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"


def test_unknown_item_identifier_fails_the_whole_batch(stream):
    put(stream, [b"a", b"b"])
    calls = []

    def handler(event, context):
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            return {"batchItemFailures": [{"itemIdentifier": "not-a-sequence-number"}]}
        return {"batchItemFailures": []}

    make(stream, handler, bisect_on_error=False).poll(flush=True)
    assert calls == [2, 2]


def test_checkpoints_resume_after_restart(stream, tmp_path):
    path = tmp_path / "checkpoints.json"
    put(stream, [b"1", b"2", b"3"])
    first = RecordingHandler()
    make(stream, first, CheckpointStore(path)).poll(flush=True)
    put(stream, [b"4", b"5"])
    second = RecordingHandler()
    make(stream, second, CheckpointStore(path)).poll(flush=True)  # a new process: same file
    assert first.seen == [b"1", b"2", b"3"]
    assert second.seen == [b"4", b"5"]


def test_old_records_are_sent_to_on_failure(stream):
    put(stream, [b"stale"])
    failures: list[dict] = []
    handler = RecordingHandler()
    make(stream, handler, failures=failures, max_record_age_seconds=0).poll(flush=True)
    # a record is older than 0 s by the time it is polled
    assert handler.seen == []
    assert failures[0]["requestContext"]["condition"] == "RecordAgeExceeded"
