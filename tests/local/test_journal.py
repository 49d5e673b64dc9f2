"""The embedded moto server keeps its state across restarts, crashes, torn writes and a full disk."""

from __future__ import annotations

import json
import os
import struct

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local import wal
from local.journal import JOURNAL_FILE, SNAPSHOT_FILE, ReplayError, is_state_changing
from local.moto_server import EmbeddedMotoServer
from tests.local.journals import write_unreplayable_journal

NO_COMPACTION = {"compact_every_records": 10**9}


def client(endpoint: str, service: str, retries: int = 1):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(retries={"max_attempts": retries, "mode": "standard"}),
    )


def crash(server: EmbeddedMotoServer) -> None:
    """What kill -9 leaves behind: the server gone, no snapshot, the journal as written so far."""
    server._server.stop()  # type: ignore[union-attr]
    server._server = None
    server._app = None


@pytest.mark.parametrize(
    ("target", "method", "expected"),
    [
        ("Kinesis_20131202.PutRecords", "POST", True),
        ("Kinesis_20131202.GetRecords", "POST", False),
        ("DynamoDB_20120810.BatchWriteItem", "POST", True),
        ("DynamoDB_20120810.Query", "POST", False),
        ("AmazonSQS.ReceiveMessage", "POST", True),  # draws receipt handles and hides messages
        (None, "PUT", True),
        (None, "GET", False),
    ],
)
def test_only_state_changing_requests_are_journaled(target, method, expected):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": "/"}
    if target:
        environ["HTTP_X_AMZ_TARGET"] = target
    assert is_state_changing(environ, b"") is expected


def _fill(endpoint: str) -> list[str]:
    kinesis, ddb, s3 = client(endpoint, "kinesis"), client(endpoint, "dynamodb"), client(endpoint, "s3")
    kinesis.create_stream(StreamName="s", ShardCount=1)
    sequence = kinesis.put_records(StreamName="s", Records=[{"Data": b"a", "PartitionKey": "k"}] * 3)
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName="t", Item={"pk": {"S": "x"}, "n": {"N": "1.50"}})
    s3.create_bucket(Bucket="bucket-one")
    s3.put_object(Bucket="bucket-one", Key="quotes/symbol=BTC/a.parquet", Body=b"\x00\x01binary")
    return [r["SequenceNumber"] for r in sequence["Records"]]


def _check(endpoint: str, sequence: list[str]) -> None:
    kinesis, ddb, s3 = client(endpoint, "kinesis"), client(endpoint, "dynamodb"), client(endpoint, "s3")
    shard = kinesis.list_shards(StreamName="s")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName="s", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [r["SequenceNumber"] for r in records] == sequence
    assert ddb.get_item(TableName="t", Key={"pk": {"S": "x"}})["Item"]["n"] == {"N": "1.50"}
    assert s3.get_object(Bucket="bucket-one", Key="quotes/symbol=BTC/a.parquet")["Body"].read() == b"\x00\x01binary"


@pytest.mark.parametrize("how", ["crash", "clean stop"])
def test_restart_recovers_the_state(tmp_path, how):
    server = EmbeddedMotoServer(tmp_path, **NO_COMPACTION)
    sequence = _fill(server.start())
    crash(server) if how == "crash" else server.stop()
    assert (tmp_path / SNAPSHOT_FILE).exists() is (how == "clean stop")

    again = EmbeddedMotoServer(tmp_path, **NO_COMPACTION)
    try:
        _check(again.start(), sequence)
        assert (again.replayed >= 6) is (how == "crash")
    finally:
        again.stop()


def _ensure_key(kms) -> str:
    """What local.resources does on every start: reuse the aliased key or create one."""
    for alias in kms.list_aliases()["Aliases"]:
        if alias["AliasName"] == "alias/app" and alias.get("TargetKeyId"):
            return alias["TargetKeyId"]
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/app", TargetKeyId=key)
    return key


def test_a_kms_key_survives_crashes_instead_of_a_new_key_per_start(tmp_path):
    """Issue 10: replay created a key with a fresh random id, so the journaled alias named nothing."""
    ids = []
    for _ in range(3):
        server = EmbeddedMotoServer(tmp_path, **NO_COMPACTION)
        kms = client(server.start(), "kms")
        ids.append(_ensure_key(kms))
        assert len(kms.list_keys()["Keys"]) == 1
        crash(server)
    assert len(set(ids)) == 1


@pytest.mark.parametrize("how", ["crash", "clean stop"])
def test_deleted_messages_stay_deleted_after_a_restart(tmp_path, how):
    """Issue 10: receipt handles drawn again on replay did not match, the deletes failed, the queue doubled."""
    server = EmbeddedMotoServer(tmp_path, **NO_COMPACTION)
    sqs = client(server.start(), "sqs")
    url = sqs.create_queue(QueueName="quarantine")["QueueUrl"]
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"poison {i}")
    # what `cryptostream dlq redrive` does, then the consumer quarantines the records again
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)["Messages"]
    sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)]
    )
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"poison {i} again")
    crash(server) if how == "crash" else server.stop()

    again = EmbeddedMotoServer(tmp_path, **NO_COMPACTION)
    sqs = client(again.start(), "sqs")
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "5"
    finally:
        again.stop()


