"""The rollups state machine's steps: ``plan``, ``rollup`` (one per batch, in a Map) and ``commit``.

``rollup_1h``/``rollup_1d`` are materialized in the archive bucket as JSON-lines month objects
(``<ROLLUPS_PREFIX><table>/symbol=/market=/month=/part-0.json``, ``rollup_workflow.months``) that the Glue tables of
the same names read, each table with a watermark (``<ROLLUPS_PREFIX><table>/_watermark.json``,
``cryptostream_model.rollups.Watermark``, the local rollups' format):

- ``{"action": "plan"}`` drains the archive's change log (``CHANGES_QUEUE_URL``: S3 notifications of each object
  created under ``ARCHIVE_PREFIX``, ``rollup_workflow.changes``) into the pending-changes object, deletes the
  messages, lists the rollup objects once (under ``ROLLUPS_PREFIX``), reads each table's watermark, and groups the
  (pair, day) partitions of the logged objects into batches of at most ``ROLLUP_MAX_PARTITIONS_PER_QUERY`` (whole
  month objects: two batches never rewrite one object). It lists the whole archive instead (ListObjectsV2 pages
  under ``ARCHIVE_PREFIX``, the objects past each watermark) when a table has no usable watermark, when there is
  no pending object yet (the queue may be newer than the watermark), without a queue, or when asked
  (``{"action": "plan", "full_listing": true}``); the logged objects are planned too. Nothing new: no batches,
  and commit writes nothing.
- ``{"action": "rollup", "batch": {"tables", "days": {"BTC-USD": [days]}, "rebuild", "existing"}}`` runs ONE
  Athena query per table for the batch's partitions (the rendered rollup SQL restricted to them, so each changed
  day is recomputed from all of its objects: late and replayed rows included) and rewrites each affected month
  object with one GetObject and one conditional PutObject (skipped when the bytes would not change). A table
  without a usable watermark (first run, another source interval) is rebuilt: its month objects are replaced, not
  merged, and those left without archive data are emptied.
- ``{"action": "commit", "watermarks": {...}, "results": [...], "changes": {...}}`` writes the watermarks the plan
  computed (after the data: a failure before it only repeats work), then empties the pending changes the plan
  took (``changes.pending_etag``), and logs one summary line.

Errors are one line, of a class the state machine can retry on (``rollup_workflow.errors``); the outcome metric is
the state machine's own (AWS/States ExecutionsSucceeded/ExecutionsFailed).
"""

from __future__ import annotations

import json
import os
import time
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
    ArchiveObject,
    Partition,
    Watermark,
    archive_object,
    batches,
    decode_days,
    encode_days,
)
from cryptostream_runtime.clients import ClientOptions, clients
from rollup_workflow import athena, changes, months
from rollup_workflow.errors import ChangeLogError, ConcurrentRollup, PlanTooLarge, RollupStorageError
from rollup_workflow.queries import rollup_query

