"""``cryptostream reset``: wipe a chosen scope of the pipeline's data on purpose, and optionally rebuild it.

Scopes, for one or more pairs and an optional range of UTC days:

- ``archive``: the pair's partitions ``quotes/symbol=S/market=M/dt=D/`` (every object in them, every interval:
  a partition holds all of a pair's intervals for the day);
- ``table``: the pair's items in DynamoDB, ``pk = PAIR#INTERVAL`` (``cryptostream_model.keys``): the bars in the
  range, and — without a range — the ``LATEST`` and ``WATERMARK`` items too; with a range, ``LATEST`` only if its
  bar is in the range (the rebuilt bars bring it back), and the watermark stays (it never moves backwards);
- ``rollups``: the pair's objects of ``rollup_1h`` and ``rollup_1d`` (one per pair and month) that overlap the range,
  and the rollups' watermarks, so the next run rebuilds every object (a full recompute). Both layouts: the local
  rollups' Parquet objects (``part-0.parquet``, ``cryptostream rollup``) and, in AWS, the materialized tables'
  JSON-lines objects (``rollups/<table>/symbol=/market=/month=/part-0.json``, the rollups state machine's);
  ``--dry-run`` lists every object and watermark that would go.

In AWS (or an emulator the app is deployed to) the archive is the deployed bucket, whose name carries the account
and region (``<archive_bucket_name>-<account>-<region>``, infra/archive.py), unless ``--archive`` or
``ARCHIVE_BUCKET`` names it; there ``--rebuild`` of the rollups starts the ``<prefix>-rollups`` state machine (its
next run rebuilds them), never the local ``cryptostream rollup``, which would write Parquet into the JSON tables.

The plan is read first (``--dry-run`` prints it and stops); deleting asks for confirmation unless ``--yes``.
Deletes are batched: S3 ``DeleteObjects`` (1,000 keys a call), DynamoDB ``Query`` (keys only) then
``BatchWriteItem`` deletes (25 a call, unprocessed items retried). ``--rebuild`` re-runs the producer's backfill
(``mode: full``) for each (pair, interval) over the span of the bars deleted — the stream then carries them to the
table and the archive again — and, when only the rollups were reset, brings them up to date at once. Spot
snapshots cannot be fetched again (Alpha Vantage serves only the current rate): they are reported, not rebuilt.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from cryptostream_model.intervals import INTERVALS, SPOT
from cryptostream_model.keys import LATEST_SK, WATERMARK_SK, table_pk
from cryptostream_model.record import parse_pair

console = Console()
err = Console(stderr=True)

SCOPES = ("archive", "table", "rollups")
ROLLUP_TABLES = ("rollup_1h", "rollup_1d")  # analytics.rollups.ROLLUP_TABLES, without importing pyarrow up front
DYNAMODB_DELETE_BATCH = 25  # BatchWriteItem's limit
MAX_UNPROCESSED_ROUNDS = 8


class ResetError(ValueError):
    """Bad input, nothing to delete, or an unreachable store: one line, exit 2."""


@dataclass(frozen=True)
class ResetRequest:
    pairs: tuple[str, ...]
    scopes: tuple[str, ...]
    intervals: tuple[str, ...] = INTERVALS  # table scope: the pks looked at
    first_day: str | None = None  # YYYY-MM-DD, inclusive
    last_day: str | None = None

    @property
    def ranged(self) -> bool:
        return self.first_day is not None or self.last_day is not None

    def covers_day(self, day: str) -> bool:
        return (self.first_day is None or day >= self.first_day) and (self.last_day is None or day <= self.last_day)

    def covers_ts(self, ts: str) -> bool:
        return self.covers_day(ts[:10])


@dataclass
class ResetPlan:
    request: ResetRequest
    archive_root: str | None = None  # where archive/rollup paths are listed (s3://bucket/prefix or a directory)
    archive_objects: list[str] = field(default_factory=list)  # filesystem paths (S3: bucket/key)
    table_keys: list[tuple[str, str]] = field(default_factory=list)  # (pk, sk)
    rollup_files: list[str] = field(default_factory=list)
    # What the rebuild republishes: (pair, interval) -> [first ts, last ts] of the bars deleted.
    spans: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.archive_objects) + len(self.table_keys) + len(self.rollup_files)

    def widen(self, pair: str, interval: str, ts: str) -> None:
        span = self.spans.setdefault((pair, interval), [ts, ts])
        span[0], span[1] = min(span[0], ts), max(span[1], ts)

    def summary(self) -> dict[str, Any]:
        by_pk: dict[str, list[str]] = defaultdict(list)
        for pk, sk in self.table_keys:
            by_pk[pk].append(sk)
        return {
            "pairs": list(self.request.pairs),
            "scopes": list(self.request.scopes),
            "days": [self.request.first_day, self.request.last_day] if self.request.ranged else None,
            "archive": {"root": self.archive_root, "objects": len(self.archive_objects),
                        "keys": self.archive_objects},
            "table": {"items": len(self.table_keys),
                      "keys": {pk: sorted(sks) for pk, sks in sorted(by_pk.items())}},
            "rollups": {"files": len(self.rollup_files), "keys": self.rollup_files},
            "rebuild": [{"pair": p, "interval": i, "start": s, "end": e, "possible": i != SPOT}
                        for (p, i), (s, e) in sorted(self.spans.items())],
        }  # fmt: skip


# ----------------------------------------------------------------------------------------------------------
# Reading the plan


def parse_day(value: str | None, option: str) -> str | None:
    """``2026-11-22`` (a UTC day: archive partitions are whole days, so every scope resets whole days)."""
    if value is None:
        return None
    try:
        if len(value.strip()) != 10:
            raise ValueError(value)
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise ResetError(f"invalid {option} {value!r}: expected a UTC day such as 2026-11-22") from None


def build_request(
    pairs: Sequence[str], scopes: Sequence[str], intervals: Sequence[str], start: str | None, end: str | None,
    known_pairs: Sequence[str],
) -> ResetRequest:  # fmt: skip
    if not pairs:
        raise ResetError("name at least one --pair (e.g. --pair BTC-USD)")
    chosen = []
    for raw in pairs:
        try:
            symbol, market = parse_pair(raw)
        except ValueError as exc:
            raise ResetError(str(exc)) from None
        pair = f"{symbol}-{market}"
        if pair not in known_pairs:
            raise ResetError(f"unknown pair {pair!r}: the pipeline's pairs are {', '.join(known_pairs)}")
        chosen.append(pair)
    for scope in scopes:
        if scope not in SCOPES:
            raise ResetError(f"unknown scope {scope!r}: expected one of {', '.join(SCOPES)}")
    for interval in intervals:
        if interval not in INTERVALS:
            raise ResetError(f"unknown interval {interval!r}: expected one of {', '.join(INTERVALS)}")
    first, last = parse_day(start, "--start"), parse_day(end, "--end")
    if first and last and first > last:
        raise ResetError(f"--start {first} is after --end {last}")
    return ResetRequest(
        pairs=tuple(dict.fromkeys(chosen)),
        scopes=tuple(dict.fromkeys(scopes or SCOPES)),
        intervals=tuple(dict.fromkeys(intervals or INTERVALS)),
        first_day=first,
        last_day=last,
    )


def plan_table(dynamodb: Any, table: str, request: ResetRequest, plan: ResetPlan) -> None:
    """Keys to delete, read with keys-only Queries (one per pk, paginated); no item is written."""
    for pair in request.pairs:
        for interval in request.intervals:
            pk = table_pk(pair, interval)
            for sk in _query_sort_keys(dynamodb, table, pk):
                if sk in (LATEST_SK, WATERMARK_SK):
                    continue
                if request.covers_ts(sk):
                    plan.table_keys.append((pk, sk))
                    plan.widen(pair, interval, sk)
            for special in (LATEST_SK, WATERMARK_SK):
                if _wipes_special(dynamodb, table, pk, special, request):
                    plan.table_keys.append((pk, special))


def _query_sort_keys(dynamodb: Any, table: str, pk: str) -> Iterable[str]:
    paginator = dynamodb.get_paginator("query")
    pages = paginator.paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ProjectionExpression="sk",
    )
    for page in pages:
        for item in page.get("Items", []):
            yield item["sk"]["S"]


def _wipes_special(dynamodb: Any, table: str, pk: str, sk: str, request: ResetRequest) -> bool:
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")
    if item is None:
        return False
    if not request.ranged:
        return True
    # With a range the watermark stays (a backfill never moves it backwards); LATEST goes if its bar does.
    return sk == LATEST_SK and "ts" in item and request.covers_ts(item["ts"]["S"])


def plan_archive(location: Any, request: ResetRequest, plan: ResetPlan) -> None:
    """Objects of the pair's day partitions; the intervals and ts spans they hold tell the rebuild what to fetch."""
    import pyarrow.fs as pafs

    fs = location.filesystem
    plan.archive_root = location.quotes_root
    root = location.fs_path(location.quotes_root)
    for pair in request.pairs:
        symbol, market = pair.split("-")
        prefix = f"{root}/symbol={symbol}/market={market}"
        infos = fs.get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True))
        chosen = []
        for info in infos:
            if info.type != pafs.FileType.File:
                continue
            day = info.path[len(prefix) :].lstrip("/").split("/", 1)[0].removeprefix("dt=")
            if request.covers_day(day):
                chosen.append(info.path)
        plan.archive_objects.extend(sorted(chosen))
        for interval, first, last in _archived_spans(location, chosen):
            plan.widen(pair, interval, first)
            plan.widen(pair, interval, last)


