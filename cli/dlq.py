"""Reading and redriving the quarantine queue (poison records with their reason)."""

from __future__ import annotations

import base64
import json
from typing import Any

from cli.target import Target

PUT_RECORDS_LIMIT = 500


def _queue(target: Target) -> str:
    return target.quarantine_queue_url or target.queue_url(target.config.quarantine_queue_name)


def _row(message: dict[str, Any]) -> dict[str, Any]:
    try:
        body = json.loads(message["Body"])
    except ValueError:
        body = {"reason": "unreadable quarantine message", "payload": message["Body"]}
    payload = str(body.get("payload", ""))
    return {
        "message_id": message["MessageId"],
        "reason": body.get("reason"),
        "shard_id": body.get("shard_id"),
        "sequence_number": body.get("sequence_number"),
        "partition_key": body.get("partition_key"),
        "payload": payload if len(payload) <= 120 else payload[:117] + "...",
    }


def peek(target: Target, limit: int) -> list[dict[str, Any]]:
    """Read without consuming: visibility timeout 0 leaves every message in the queue."""
    sqs, url = target.clients.sqs, _queue(target)
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(max(3, limit // 5)):
        response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0)
        messages = response.get("Messages", [])
        if not messages:
            break
        fresh = [m for m in messages if m["MessageId"] not in seen]
        for message in fresh:
            seen[message["MessageId"]] = _row(message)
        if not fresh or len(seen) >= limit:
            break
    return list(seen.values())[:limit]


def _payload_bytes(body: dict[str, Any]) -> bytes:
    payload = body.get("payload", "")
    if body.get("payload_encoding") == "base64":
        return base64.b64decode(payload)
    return str(payload).encode()


def redrive(target: Target, limit: int) -> dict[str, int]:
    """Put payloads back on the stream with PutRecords; delete a message only once Kinesis accepted it."""
    sqs, url = target.clients.sqs, _queue(target)
    kinesis, stream = target.clients.kinesis, target.config.stream_name
    redriven = 0
    while redriven < limit:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
        if not messages:
            break
        bodies = [json.loads(m["Body"]) for m in messages]
        records = [{"Data": _payload_bytes(b), "PartitionKey": b.get("partition_key") or "redrive"} for b in bodies]
        response = kinesis.put_records(StreamName=stream, Records=records)
        accepted = [m for m, r in zip(messages, response["Records"], strict=True) if "ErrorCode" not in r]
        if accepted:
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(accepted)],
            )
        redriven += len(accepted)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return {"redriven": redriven, "remaining": int(attributes.get("ApproximateNumberOfMessages", 0))}