def test_a_torn_tail_is_truncated_with_one_notice_and_the_rest_kept(tmp_path):
    server = EmbeddedMotoServer(tmp_path, **NO_COMPACTION)
    sequence = _fill(server.start())
    crash(server)
    journal = tmp_path / JOURNAL_FILE
    with journal.open("ab") as file:  # half a record: a header promising 500 bytes, 7 of them written
        file.write(struct.pack("<II", 500, 0) + b"partial")

    again = EmbeddedMotoServer(tmp_path, **NO_COMPACTION)
    try:
        _check(again.start(), sequence)
        notices = again.status.drain()  # type: ignore[union-attr]
        assert len(notices) == 1 and "torn tail of 15 bytes" in notices[0]
        assert journal.stat().st_size == 0 and (tmp_path / SNAPSHOT_FILE).exists()  # replayed, then compacted
    finally:
        crash(again)


def test_a_record_with_a_bad_checksum_ends_the_journal(tmp_path):
    journal = tmp_path / JOURNAL_FILE
    good = wal.encode(b"first")
    bad = bytearray(wal.encode(b"second"))
    bad[-1] ^= 0xFF
    journal.write_bytes(good + bytes(bad))
    assert [payload for _, payload in wal.read_records(journal)] == [b"first"]
    assert wal.intact_size(journal) == len(good)


def test_a_full_disk_refuses_the_request_cleanly_and_loses_nothing_once_it_frees(tmp_path, monkeypatch):
    marker = tmp_path / "disk-full"
    monkeypatch.setenv(wal.ENOSPC_FILE_ENV, str(marker))
    server = EmbeddedMotoServer(tmp_path / "home", **NO_COMPACTION)
    ddb = client(server.start(), "dynamodb")
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName="t", Item={"pk": {"S": "before"}})
    size = (tmp_path / "home" / JOURNAL_FILE).stat().st_size

    marker.touch()
    with pytest.raises(ClientError) as refused:
        ddb.put_item(TableName="t", Item={"pk": {"S": "during"}})
    assert refused.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert "Item" not in ddb.get_item(TableName="t", Key={"pk": {"S": "during"}})  # not applied either
    assert (tmp_path / "home" / JOURNAL_FILE).stat().st_size == size  # and nothing half-written
    notices = server.status.drain()  # type: ignore[union-attr]
    assert len(notices) == 1 and "No space left on device" in notices[0]

    marker.unlink()
    ddb.put_item(TableName="t", Item={"pk": {"S": "after"}})
    assert "writing again" in server.status.drain()[0]  # type: ignore[union-attr]
    crash(server)

    again = EmbeddedMotoServer(tmp_path / "home", **NO_COMPACTION)
    ddb = client(again.start(), "dynamodb")
    try:
        keys = {item["pk"]["S"] for item in ddb.scan(TableName="t")["Items"]}
        assert keys == {"before", "after"}
    finally:
        again.stop()


def test_botocore_retries_a_refused_request_until_the_disk_frees(tmp_path, monkeypatch):
    marker = tmp_path / "disk-full"
    monkeypatch.setenv(wal.ENOSPC_FILE_ENV, str(marker))
    server = EmbeddedMotoServer(tmp_path / "home", **NO_COMPACTION)
    endpoint = server.start()
    sqs = client(endpoint, "sqs", retries=5)
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    marker.touch()
    attempts = []

    def free_before_the_retry(request, **_):
        attempts.append(1)
        if len(attempts) == 2:
            marker.unlink()

    sqs.meta.events.register("before-send.sqs.SendMessage", free_before_the_retry)
    sqs.send_message(QueueUrl=url, MessageBody="m")
    assert len(attempts) == 2  # the first was refused, botocore retried it
    server.stop()


def test_a_replayed_request_that_fails_stops_start_up_naming_the_record(tmp_path):
    write_unreplayable_journal(tmp_path, seq=7)
    server = EmbeddedMotoServer(tmp_path)
    with pytest.raises(ReplayError, match=r"journal record #7 \(PutItem, 2023-11-14 22:13:20 UTC\)"):
        server.start()


def test_a_request_that_failed_originally_is_not_reapplied(tmp_path):
    server = EmbeddedMotoServer(tmp_path, **NO_COMPACTION)
    ddb = client(server.start(), "dynamodb")
    with pytest.raises(ClientError):
        ddb.put_item(TableName="missing", Item={"pk": {"S": "x"}})
    crash(server)
    again = EmbeddedMotoServer(tmp_path, **NO_COMPACTION)
    again.start()  # would raise ReplayError if the failed request were judged as a success
    assert again.replayed == 0
    again.stop()