def _archived_spans(location: Any, paths: list[str]) -> list[tuple[str, str, str]]:
    """(interval, first ts, last ts) of the rows in ``paths``."""
    if not paths:
        return []
    import pyarrow.compute as pc
    import pyarrow.dataset as pads

    from cryptostream_model.record import format_ts

    table = pads.dataset(paths, filesystem=location.filesystem, format="parquet").to_table(columns=["interval", "ts"])
    spans = []
    for interval in pc.unique(table["interval"]).to_pylist():
        rows = table.filter(pc.equal(table["interval"], interval))["ts"]
        low, high = pc.min_max(rows).values()
        spans.append((interval, format_ts(_aware(low.as_py())), format_ts(_aware(high.as_py()))))
    return spans


def _aware(moment: Any) -> Any:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def covers_rollup_partition(request: ResetRequest, partition: str) -> bool:
    """``month=2026-11`` (a rollup object holds a pair's month) overlaps the days; ``dt=2026-11-22`` is one of them.

    A month object only partly in the range goes whole: the rollups' watermark goes too, so the next run rebuilds
    every object from the archive, the days outside the range included.
    """
    name, _, value = partition.partition("=")
    if name == "month":
        return (request.first_day is None or value >= request.first_day[:7]) and (
            request.last_day is None or value <= request.last_day[:7]
        )
    return request.covers_day(value)


