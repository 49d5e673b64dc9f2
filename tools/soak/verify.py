"""Account for every record after the soak: table, LATEST, quarantine, archive, on-failure queue.

Reads the outputs back through the same APIs a user would (Query, GetItem, ReceiveMessage,
GetObject of the Parquet archive) and compares them with the ledger, key by key and value by value.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal
from typing import Any

import pyarrow.parquet as pq

from cryptostream_model.keys import table_pk
from cryptostream_model.serving import from_item, get_latest
from local.stack import LocalStack
from tools.soak.ledger import VALUE_FIELDS, BarKey, Ledger, bar_key, bar_values

_SAMPLE = 5  # problems listed per kind


@dataclass
class Verdict:
    quotes: int = 0  # distinct valid quotes the market had in the span
    published_distinct: int = 0
    never_published: int = 0
    missing_in_table: int = 0
    wrong_values: int = 0
    duplicated_in_table: int = 0
    unexpected_in_table: int = 0
    latest_wrong: int = 0
    poison_injected: int = 0
    poison_quarantined: int = 0
    poison_missing: int = 0
    poison_wrong_reason: int = 0
    valid_quarantined: int = 0
    quarantine_messages: int = 0
    missing_in_archive: int = 0
    archive_rows: int = 0
    archive_objects: int = 0
    on_failure_batches: int = 0
    watermark_regressions: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Distinct valid quotes missing anywhere they must be, plus poison missing from quarantine."""
        return self.never_published + self.missing_in_table + self.missing_in_archive + self.poison_missing

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.wrong_values
            or self.duplicated_in_table
            or self.unexpected_in_table
            or self.latest_wrong
            or self.poison_wrong_reason
            or self.valid_quarantined
            or self.watermark_regressions
        )

    def note(self, kind: str, examples: list[Any]) -> None:
        if examples:
            self.problems.append(f"{kind}: {len(examples)} (e.g. {', '.join(map(str, examples[:_SAMPLE]))})")


def verify(stack: LocalStack, ledger: Ledger, pairs: list[str]) -> Verdict:
    verdict = Verdict(quotes=len(ledger.expected), published_distinct=len(ledger.published))
    never = sorted(ledger.expected - set(ledger.published))
    verdict.never_published = len(never)
    verdict.note("bars of the market never published", never)
    _check_table(stack, ledger, pairs, verdict)
    _check_latest(stack, ledger, verdict)
    _check_quarantine(stack, ledger, verdict)
    check_archive(stack, ledger, verdict)
    verdict.on_failure_batches = _drain_count(stack.clients.sqs, stack.resources.esm_failure_queue_url)[0]
    verdict.watermark_regressions = len(ledger.watermark_regressions)
    verdict.note("watermark moved back", ledger.watermark_regressions)
    return verdict