logger = Logger(service=os.getenv("POWERTOOLS_SERVICE_NAME", "cryptostream-rollups"))
CLIENT_OPTIONS = ClientOptions(max_attempts=4, retry_mode="standard", user_agent_extra="cryptostream-rollups")
DEFAULT_MAX_PARTITIONS = 400
# An S3 object's LastModified is when its upload started; it is listed once complete. A listing plan's watermark
# stays this far behind the newest object and remembers the objects inside the window by key, so a late-visible one
# is not missed. A change-log plan needs no window: each creation is a message, whenever it becomes visible.
DEFAULT_SETTLE_SECONDS = 900
# The change log's drain: at most this many receives (10 messages each) and seconds per plan; what is left waits in
# the queue for the next run (the queue's visibility timeout, 15 minutes, outlasts a plan).
DEFAULT_MAX_RECEIVES = 2_000
DEFAULT_DRAIN_SECONDS = 300.0
DEFAULT_CHANGES_RETENTION_SECONDS = 4 * 86400
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
    # The change log (rollup_workflow.changes): the queue S3 notifies of each archive object; None: list instead.
    changes_queue_url: str | None = None
    changes_max_receives: int = DEFAULT_MAX_RECEIVES
    changes_budget_seconds: float = DEFAULT_DRAIN_SECONDS
    changes_wait_seconds: int = 1
    # How long the queue keeps a message (infra.change_log.RETENTION): a watermark older than three quarters of it
    # may be behind notifications that expired unread (schedule paused, plans failing for days), so that plan lists.
    changes_retention_seconds: int = DEFAULT_CHANGES_RETENTION_SECONDS

    @property
    def changes_trusted_ns(self) -> int:
        return self.changes_retention_seconds * 3 // 4 * 1_000_000_000

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
            max_receives = int(env.get("CHANGES_MAX_RECEIVES", DEFAULT_MAX_RECEIVES))
            drain_seconds = float(env.get("CHANGES_DRAIN_SECONDS", DEFAULT_DRAIN_SECONDS))
            wait_seconds = int(env.get("CHANGES_WAIT_SECONDS", 1))
            retention = int(env.get("CHANGES_RETENTION_SECONDS", DEFAULT_CHANGES_RETENTION_SECONDS))
        except ValueError:
            raise ValueError("ROLLUP_MAX_PARTITIONS_PER_QUERY, ATHENA_QUERY_TIMEOUT_SECONDS, ROLLUP_SETTLE_SECONDS, "
                             "CHANGES_MAX_RECEIVES, CHANGES_DRAIN_SECONDS, CHANGES_WAIT_SECONDS, "
                             "CHANGES_RETENTION_SECONDS: numbers") from None
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
            changes_queue_url=env.get("CHANGES_QUEUE_URL", "").strip() or None,
            changes_max_receives=max(max_receives, 1),
            changes_budget_seconds=max(drain_seconds, 0.0),
            changes_wait_seconds=min(max(wait_seconds, 0), 20),
            changes_retention_seconds=max(retention, 60),
        )
        if settings.archive_prefix == settings.rollups_prefix:
            raise ValueError("ARCHIVE_PREFIX and ROLLUPS_PREFIX must differ")
        return settings

    def table_prefix(self, table: str) -> str:
        return f"{self.rollups_prefix}{table}/"

    def watermark_key(self, table: str) -> str:
        return f"{self.table_prefix(table)}{WATERMARK_FILE}"

    @property
    def pending_key(self) -> str:
        return f"{self.rollups_prefix}{changes.PENDING_FILE}"

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
def plan(settings: Settings, *, full_listing: bool = False) -> dict[str, Any]:
    s3 = aws().client("s3")
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
    rebuild = {table for table in ROLLUP_TABLES if not marks[table].is_set}

    # The change log first (so an object created during the listing below is in the log or the listing, or both),
    # recorded before its messages are deleted. A full listing stays the way in when the log cannot say everything:
    # asked for, no queue, a table without a usable watermark (first run, another source interval, a reset), or no
    # pending object yet (the queue may be newer than the watermark: objects before it were never notified).
    log = _record_changes(s3, settings, settings.pending_key in stored) if settings.changes_queue_url else None
    now_ns = time.time_ns()
    stale = [t for t in ROLLUP_TABLES if now_ns - marks[t].mtime_ns > settings.changes_trusted_ns]
    reason = ("asked" if full_listing else "no change log" if log is None else "rebuild" if rebuild
              else "change log started" if not log.existed
              else "watermark older than the change log keeps messages" if stale else None)
    listed: list[ArchiveObject] = []
    if reason is not None:
        for item in _listing(s3, settings.bucket, settings.archive_prefix):
            key = item["Key"]
            found = archive_object(f"{settings.bucket}/{key}", key[len(settings.archive_prefix):],
                                   _mtime_ns(item["LastModified"]))
            if found is not None:
                listed.append(found)
    logged = list(log.pending.objects.values()) if log else []
    # Every logged object is a change, whatever its time (late and replayed objects included); a listing's objects
    # are new past the watermark, as before.
    new = {table: list({o.path: o for o in [*(o for o in listed if marks[table].is_new(o)), *logged]}.values())
           for table in ROLLUP_TABLES}

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
        covered = {o.partition.month_key for o in listed}
        stale = sorted(existing[table] - covered)
        if stale:
            planned.append({"tables": [table], "days": {}, "rebuild": [table], "existing": {table: stale},
                            "clear": {table: stale}})
    changed = [t for t in ROLLUP_TABLES if new[t] or (t in rebuild and existing[t])]
    # A listing's watermark stays the settle window behind its newest object, remembering every object listed inside
    # it by key (an upload listed late with an older time). The change log needs no window: each creation is a
    # message, whenever it arrives, so the mark is its newest object's second (the objects of that second by key).
    settle_ns = settings.settle_seconds * 1_000_000_000 if reason is not None else 0
    result = {
        "run_id": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8],
        "source_interval": settings.source_interval,
        "source": "full_listing" if reason is not None else "change_log",
        "batches": planned,
        "watermarks": {t: marks[t].advanced(listed + logged, settle_ns).to_dict() for t in changed},
        "new_objects": {t: len(new[t]) for t in ROLLUP_TABLES},
        # What commit needs to empty the pending object: its version as this plan wrote or read it (no receipts).
        "changes": None if log is None else {"pending_etag": log.etag, "objects": len(logged), **log.drained.counts()},
    }
    size = len(json.dumps(result, separators=(",", ":")))
    if size > PLAN_LIMIT_BYTES:  # Step Functions would fail the state with States.DataLimitExceeded
        raise PlanTooLarge(f"the plan is {size // 1024} KB ({sum(len(p) for p in groups.values())} partitions), over "
                           f"the {PLAN_LIMIT_BYTES // 1024} KB a state may carry")
    logger.info("rollups planned", extra={"run_id": result["run_id"], "source": result["source"],
                                          "full_listing_reason": reason, "archive_objects_listed": len(listed),
                                          "change_log": result["changes"], "new_objects": result["new_objects"],
                                          "batches": len(planned), "rebuild": sorted(rebuild)})
    return result