def plan_rollups(location: Any, request: ResetRequest, plan: ResetPlan) -> None:
    """The pair's rollup partitions in the range, and every rollup table's watermark (the next run recomputes)."""
    import pyarrow.fs as pafs

    from analytics.rollups import WATERMARK_FILE

    fs = location.filesystem
    for table in ROLLUP_TABLES:
        table_root = location.fs_path(f"{location.rollups_root}/{table}")
        files: list[str] = []
        for pair in request.pairs:
            symbol, market = pair.split("-")
            prefix = f"{table_root}/symbol={symbol}/market={market}"
            for info in fs.get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True)):
                partition = info.path[len(prefix) :].lstrip("/").split("/", 1)[0]
                if info.type == pafs.FileType.File and covers_rollup_partition(request, partition):
                    files.append(info.path)
        if files and fs.get_file_info(f"{table_root}/{WATERMARK_FILE}").type == pafs.FileType.File:
            files.append(f"{table_root}/{WATERMARK_FILE}")
        plan.rollup_files.extend(sorted(files))


# ----------------------------------------------------------------------------------------------------------
# Deleting


def delete_table_keys(dynamodb: Any, table: str, keys: Sequence[tuple[str, str]],
                      sleep: Callable[[float], None] = time.sleep) -> int:  # fmt: skip
    """BatchWriteItem deletes, 25 a call; unprocessed items are retried with backoff. Returns items deleted."""
    for start in range(0, len(keys), DYNAMODB_DELETE_BATCH):
        pending = [
            {"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": sk}}}}
            for pk, sk in keys[start : start + DYNAMODB_DELETE_BATCH]
        ]
        for attempt in range(MAX_UNPROCESSED_ROUNDS):
            response = dynamodb.batch_write_item(RequestItems={table: pending})
            pending = response.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
            sleep(min(2.0, 0.05 * 2**attempt))
        else:
            raise ResetError(f"DynamoDB left {len(pending)} deletes unprocessed after {MAX_UNPROCESSED_ROUNDS} tries")
    return len(keys)