def _table_bars(stack: LocalStack, pair: str, interval: str) -> list[dict[str, Any]]:
    request: dict[str, Any] = {
        "TableName": stack.config.table_name,
        "KeyConditionExpression": "pk = :pk AND sk < :letters",  # LATEST, WATERMARK sort after digits
        "ExpressionAttributeValues": {":pk": {"S": table_pk(pair, interval)}, ":letters": {"S": "A"}},
        "ConsistentRead": True,
    }
    items: list[dict[str, Any]] = []
    while True:
        page = stack.clients.dynamodb.query(**request)
        items += (from_item(item) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _check_table(stack: LocalStack, ledger: Ledger, pairs: list[str], verdict: Verdict) -> None:
    seen: dict[BarKey, int] = {}
    wrong: list[BarKey] = []
    unexpected: list[BarKey] = []
    for pair in pairs:
        for item in _table_bars(stack, pair, ledger.interval):
            key = bar_key(pair, item["sk"])
            seen[key] = seen.get(key, 0) + 1
            published = ledger.published.get(key)
            if published is None:
                unexpected.append(key)
            elif bar_values(item) not in published:
                wrong.append(key)
    missing = sorted(set(ledger.published) - set(seen))
    duplicated = sorted(key for key, count in seen.items() if count > 1)
    verdict.missing_in_table = len(missing)
    verdict.wrong_values, verdict.unexpected_in_table = len(wrong), len(unexpected)
    verdict.duplicated_in_table = sum(seen[key] - 1 for key in duplicated)
    verdict.note("published but not in the table", missing)
    verdict.note("table values differ from what was published", wrong)
    verdict.note("bar stored more than once", duplicated)
    verdict.note("table bar nobody published", unexpected)


def _check_latest(stack: LocalStack, ledger: Ledger, verdict: Verdict) -> None:
    wrong: list[str] = []
    for pair, key in sorted(ledger.newest_per_pair().items()):
        latest = get_latest(stack.clients.dynamodb, stack.config.table_name, pair, ledger.interval, consistent=True)
        if latest is None or bar_key(pair, latest["ts"]) != key or bar_values(latest) not in ledger.published[key]:
            wrong.append(f"{pair} LATEST={None if latest is None else latest['ts']}")
    verdict.latest_wrong = len(wrong)
    verdict.note("LATEST is not the newest bar", wrong)


def _drain_count(sqs: Any, queue_url: str) -> tuple[int, list[dict[str, Any]]]:
    """Receive every message of a queue (hidden for an hour so none is read twice); returns bodies."""
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=3600).get(
            "Messages", []
        )
        if not messages:
            return len(bodies), bodies
        bodies += (json.loads(message["Body"]) for message in messages)


def _check_quarantine(stack: LocalStack, ledger: Ledger, verdict: Verdict) -> None:
    count, bodies = _drain_count(stack.clients.sqs, stack.resources.quarantine_queue_url)
    verdict.quarantine_messages = count
    found: dict[tuple[str, str], set[str]] = {}
    for body in bodies:
        record = (str(body.get("shard_id")), str(body.get("sequence_number")))
        found.setdefault(record, set()).add(str(body.get("reason_code")))
    expected = {(poison.shard_id, poison.sequence_number): poison.reason_code for poison in ledger.poison}
    missing = [seq for seq in expected if seq not in found]
    wrong = [
        f"{seq}: {found[seq]} != {code}" for seq, code in expected.items() if seq in found and found[seq] != {code}
    ]
    valid = [seq for seq in found if seq not in expected]
    verdict.poison_injected = len(expected)
    verdict.poison_quarantined = len(expected) - len(missing)
    verdict.poison_missing, verdict.poison_wrong_reason, verdict.valid_quarantined = (
        len(missing),
        len(wrong),
        len(valid),
    )
    verdict.note("poison not in quarantine", missing)
    verdict.note("poison quarantined with another reason", wrong)
    verdict.note("valid record quarantined", valid)


def check_archive(stack: LocalStack, ledger: Ledger, verdict: Verdict) -> None:
    s3, bucket = stack.clients.s3, stack.config.archive_bucket_name
    archived: set[BarKey] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="quotes/"):
        for obj in page.get("Contents", []):
            parts = dict(part.split("=", 1) for part in obj["Key"].split("/")[1:-1])
            pair = f"{parts['symbol']}-{parts['market']}"
            table = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()))
            columns = table.select(["interval", "ts", *VALUE_FIELDS]).to_pydict()
            verdict.archive_objects += 1
            for index, ts in enumerate(columns["ts"]):
                verdict.archive_rows += 1
                if columns["interval"][index] != ledger.interval:
                    continue
                key = (pair, int(ts.replace(tzinfo=UTC).timestamp()))
                values = tuple(_float(columns[name][index]) for name in VALUE_FIELDS)
                # Parquet keeps doubles: compare as such, not as the decimal strings of the stream
                if any(_as_floats(v) == values for v in ledger.published.get(key, ())):
                    archived.add(key)
    missing = sorted(set(ledger.published) - archived)
    verdict.missing_in_archive = len(missing)
    verdict.note("published but not in the archive (with its values)", missing)


def _float(value: float | None) -> float:
    return float("nan") if value is None else float(value)  # convertible poison may lack a price


def _as_floats(values: tuple[Decimal, ...]) -> tuple[float, ...]:
    return tuple(float(value) for value in values)
