"""The archive's change log: S3 ``ObjectCreated`` notifications on an SQS queue, drained by the plan.

Each archive object written (Firehose's put, a replay, a late copy) is one notification; the plan receives them 10
at a time, keeps the objects in the archive layout, records them DURABLY in a small pending-changes object under
the rollups prefix (``<ROLLUPS_PREFIX>_pending_changes.json``, merged with whatever a failed execution left there),
and only then deletes the messages. Commit empties the object once the data and watermarks are written. So a
failure anywhere loses nothing: before the pending write the messages come back (visibility timeout), after it the
object keeps them until a commit. Receipt handles stay in this invocation; only counts travel in the plan.

S3 URL-encodes the key in a notification (``symbol%3DBTC/...``, ``+`` for a space): ``unquote_plus`` gives the key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from cryptostream_model.rollups import ArchiveObject, Partition, archive_object

PENDING_FILE = "_pending_changes.json"
PENDING_VERSION = 1
RECEIVE_BATCH = 10  # SQS's most per ReceiveMessage
DELETE_BATCH = 10  # and per DeleteMessageBatch


@dataclass
class Drained:
    """What one drain of the queue found (counts for the log line) and the messages to delete once recorded."""

    objects: list[ArchiveObject] = field(default_factory=list)
    receipts: list[str] = field(default_factory=list)
    messages: int = 0
    receives: int = 0
    test_events: int = 0
    outside_layout: int = 0  # keys outside the archive layout (an emulator's time folders, hidden files, errors/)
    unreadable: int = 0  # bodies that are not S3 notifications: deleted too, they would never parse
    exhausted: bool = False  # the budget ended with the queue possibly not empty: the rest waits for the next run

    def counts(self) -> dict[str, int | bool]:
        return {"messages": self.messages, "receives": self.receives, "objects": len(self.objects),
                "test_events": self.test_events, "outside_layout": self.outside_layout,
                "unreadable": self.unreadable, "budget_exhausted": self.exhausted}  # fmt: skip


def event_time_ns(text: str) -> int:
    """A notification's ``eventTime`` (``2026-11-21T10:00:03.123Z``) in whole seconds, as S3 lists LastModified,
    so a watermark advanced from notifications compares with one advanced from a listing."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1_000_000_000


def parse_message(body: str, bucket: str, archive_prefix: str, drained: Drained) -> None:
    """The archive objects of one SQS message body (an S3 notification: ``Records[]``), counted into ``drained``."""
    try:
        event = json.loads(body)
    except ValueError:
        drained.unreadable += 1
        return
    if not isinstance(event, dict):
        drained.unreadable += 1
        return
    if event.get("Event") == "s3:TestEvent":  # sent once when the bucket's notification configuration is set
        drained.test_events += 1
        return
    records = event.get("Records")
    if not isinstance(records, list):
        drained.unreadable += 1
        return
    for record in records:
        try:
            name = str(record["eventName"])
            s3 = record["s3"]
            source = str(s3["bucket"]["name"])
            key = unquote_plus(str(s3["object"]["key"]))
            mtime = event_time_ns(str(record["eventTime"]))
        except (KeyError, TypeError, ValueError):
            drained.unreadable += 1
            continue
        if not name.startswith("ObjectCreated:") or source != bucket or not key.startswith(archive_prefix):
            drained.outside_layout += 1
            continue
        found = archive_object(f"{bucket}/{key}", key[len(archive_prefix):], mtime)
        if found is None:
            drained.outside_layout += 1
        else:
            drained.objects.append(found)


def drain(sqs: Any, queue_url: str, bucket: str, archive_prefix: str, *, max_receives: int, budget_seconds: float,
          wait_seconds: int = 1, clock: Callable[[], float] = time.monotonic) -> Drained:
    """Receive until a receive comes back empty, ``max_receives`` receives or ``budget_seconds``, whichever first.

    A long poll of ``wait_seconds`` per receive: a short poll samples only some of SQS's servers and can come back
    empty while messages wait; a long poll asks them all and returns as soon as any message is there."""
    drained = Drained()
    started = clock()
    while True:
        if drained.receives >= max_receives or clock() - started >= budget_seconds:
            drained.exhausted = True
            return drained
        response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=RECEIVE_BATCH,
                                       WaitTimeSeconds=wait_seconds)
        drained.receives += 1
        messages = response.get("Messages") or []
        if not messages:
            return drained
        for message in messages:
            drained.messages += 1
            drained.receipts.append(str(message["ReceiptHandle"]))
            parse_message(str(message.get("Body", "")), bucket, archive_prefix, drained)


def delete(sqs: Any, queue_url: str, receipts: Iterable[str]) -> int:
    """DeleteMessageBatch, 10 at a time; the count that failed (they come back and are recorded again: harmless)."""
    receipts = list(receipts)
    failed = 0
    for start in range(0, len(receipts), DELETE_BATCH):
        entries = [{"Id": str(i), "ReceiptHandle": handle}
                   for i, handle in enumerate(receipts[start:start + DELETE_BATCH])]
        failed += len(sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed") or [])
    return failed


@dataclass
class Pending:
    """The changes recorded and not yet committed: archive objects by path with their time (for the watermark)."""

    objects: dict[str, ArchiveObject] = field(default_factory=dict)

    def add(self, objects: Iterable[ArchiveObject]) -> int:
        """Merge; how many entries changed: a new path, or a newer time for a known one (the key rewritten), which
        must be written too before its message is deleted (a commit emptying the older version would lose it)."""
        changed = 0
        for obj in objects:
            known = self.objects.get(obj.path)
            if known is None or obj.mtime_ns > known.mtime_ns:
                changed += 1
                self.objects[obj.path] = obj
        return changed

    @property
    def partitions(self) -> set[Partition]:
        return {o.partition for o in self.objects.values()}

    def render(self) -> bytes:
        rows = [[path, obj.mtime_ns] for path, obj in sorted(self.objects.items())]
        return json.dumps({"version": PENDING_VERSION, "objects": rows}, separators=(",", ":")).encode()

    @classmethod
    def parse(cls, body: bytes, bucket: str, archive_prefix: str) -> Pending:
        """A stored pending object; ValueError when it is not one (the caller says what to do)."""
        data = json.loads(body) if body.strip() else {"version": PENDING_VERSION, "objects": []}
        if not isinstance(data, dict) or data.get("version") != PENDING_VERSION:
            raise ValueError("not a pending-changes object of this version")
        pending = cls()
        start = f"{bucket}/{archive_prefix}"
        for path, mtime in data.get("objects") or []:
            path = str(path)
            found = archive_object(path, path[len(start):], int(mtime)) if path.startswith(start) else None
            if found is None:
                raise ValueError(f"{path!r} is not an archive object of s3://{bucket}/{archive_prefix}")
            pending.objects[path] = found
        return pending