# ----------------------------------------------------------------------------------------------------------
# Rebuilding


def rebuild_events(plan: ResetPlan) -> list[dict[str, Any]]:
    """One producer backfill per (pair, interval) over the span deleted; spot snapshots cannot be fetched again."""
    return [
        {"mode": "full", "interval": interval, "pairs": [pair], "start": first, "end": last}
        for (pair, interval), (first, last) in sorted(plan.spans.items())
        if interval != SPOT
    ]


# ----------------------------------------------------------------------------------------------------------
# The command


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def reset(
    pair: Annotated[list[str] | None, typer.Option("--pair", help="Pair to reset, e.g. BTC-USD (repeatable).")] = None,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="archive, table or rollups (repeatable; default all three).")
    ] = None,
    interval: Annotated[
        list[str] | None, typer.Option("--interval", help="Table scope: these intervals only (default all).")
    ] = None,
    start: Annotated[str | None, typer.Option(help="First UTC day to reset (YYYY-MM-DD); default the first.")] = None,
    end: Annotated[str | None, typer.Option(help="Last UTC day to reset (inclusive); default the last.")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Re-run the producer backfill (and rollups).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    archive: Annotated[
        str | None, typer.Option("--archive", help="archive directory or s3://bucket (default: the stack's bucket)")
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="AWS-compatible endpoint; default: running local stack, else AWS")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Delete a pair's archive partitions, table items and/or rollups (optionally a range of days), then rebuild."""
    try:
        outcome = run_reset(
            pairs=pair or [], scopes=scope or [], intervals=interval or [], start=start, end=end, rebuild=rebuild,
            dry_run=dry_run, yes=yes, archive=archive, endpoint=endpoint, as_json=as_json,
        )  # fmt: skip
    except ValueError as exc:  # ResetError, TargetError's siblings, ArchiveError, ConfigError
        raise _fail(" ".join(str(exc).split())) from None
    except RuntimeError as exc:  # cli.target.TargetError
        raise _fail(" ".join(str(exc).split())) from None
    if as_json:
        print(json.dumps(outcome, default=str))


def run_reset(
    *, pairs: Sequence[str], scopes: Sequence[str], intervals: Sequence[str], start: str | None, end: str | None,
    rebuild: bool, dry_run: bool, yes: bool, archive: str | None, endpoint: str | None, as_json: bool,
    confirm: Callable[[str], bool] | None = None,
) -> dict[str, Any]:  # fmt: skip
    from cli.target import resolve

    target = resolve(endpoint)
    request = build_request(pairs, scopes, intervals, start, end, target.config.pairs)
    plan = ResetPlan(request)
    location = None
    try:
        if "table" in request.scopes:
            plan_table(target.clients.dynamodb, target.config.table_name, request, plan)
        if {"archive", "rollups"} & set(request.scopes):
            from analytics.location import resolve_archive

            archive = archive_for(target, archive)
            location = resolve_archive(archive, target.endpoint if archive is None or archive.startswith("s3://")
                                       else None)  # fmt: skip
            if "archive" in request.scopes:
                plan_archive(location, request, plan)
            if "rollups" in request.scopes:
                plan_rollups(location, request, plan)
    except ResetError:
        raise
    except Exception as exc:  # botocore/pyarrow raise many unrelated types when a store is unreachable
        raise ResetError(f"cannot read what to reset at {target.describe()}: {_first_line(exc)}") from None
    summary = plan.summary()
    if not plan.total:
        where = ", ".join(request.scopes)
        days = f" on {request.first_day or '…'}..{request.last_day or '…'}" if request.ranged else ""
        raise ResetError(f"nothing to delete for {', '.join(request.pairs)} in {where}{days} at {target.describe()}")
    if not as_json:
        _print_plan(plan, dry_run)
    if dry_run:
        return {"dry_run": True, **summary}
    if not yes:
        if confirm is None and not sys.stdin.isatty():
            raise ResetError("refusing to delete without --yes: stdin is not a terminal (use --dry-run to look first)")
        ask = confirm or (lambda text: typer.confirm(text, default=False))
        if not ask(f"delete these {plan.total} items at {target.describe()}?"):
            raise ResetError("reset cancelled; nothing was deleted")
    deleted = {"table": 0, "archive": 0, "rollups": 0}
    try:
        from analytics.location import delete_objects

        if plan.table_keys:
            deleted["table"] = delete_table_keys(target.clients.dynamodb, target.config.table_name, plan.table_keys)
        if plan.archive_objects:
            deleted["archive"] = delete_objects(location, plan.archive_objects, target.clients.s3)
        if plan.rollup_files:
            deleted["rollups"] = delete_objects(location, plan.rollup_files, target.clients.s3)
    except ResetError:
        raise
    except Exception as exc:
        raise ResetError(f"reset stopped part-way ({deleted}): {_first_line(exc)}; run it again to finish") from None
    outcome: dict[str, Any] = {"dry_run": False, **summary, "deleted": deleted}
    if rebuild:
        outcome["rebuilt"] = _rebuild(target, location, plan, archive)
    if not as_json:
        _print_outcome(outcome)
    return outcome


def archive_for(target: Any, archive: str | None) -> str | None:
    """The archive to reset: ``--archive`` as given; the local stack's bucket; elsewhere the deployed bucket
    (``<archive_bucket_name>-<account>-<region>``) when it exists, else the configured name (``ARCHIVE_BUCKET``
    overrides both)."""
    if archive is not None or target.kind == "local" or os.environ.get("ARCHIVE_BUCKET"):
        return archive
    try:
        account = target.clients.client("sts").get_caller_identity()["Account"]
        name = f"{target.config.archive_bucket_name}-{account}-{target.config.region}"
        target.clients.s3.head_bucket(Bucket=name)
    except Exception:  # no such bucket, no STS (a bare emulator), no credentials: the configured name then
        return None
    return f"s3://{name}"


def cloud_rollups(plan: ResetPlan) -> bool:
    """Whether the rollups reset are the AWS materialized tables (JSON-lines month objects)."""
    return any(path.endswith("/part-0.json") for path in plan.rollup_files)


def start_cloud_rollups(target: Any) -> dict[str, Any]:
    """Start the rollups state machine: with its watermarks gone, its run rebuilds every month object."""
    from cli.backfill import state_machine_arn
    from cryptostream_config.deployment import load_deployment_config

    name = load_deployment_config().resource_name("rollups")
    arn = state_machine_arn(target, name)
    try:
        started = target.clients.client("stepfunctions").start_execution(
            stateMachineArn=arn, name=f"reset-{int(time.time())}", input="{}")
    except Exception as exc:
        raise ResetError(f"cannot start {name} at {target.describe()}: {_first_line(exc)}") from None
    return {"state_machine": name, "execution_arn": started["executionArn"]}


def _rebuild(target: Any, location: Any, plan: ResetPlan, archive: str | None) -> dict[str, Any]:
    from cli.stack_commands import produce_once

    result: dict[str, Any] = {"backfills": [], "rollups": None}
    for event in rebuild_events(plan):
        summary = produce_once(target, event)
        result["backfills"].append({**event, "published": summary.get("published", 0),
                                    "failed_pairs": summary.get("failed_pairs") or {},
                                    "skipped": summary.get("skipped")})  # fmt: skip
    result["not_rebuilt"] = [f"{p} {i}" for (p, i) in sorted(plan.spans) if i == SPOT]
    if "rollups" in plan.request.scopes:
        if cloud_rollups(plan) or (target.kind == "aws" and location is not None and location.is_s3):
            # The materialized tables in AWS: their own workflow rebuilds them (now, or on its schedule once the
            # republished bars reach the archive); a local rollup would write Parquet into the JSON tables.
            result["rollups"] = start_cloud_rollups(target)
        elif plan.archive_objects or plan.table_keys:
            # The republished bars reach the archive through the stream (Firehose or the local archiver), later.
            result["rollups"] = "run `cryptostream rollup` once the archive has the republished bars"
        else:
            from analytics.rollups import run_rollups

            reports = run_rollups(archive, endpoint=target.endpoint if location is not None and location.is_s3
                                  else None)  # fmt: skip
            result["rollups"] = [report.to_dict() for report in reports]
    return result


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else 'no detail'}"


