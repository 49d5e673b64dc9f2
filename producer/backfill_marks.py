"""Backfill progress marks: how far one chunk of a backfill got, per pair, so a rerun resumes.

A backfill event (``mode: full``) may name its chunk: ``"backfill": "<backfill_id>/<chunk_id>"`` (the state
machine and ``cryptostream backfill`` do, from ``cryptostream_model.backfill``). The run then keeps, per pair,
``pk = BTC-USD#5min``, ``sk = BACKFILL#<backfill_id>/<chunk_id>``, attribute ``ts``: the newest bar of the
chunk that Kinesis accepted, over the contiguous accepted prefix. A rerun of the chunk publishes only bars
newer than the mark, so a backfill resumed after a failure never republishes what was accepted. The mark
only moves forward (same condition as the watermark) and expires after ``MARK_TTL_SECONDS``.
"""

from __future__ import annotations

import re
import time

from botocore.exceptions import ClientError

from cryptostream_model.keys import TTL_ATTRIBUTE, table_pk
from producer.watermark_writes import WATERMARK_CONDITION

BACKFILL_SK_PREFIX = "BACKFILL#"
MARK_TTL_SECONDS = 30 * 86400
BACKFILL_KEY = re.compile(r"[0-9a-z]{1,32}/[0-9a-z-]{1,32}")
_BATCH_GET_LIMIT = 100


def mark_sk(backfill_key: str) -> str:
    return f"{BACKFILL_SK_PREFIX}{backfill_key}"


class BackfillMarks:
    """Reads and advances one chunk's marks (one BatchGetItem; one conditional UpdateItem per pair)."""

    def __init__(self, client: object, table_name: str, backfill_key: str) -> None:
        self.client = client
        self.table_name = table_name
        self.sk = mark_sk(backfill_key)

    def get_many(self, pairs: list[str], interval: str) -> dict[str, str]:
        by_pk = {table_pk(pair, interval): pair for pair in pairs}
        found: dict[str, str] = {}
        pks = list(by_pk)
        for start in range(0, len(pks), _BATCH_GET_LIMIT):
            keys = [{"pk": {"S": pk}, "sk": {"S": self.sk}} for pk in pks[start : start + _BATCH_GET_LIMIT]]
            request = {self.table_name: {"Keys": keys, "ProjectionExpression": "pk, ts", "ConsistentRead": True}}
            for _ in range(8):  # unread keys count as no mark: their bars are published again, never skipped
                response = self.client.batch_get_item(RequestItems=request)  # type: ignore[attr-defined]
                for item in response.get("Responses", {}).get(self.table_name, []):
                    found[by_pk[item["pk"]["S"]]] = item["ts"]["S"]
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
        return found

    def advance_many(self, targets: dict[str, str], interval: str) -> None:
        now = int(time.time())
        for pair, ts in targets.items():
            try:
                self.client.update_item(  # type: ignore[attr-defined]
                    TableName=self.table_name,
                    Key={"pk": {"S": table_pk(pair, interval)}, "sk": {"S": self.sk}},
                    UpdateExpression=f"SET #ts = :ts, updated_at = :now, {TTL_ATTRIBUTE} = :expires",
                    ConditionExpression=WATERMARK_CONDITION,
                    ExpressionAttributeNames={"#ts": "ts"},
                    ExpressionAttributeValues={
                        ":ts": {"S": ts},
                        ":now": {"N": str(now)},
                        ":expires": {"N": str(now + MARK_TTL_SECONDS)},
                    },
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
