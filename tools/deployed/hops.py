"""Read what the deployed pipeline holds at every hop, and reconcile the hops with each other.

A bar is identified by ``(symbol, market, interval, ts)`` everywhere: on the stream (the record), in
DynamoDB (``pk``/``sk``), in the archive (partition columns + row). Reading is one module per store's
API; ``reconcile`` is pure, so its accounting is unit-tested without an emulator.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from cryptostream_model.keys import LATEST_SK, LEASE_SK, WATERMARK_SK
from cryptostream_model.record import PoisonRecord, format_ts, parse_record

BarKey = tuple[str, str, str, str]  # symbol, market, interval, ts
_CONTROL_SKS = {LATEST_SK, WATERMARK_SK, LEASE_SK}


@dataclass(frozen=True)
class StreamContents:
    records: int
    quotes: dict[BarKey, str]  # key -> close, last record wins (a republished bar carries the same values)
    quote_records: int
    poison: int


@dataclass(frozen=True)
class TableContents:
    bars: dict[BarKey, str]  # key -> close
    latest: dict[tuple[str, str, str], str]  # (symbol, market, interval) -> ts of the LATEST item


@dataclass(frozen=True)
class ArchiveContents:
    objects: int
    rows: Counter[BarKey]


@dataclass(frozen=True)
class Quarantine:
    reasons: list[str]  # reason_code of each message


@dataclass
class Reconciliation:
    published: int
    in_table: int
    archived: int
    quarantined: int
    lost: int
    differences: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        return (
            f"deployed: {self.published} published, {self.in_table} in DynamoDB, {self.archived} archived, "
            f"{self.quarantined} quarantined, {self.lost} lost"
        )


def read_stream(kinesis: Any, stream: str) -> StreamContents:
    """Every record still on the stream, from TRIM_HORIZON of every shard."""
    records = poison = quote_records = 0
    quotes: dict[BarKey, str] = {}
    shards = kinesis.list_shards(StreamName=stream)["Shards"]
    for shard in shards:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            for record in page["Records"]:
                records += 1
                try:
                    quote = parse_record(record["Data"])
                except PoisonRecord:
                    poison += 1
                    continue
                quote_records += 1
                quotes[(quote.symbol, quote.market, quote.interval, quote.ts)] = str(quote.close)
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
    return StreamContents(records, quotes, quote_records, poison)


def read_table(dynamodb: Any, table: str) -> TableContents:
    bars: dict[BarKey, str] = {}
    latest: dict[tuple[str, str, str], str] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            pk, sk = item["pk"]["S"], item["sk"]["S"]
            if "#" not in pk or "-" not in pk.split("#")[0]:
                continue  # the producer's lease items: PRODUCER#<source>#<interval>
            pair, interval = pk.split("#", 1)
            symbol, market = pair.split("-", 1)
            if sk == LATEST_SK:
                latest[(symbol, market, interval)] = item["ts"]["S"]
            elif sk not in _CONTROL_SKS:
                bars[(symbol, market, interval, sk)] = item["close"]["N"]
    return TableContents(bars, latest)


def read_archive(s3: Any, bucket: str, prefix: str) -> ArchiveContents:
    """Rows of every Parquet object under ``prefix``; symbol and market come from the Hive partition path.

    Timestamps may be naive (UTC, as Firehose and ``local.archive_writer`` write them) or zoned (MiniStack's
    Firehose converts through DuckDB): both read as the same UTC moment."""
    import pyarrow.parquet as pq

    rows: Counter[BarKey] = Counter()
    objects = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            objects += 1
            parts = dict(p.split("=", 1) for p in entry["Key"].split("/") if "=" in p)
            body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
            table = pq.read_table(io.BytesIO(body))
            for interval, ts in zip(table.column("interval").to_pylist(), table.column("ts").to_pylist(), strict=True):
                moment = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
                rows[(parts.get("symbol", "?"), parts.get("market", "?"), interval, format_ts(moment))] += 1
    return ArchiveContents(objects, rows)


def read_quarantine(sqs: Any, queue_url: str) -> Quarantine:
    """Every message, received with a short visibility timeout and not deleted (the queue keeps them)."""
    reasons: list[str] = []
    seen: set[str] = set()
    for _ in range(20):
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30, WaitTimeSeconds=0
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            reasons.append(json.loads(message["Body"]).get("reason_code", "?"))
    return Quarantine(reasons)


def reconcile(
    stream: StreamContents, table: TableContents, archive: ArchiveContents, quarantine: Quarantine,
    *, failure_queue_depth: int = 0,
) -> Reconciliation:  # fmt: skip
    """Every bar on the stream must be in DynamoDB (same close) and in the archive; every poison record quarantined."""
    published = set(stream.quotes)
    in_table = published & set(table.bars)
    archived = published & set(archive.rows)
    differences: list[str] = []
    missing_table = sorted(published - set(table.bars))
    missing_archive = sorted(published - set(archive.rows))
    if missing_table:
        differences.append(f"{len(missing_table)} bars missing from DynamoDB, e.g. {missing_table[0]}")
    if missing_archive:
        differences.append(f"{len(missing_archive)} bars missing from the archive, e.g. {missing_archive[0]}")
    phantoms = sorted(set(table.bars) - published)
    if phantoms:
        differences.append(f"{len(phantoms)} bars in DynamoDB that were never on the stream, e.g. {phantoms[0]}")
    unknown_archived = sorted(set(archive.rows) - published)
    if unknown_archived:
        differences.append(f"{len(unknown_archived)} archived bars never on the stream, e.g. {unknown_archived[0]}")
    changed = [k for k in in_table if _number(table.bars[k]) != _number(stream.quotes[k])]
    if changed:
        differences.append(f"{len(changed)} bars differ between stream and DynamoDB, e.g. {changed[0]}")
    newest: dict[tuple[str, str, str], str] = {}
    for symbol, market, interval, ts in published:
        series = (symbol, market, interval)
        newest[series] = max(ts, newest.get(series, ts))
    for series, ts in sorted(newest.items()):
        if table.latest.get(series) != ts:
            differences.append(f"LATEST of {'-'.join(series[:2])}#{series[2]} is {table.latest.get(series)}, not {ts}")
    quarantined = len(quarantine.reasons)
    if quarantined != stream.poison:
        differences.append(f"{stream.poison} poison records on the stream but {quarantined} in quarantine")
    if failure_queue_depth:
        differences.append(f"{failure_queue_depth} batches in the event source mapping's failure queue")
    lost = len(missing_table) + len(missing_archive) + max(0, stream.poison - quarantined)
    return Reconciliation(len(published), len(in_table), len(archived), quarantined, lost, differences)


def _number(text: str) -> Any:
    from decimal import Decimal

    return Decimal(text)