def _print_plan(plan: ResetPlan, dry_run: bool) -> None:
    summary = plan.summary()
    verb = "would delete" if dry_run else "to delete"
    console.print(f"[bold]reset {', '.join(summary['pairs'])}[/bold] ({', '.join(summary['scopes'])}"
                  + (f", days {summary['days'][0] or '…'}..{summary['days'][1] or '…'}" if summary["days"] else "")
                  + f"): {verb} {plan.total} items")  # fmt: skip
    if "archive" in plan.request.scopes:
        console.print(f"archive: {len(plan.archive_objects)} objects under {escape(str(plan.archive_root))}")
        for path in plan.archive_objects:
            console.print(f"  {escape(path)}", highlight=False)
    if "table" in plan.request.scopes:
        console.print(f"table: {len(plan.table_keys)} items")
        for pk, sks in summary["table"]["keys"].items():
            bars = [sk for sk in sks if sk not in (LATEST_SK, WATERMARK_SK)]
            special = [sk for sk in sks if sk in (LATEST_SK, WATERMARK_SK)]
            span = f"{bars[0]}..{bars[-1]}" if bars else "no bars"
            console.print(f"  {escape(pk)}: {len(bars)} bars {span}" + (f" + {', '.join(special)}" if special else ""),
                          highlight=False)  # fmt: skip
    if "rollups" in plan.request.scopes:
        console.print(f"rollups: {len(plan.rollup_files)} files")
        for path in plan.rollup_files:
            console.print(f"  {escape(path)}", highlight=False)


