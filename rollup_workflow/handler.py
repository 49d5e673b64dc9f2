"""The rollups state machine's steps: ``plan``, ``rollup`` (one per batch, in a Map) and ``commit``.

``rollup_1h``/``rollup_1d`` are materialized in the archive bucket as JSON-lines month objects
(``<ROLLUPS_PREFIX><table>/symbol=/market=/month=/part-0.json``, ``rollup_workflow.months``) that the Glue tables of
the same names read, each table with a watermark (``<ROLLUPS_PREFIX><table>/_watermark.json``,
``cryptostream_model.rollups.Watermark``, the local rollups' format):

- ``{"action": "plan"}`` lists the archive once (ListObjectsV2 pages under ``ARCHIVE_PREFIX``) and the rollup
  objects once (under ``ROLLUPS_PREFIX``), reads each table's watermark, and groups the (pair, day) partitions with
  objects past it into batches of at most ``ROLLUP_MAX_PARTITIONS_PER_QUERY`` (whole month objects: two batches
  never rewrite one object). Nothing new: no batches, and commit writes nothing.
- ``{"action": "rollup", "batch": {"tables", "days": {"BTC-USD": [days]}, "rebuild", "existing"}}`` runs ONE
  Athena query per table for the batch's partitions (the rendered rollup SQL restricted to them, so each changed
  day is recomputed from all of its objects: late and replayed rows included) and rewrites each affected month
  object with one GetObject and one conditional PutObject (skipped when the bytes would not change). A table
  without a usable watermark (first run, another source interval) is rebuilt: its month objects are replaced, not
  merged, and those left without archive data are emptied.
- ``{"action": "commit", "watermarks": {...}, "results": [...]}`` writes the watermarks the plan computed (after
  the data: a failure before it only repeats work) and logs one summary line.

Errors are one line, of a class the state machine can retry on (``rollup_workflow.errors``); the outcome metric is
the state machine's own (AWS/States ExecutionsSucceeded/ExecutionsFailed).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from cryptostream_model.rollups import (
    MONTH_OBJECT,
    ROLLUP_TABLES,
    ROLLUPS_PREFIX,
    WATERMARK_FILE,
    Partition,
    Watermark,
    archive_object,
    batches,
    decode_days,
    encode_days,
)
from cryptostream_runtime.clients import ClientOptions, clients
from rollup_workflow import athena, months
from rollup_workflow.errors import ConcurrentRollup, PlanTooLarge, RollupStorageError
from rollup_workflow.queries import rollup_query

logger = Logger(service=os.getenv("POWERTOOLS_SERVICE_NAME", "cryptostream-rollups"))
CLIENT_OPTIONS = ClientOptions(max_attempts=4, retry_mode="standard", user_agent_extra="cryptostream-rollups")
DEFAULT_MAX_PARTITIONS = 400
# An S3 object's LastModified is when its upload started; it is listed once complete. The watermark stays this far
# behind the newest object and remembers the objects inside the window by key, so a late-visible one is not missed.
DEFAULT_SETTLE_SECONDS = 900
PLAN_LIMIT_BYTES = 240 * 1024  # Step Functions' 256 KB per state, with room for the execution's own fields


@dataclass(frozen=True)
class Settings:
    bucket: str
    archive_prefix: str
    rollups_prefix: str
    database: str
    archive_table: str
    workgroup: str
    source_interval: str
    max_partitions: int
    query_timeout: float
    settle_seconds: int

    @classmethod
    def from_environment(cls) -> Settings:
        env = os.environ

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ValueError(f"{name} is not set: the rollups function needs it")
            return value

        def prefix(name: str, default: str) -> str:
            value = env.get(name, default).strip().lstrip("/")
            return value if value.endswith("/") else value + "/"

        try:
            max_partitions = int(env.get("ROLLUP_MAX_PARTITIONS_PER_QUERY", DEFAULT_MAX_PARTITIONS))
            timeout = float(env.get("ATHENA_QUERY_TIMEOUT_SECONDS", 600))
            settle = int(env.get("ROLLUP_SETTLE_SECONDS", DEFAULT_SETTLE_SECONDS))
        except ValueError:
            raise ValueError("ROLLUP_MAX_PARTITIONS_PER_QUERY, ATHENA_QUERY_TIMEOUT_SECONDS, ROLLUP_SETTLE_SECONDS: "
                             "numbers") from None
        settings = cls(
            bucket=required("ARCHIVE_BUCKET"),
            archive_prefix=prefix("ARCHIVE_PREFIX", "quotes/"),
            rollups_prefix=prefix("ROLLUPS_PREFIX", ROLLUPS_PREFIX),
            database=required("GLUE_DATABASE"),
            archive_table=env.get("ARCHIVE_TABLE", "quotes").strip() or "quotes",
            workgroup=required("ATHENA_WORKGROUP"),
            source_interval=env.get("SOURCE_INTERVAL", "5min").strip() or "5min",
            max_partitions=max_partitions,
            query_timeout=timeout,
            settle_seconds=max(settle, 0),
        )
        if settings.archive_prefix == settings.rollups_prefix:
            raise ValueError("ARCHIVE_PREFIX and ROLLUPS_PREFIX must differ")
        return settings

    def table_prefix(self, table: str) -> str:
        return f"{self.rollups_prefix}{table}/"

    def watermark_key(self, table: str) -> str:
        return f"{self.table_prefix(table)}{WATERMARK_FILE}"

    def month_object_key(self, table: str, month: str) -> str:
        return f"{self.table_prefix(table)}{month}/{months.OBJECT_NAME}"


def aws() -> Any:
    """This invocation's clients (cached across warm invocations; tests replace Athena's transport)."""
    return clients(CLIENT_OPTIONS)


def _storage(what: str, operation: Callable[..., Any], **params: Any) -> Any:
    try:
        return operation(**params)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "ClientError"))
        if code in ("PreconditionFailed", "ConditionalRequestConflict", "412"):
            raise ConcurrentRollup(f"{what}: the object changed while this step ran (another execution?)") from None
        message = " ".join(str(error.get("Message", "")).split())[:300]
        raise RollupStorageError(f"S3 refused {what}: {code}: {message}") from None
    except BotoCoreError as exc:
        raise RollupStorageError(f"cannot reach S3 for {what}: {' '.join(str(exc).split())[:300]}") from None


def _listing(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    what = f"listing s3://{bucket}/{prefix}"
    return _storage(what, lambda: [item for page in pages for item in page.get("Contents", [])])


def _mtime_ns(moment: datetime) -> int:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    seconds = int(moment.timestamp())  # exact for S3's whole seconds; microseconds added without float rounding
    return seconds * 1_000_000_000 + moment.microsecond * 1_000


# --- plan ----------------------------------------------------------------------------------------------------------
def plan(settings: Settings) -> dict[str, Any]:
    s3 = aws().client("s3")
    objects = []
    for item in _listing(s3, settings.bucket, settings.archive_prefix):
        key = item["Key"]
        found = archive_object(f"{settings.bucket}/{key}", key[len(settings.archive_prefix):],
                               _mtime_ns(item["LastModified"]))
        if found is not None:
            objects.append(found)
    stored = {item["Key"] for item in _listing(s3, settings.bucket, settings.rollups_prefix)}
    foreign = sorted(key for key in stored if key.endswith(".parquet"))
    if foreign:  # a local `cryptostream rollup` wrote here: the JSON SerDe would fail on those objects
        raise RollupStorageError(
            f"s3://{settings.bucket}/{foreign[0]} and {len(foreign) - 1} more are local rollups' Parquet objects in "
            "the cloud tables' folders; remove them (`cryptostream reset --scope rollups`) and run again")
    existing: dict[str, set[str]] = {}
    for table in ROLLUP_TABLES:
        table_prefix = settings.table_prefix(table)
        existing[table] = {key[len(table_prefix):].rsplit("/", 1)[0] for key in stored
                           if key.startswith(table_prefix) and MONTH_OBJECT.fullmatch(key[len(table_prefix):])
                           and key.endswith("/" + months.OBJECT_NAME)}
    marks = {table: _read_watermark(s3, settings, table, settings.watermark_key(table) in stored)
             for table in ROLLUP_TABLES}
    new = {table: [o for o in objects if marks[table].is_new(o)] for table in ROLLUP_TABLES}
    rebuild = {table for table in ROLLUP_TABLES if not marks[table].is_set}

    # Per month object, the tables needing any of its days and the days any of them needs: a month is recomputed in
    # one batch for all its tables (a table may redo a day it did not need: idempotent), so no two batches ever
    # write one object, and a rebuilt table's month always gets every day with archive data.
    month_tables: dict[str, set[str]] = {}
    month_days: dict[str, set[Partition]] = {}
    for table in ROLLUP_TABLES:
        for partition in {o.partition for o in new[table]}:
            month_tables.setdefault(partition.month_key, set()).add(table)
            month_days.setdefault(partition.month_key, set()).add(partition)
    groups: dict[tuple[str, ...], list[Partition]] = {}
    for month, tables in month_tables.items():
        groups.setdefault(tuple(t for t in ROLLUP_TABLES if t in tables), []).extend(month_days[month])
    planned = []
    for tables, partitions in sorted(groups.items()):
        for batch in batches(partitions, settings.max_partitions):
            keys = {p.month_key for p in batch}
            planned.append({
                "tables": list(tables),
                "days": encode_days(batch),
                "rebuild": [t for t in tables if t in rebuild],
                "existing": {t: sorted(keys & existing[t]) for t in tables},
            })
    for table in sorted(rebuild):  # a rebuilt table's months with no archive data left: emptied
        covered = {o.partition.month_key for o in objects}
        stale = sorted(existing[table] - covered)
        if stale:
            planned.append({"tables": [table], "days": {}, "rebuild": [table], "existing": {table: stale},
                            "clear": {table: stale}})
    changed = [t for t in ROLLUP_TABLES if new[t] or (t in rebuild and existing[t])]
    result = {
        "run_id": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8],
        "source_interval": settings.source_interval,
        "batches": planned,
        # Every object listed, so those taken inside the settle window are remembered by key.
        "watermarks": {t: marks[t].advanced(objects, settings.settle_seconds * 1_000_000_000).to_dict()
                       for t in changed},
        "new_objects": {t: len(new[t]) for t in ROLLUP_TABLES},
    }
    size = len(json.dumps(result, separators=(",", ":")))
    if size > PLAN_LIMIT_BYTES:  # Step Functions would fail the state with States.DataLimitExceeded
        raise PlanTooLarge(f"the plan is {size // 1024} KB ({sum(len(p) for p in groups.values())} partitions), over "
                           f"the {PLAN_LIMIT_BYTES // 1024} KB a state may carry")
    logger.info("rollups planned", extra={"run_id": result["run_id"], "archive_objects": len(objects),
                                          "new_objects": result["new_objects"], "batches": len(planned),
                                          "rebuild": sorted(rebuild)})
    return result


def _read_watermark(s3: Any, settings: Settings, table: str, stored: bool) -> Watermark:
    if not stored:
        return Watermark(settings.source_interval)
    key = settings.watermark_key(table)
    body = _storage(f"reading s3://{settings.bucket}/{key}", s3.get_object, Bucket=settings.bucket, Key=key)["Body"]
    try:
        data = json.loads(body.read())
    except ValueError:
        logger.warning("unreadable watermark: the table is rebuilt", extra={"key": key})
        return Watermark(settings.source_interval)
    return Watermark.parse(data, settings.source_interval)


# --- rollup --------------------------------------------------------------------------------------------------------
def rollup(settings: Settings, batch: dict[str, Any]) -> dict[str, Any]:
    tables = [str(t) for t in batch.get("tables") or []]
    unknown = [t for t in tables if t not in ROLLUP_TABLES]
    if not tables or unknown:
        raise ValueError(f"batch tables {tables!r}: expected some of {', '.join(ROLLUP_TABLES)}")
    # ``days`` as the plan writes them; ``partitions`` (a list of {symbol, market, day}) accepted too.
    partitions = sorted(set(decode_days(batch.get("days") or {}))
                        | {Partition.of(p) for p in batch.get("partitions") or []})
    rebuild = set(batch.get("rebuild") or [])
    existing = {t: set(batch.get("existing", {}).get(t) or []) for t in tables}
    clear = {t: list(batch.get("clear", {}).get(t) or []) for t in tables}
    fresh: dict[str, list[dict[str, Any]]] = {t: [] for t in tables}
    if partitions:
        queries = [athena.Query(t, rollup_query(t, database=settings.database, archive_table=settings.archive_table,
                                                source_interval=settings.source_interval, partitions=partitions))
                   for t in tables]
        results = athena.run_queries(aws().client("athena"), queries, workgroup=settings.workgroup,
                                     database=settings.database, timeout_seconds=settings.query_timeout)
        fresh = {t: [months.row_of(row) for row in results[t]] for t in tables}
    s3 = aws().client("s3")
    written = rows = 0
    for table in tables:
        days: dict[str, set[str]] = {}
        for partition in partitions:
            days.setdefault(partition.month_key, set()).add(partition.day)
        for key in clear[table]:
            days.setdefault(key, set())
        by_month: dict[str, list[dict[str, Any]]] = {key: [] for key in days}
        for row in fresh[table]:
            key = months.month_key(row)
            if key not in by_month:
                raise ValueError(f"{table}: the query returned a row of {key}, outside the batch")
            by_month[key].append(row)
        for key, month_rows in sorted(by_month.items()):
            if _rewrite(s3, settings, table, key, month_rows, days[key], key in existing[table],
                        replace=table in rebuild):
                written += 1
        rows += len(fresh[table])
    summary = {"tables": tables, "partitions": len(partitions), "months_written": written, "rows": rows}
    logger.info("rollup batch done", extra=summary)
    return summary


def _rewrite(s3: Any, settings: Settings, table: str, month: str, fresh: list[dict[str, Any]], days: set[str],
             exists: bool, *, replace: bool) -> bool:
    """One month object rewritten with one GetObject and one conditional PutObject; False when unchanged."""
    key = settings.month_object_key(table, month)
    where = f"s3://{settings.bucket}/{key}"
    old_body, etag = b"", None
    if exists:
        response = _storage(f"reading {where}", s3.get_object, Bucket=settings.bucket, Key=key)
        old_body, etag = response["Body"].read(), response["ETag"]
    try:
        kept = [] if replace or not old_body else months.parse(old_body)
    except ValueError:
        raise RollupStorageError(f"{where} is not JSON lines; `cryptostream reset --scope rollups` clears it") from None
    body = months.render(months.merged(kept, fresh, days))
    if body == old_body or (not exists and not body):
        return False
    condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
    _storage(f"writing {where}", s3.put_object, Bucket=settings.bucket, Key=key, Body=body,
             ContentType="application/x-ndjson", **condition)
    return True


# --- commit --------------------------------------------------------------------------------------------------------
def commit(settings: Settings, watermarks: dict[str, Any], results: list[Any]) -> dict[str, Any]:
    s3 = aws().client("s3")
    for table, data in sorted(watermarks.items()):
        if table not in ROLLUP_TABLES:
            raise ValueError(f"watermark for unknown table {table!r}")
        mark = Watermark.parse(data, settings.source_interval)
        if not mark.is_set:  # a rebuild that found no archive object: nothing to mark
            continue
        key = settings.watermark_key(table)
        _storage(f"writing s3://{settings.bucket}/{key}", s3.put_object, Bucket=settings.bucket, Key=key,
                 Body=json.dumps(mark.to_dict(), indent=1).encode(), ContentType="application/json")
    summary = {
        "batches": len(results),
        "partitions": sum(int(r.get("partitions") or 0) for r in results if isinstance(r, dict)),
        "months_written": sum(int(r.get("months_written") or 0) for r in results if isinstance(r, dict)),
        "rows": sum(int(r.get("rows") or 0) for r in results if isinstance(r, dict)),
        "watermarks": {t: (w or {}).get("newest_object_time") for t, w in sorted(watermarks.items())},
    }
    logger.info("rollups committed", extra={"summary": summary})
    return summary


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    action = event.get("action")
    try:
        settings = Settings.from_environment()
        if action == "plan":
            return plan(settings)
        if action == "rollup":
            return rollup(settings, dict(event.get("batch") or {}))
        if action == "commit":
            return commit(settings, dict(event.get("watermarks") or {}), list(event.get("results") or []))
        raise ValueError(f"unknown action {action!r}; expected 'plan', 'rollup' or 'commit'")
    except Exception as exc:
        logger.error("rollup step failed", extra={"action": action, "error": f"{type(exc).__name__}: {exc}"})
        raise