def test_compaction_bounds_the_journal_and_keeps_every_write(tmp_path):
    server = EmbeddedMotoServer(tmp_path, compact_every_records=5)
    sqs = client(server.start(), "sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    for i in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    records = sum(1 for _ in wal.read_records(tmp_path / JOURNAL_FILE))
    assert records <= 2 * 5  # request + outcome records since the last snapshot
    crash(server)
    again = EmbeddedMotoServer(tmp_path, compact_every_records=5)
    sqs = client(again.start(), "sqs")
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "12"
        assert again.replayed <= 5
    finally:
        again.stop()
    assert (tmp_path / JOURNAL_FILE).stat().st_size == 0  # a clean stop leaves everything in the snapshot


def test_a_crash_between_snapshot_and_journal_reset_replays_nothing_twice(tmp_path):
    server = EmbeddedMotoServer(tmp_path, **NO_COMPACTION)
    sqs = client(server.start(), "sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="once")
    journal_bytes = (tmp_path / JOURNAL_FILE).read_bytes()
    server.stop()  # snapshot written, journal emptied
    (tmp_path / JOURNAL_FILE).write_bytes(journal_bytes)  # as if the process died before emptying it
    again = EmbeddedMotoServer(tmp_path, **NO_COMPACTION)
    sqs = client(again.start(), "sqs")
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"
        assert again.replayed == 0
    finally:
        again.stop()


def test_a_legacy_journal_is_migrated(tmp_path):
    import base64

    body = json.dumps({"QueueName": "old"}).encode()
    entry = {
        "method": "POST",
        "path": "/",
        "query": "",
        "headers": {
            "x-amz-target": "AmazonSQS.CreateQueue",
            "content-type": "application/x-amz-json-1.0",
            "authorization": "AWS4-HMAC-SHA256 Credential=x/20231114/us-east-1/sqs/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
        "host": "localhost",
        "body": base64.b64encode(body).decode(),
    }
    (tmp_path / "journal.jsonl").write_text(json.dumps(entry) + "\n")
    server = EmbeddedMotoServer(tmp_path)
    sqs = client(server.start(), "sqs")
    try:
        assert sqs.get_queue_url(QueueName="old")["QueueUrl"]
        assert "migrated 1 requests" in server.status.drain()[0]  # type: ignore[union-attr]
        assert (tmp_path / "journal.jsonl.migrated").exists() and not (tmp_path / "journal.jsonl").exists()
    finally:
        server.stop()


def test_journal_files_are_private(tmp_path):
    server = EmbeddedMotoServer(tmp_path)
    client(server.start(), "sqs").create_queue(QueueName="q")
    server.stop()
    for name in (JOURNAL_FILE, SNAPSHOT_FILE):
        assert os.stat(tmp_path / name).st_mode & 0o077 == 0


def test_a_request_that_raises_inside_moto_is_recorded_as_failed(tmp_path):
    import io

    from local.journal import Journal, JournalingApp, _decode

    def broken(environ, start_response):
        raise RuntimeError("moto bug")

    journal = Journal(tmp_path)
    journal.recover(broken)
    app = JournalingApp(broken, journal)
    body = b'{"QueueName": "q"}'
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "HTTP_X_AMZ_TARGET": "AmazonSQS.CreateQueue",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    with pytest.raises(RuntimeError):
        app(environ, lambda *a: None)
    kinds = [_decode(payload)[0] for _, payload in wal.read_records(tmp_path / JOURNAL_FILE)]
    assert [(m["k"], m.get("s")) for m in kinds] == [("req", None), ("out", 500)]
    app.close()


@pytest.mark.parametrize("durable", [True, False])
def test_a_chunked_upload_is_stored_whole_and_survives_a_crash(tmp_path, durable):
    """Streaming S3 writers (pyarrow, DuckDB) send Transfer-Encoding: chunked with no Content-Length."""
    import requests

    payload = b"PAR1" + bytes(range(256)) * 64
    server = EmbeddedMotoServer(tmp_path if durable else None, **NO_COMPACTION)
    endpoint = server.start()
    try:
        client(endpoint, "s3").create_bucket(Bucket="rollups")
        chunks = (payload[i : i + 1000] for i in range(0, len(payload), 1000))  # a generator: requests sends it chunked
        response = requests.put(f"{endpoint}/rollups/month.parquet", data=chunks, timeout=10)
        assert response.status_code == 200, response.text
        assert response.request.headers.get("Transfer-Encoding") == "chunked"
        assert client(endpoint, "s3").get_object(Bucket="rollups", Key="month.parquet")["Body"].read() == payload
    finally:
        crash(server) if durable else server.stop()
    if durable:
        again = EmbeddedMotoServer(tmp_path, **NO_COMPACTION)
        try:
            body = client(again.start(), "s3").get_object(Bucket="rollups", Key="month.parquet")["Body"].read()
            assert body == payload
        finally:
            again.stop()