def _print_outcome(outcome: dict[str, Any]) -> None:
    deleted = outcome["deleted"]
    console.print(f"deleted: {deleted['table']} table items, {deleted['archive']} archive objects, "
                  f"{deleted['rollups']} rollup files")  # fmt: skip
    rebuilt = outcome.get("rebuilt")
    if not rebuilt:
        return
    for backfill in rebuilt["backfills"]:
        note = f" (skipped: {backfill['skipped']})" if backfill.get("skipped") else ""
        failed = f" failed: {backfill['failed_pairs']}" if backfill["failed_pairs"] else ""
        console.print(f"republished {backfill['published']} {backfill['interval']} bars of {backfill['pairs'][0]} "
                      f"{backfill['start']}..{backfill['end']}{note}{failed}", highlight=False)  # fmt: skip
    if rebuilt["backfills"]:
        console.print("the consumer and the archive take the republished bars from the stream")
    if rebuilt["not_rebuilt"]:
        console.print(f"[yellow]not rebuilt (spot snapshots cannot be fetched again):[/] {rebuilt['not_rebuilt']}")
    if isinstance(rebuilt["rollups"], str):
        console.print(rebuilt["rollups"])
    elif rebuilt["rollups"]:
        console.print(f"rollups rebuilt: {json.dumps(rebuilt['rollups'])}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("reset")(reset)