@dataclass
class _ChangeLog:
    pending: changes.Pending
    etag: str | None
    existed: bool
    drained: changes.Drained


def _record_changes(s3: Any, settings: Settings, existed: bool) -> _ChangeLog:
    """Drain the queue into the pending object (written only when it gains an object, or to create it), then delete
    the messages: a failure before the write leaves them in the queue, after it in the object."""
    key, where = settings.pending_key, f"s3://{settings.bucket}/{settings.pending_key}"
    pending, etag = changes.Pending(), None
    if existed:
        response = _storage(f"reading {where}", s3.get_object, Bucket=settings.bucket, Key=key)
        etag = response["ETag"]
        try:
            pending = changes.Pending.parse(response["Body"].read(), settings.bucket, settings.archive_prefix)
        except ValueError as exc:
            raise RollupStorageError(f"{where}: {exc}; delete it and run with a full listing") from None
    sqs = aws().client("sqs")
    queue = str(settings.changes_queue_url)
    try:
        drained = changes.drain(sqs, queue, settings.bucket, settings.archive_prefix,
                                max_receives=settings.changes_max_receives,
                                budget_seconds=settings.changes_budget_seconds,
                                wait_seconds=settings.changes_wait_seconds)
    except (ClientError, BotoCoreError) as exc:
        raise ChangeLogError(f"receiving from {queue}: {' '.join(str(exc).split())[:300]}") from None
    if pending.add(drained.objects) or not existed:
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        written = _storage(f"writing {where}", s3.put_object, Bucket=settings.bucket, Key=key, Body=pending.render(),
                           ContentType="application/json", **condition)
        etag = written.get("ETag")
    try:
        failed = changes.delete(sqs, queue, drained.receipts)
    except (ClientError, BotoCoreError) as exc:  # recorded already: the messages come back and are merged again
        failed = len(drained.receipts)
        logger.warning("deleting the change log's messages failed", extra={"error": " ".join(str(exc).split())[:300]})
    if failed:
        logger.warning("change log messages not deleted: they come back and are recorded again",
                       extra={"failed": failed})
    return _ChangeLog(pending, etag, existed, drained)


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
def commit(settings: Settings, watermarks: dict[str, Any], results: list[Any],
           logged: dict[str, Any] | None = None, source: str | None = None) -> dict[str, Any]:
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
        "pending_changes_emptied": _empty_pending(s3, settings, logged or {}),
        # What the plan read (the state machine passes $.plan.source and $.plan.changes), for the execution's output.
        "source": source,
        "change_log": {k: v for k, v in (logged or {}).items() if k != "pending_etag"} or None,
    }
    logger.info("rollups committed", extra={"summary": summary})
    return summary


def _empty_pending(s3: Any, settings: Settings, logged: dict[str, Any]) -> bool:
    """After the data and the watermarks: the pending object emptied if it is still the version the plan took.
    Another plan merged more since (a concurrent execution): kept whole; its commit empties it (at worst work is
    repeated, never lost). Already empty: not rewritten (a run with nothing new writes nothing)."""
    etag = logged.get("pending_etag")
    if not etag or not logged.get("objects"):
        return False
    where = f"s3://{settings.bucket}/{settings.pending_key}"
    try:
        _storage(f"emptying {where}", s3.put_object, Bucket=settings.bucket, Key=settings.pending_key,
                 Body=changes.Pending().render(), ContentType="application/json", IfMatch=str(etag))
    except ConcurrentRollup:
        logger.warning("the pending changes changed since the plan: kept for the next run", extra={"key": where})
        return False
    return True


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    action = event.get("action")
    try:
        settings = Settings.from_environment()
        if action == "plan":
            return plan(settings, full_listing=bool(event.get("full_listing")))
        if action == "rollup":
            return rollup(settings, dict(event.get("batch") or {}))
        if action == "commit":
            return commit(settings, dict(event.get("watermarks") or {}), list(event.get("results") or []),
                          event.get("changes") or None, event.get("source"))
        raise ValueError(f"unknown action {action!r}; expected 'plan', 'rollup' or 'commit'")
    except Exception as exc:
        logger.error("rollup step failed", extra={"action": action, "error": f"{type(exc).__name__}: {exc}"})
        raise
