"""``python -m bench.cloud_rollup_calls``: what one execution of the cloud rollups costs in AWS calls and bytes.

The rollups state machine's steps (``rollup_workflow``) run in-process on moto S3 and SQS, with ``FakeAthena`` running
each query on DuckDB (its time is Athena's, reported apart). An archive of ``--days`` days of 5-minute bars for three
pairs (one object per pair and day) is rolled up from scratch, then one more day arrives (one object per pair, plus
a late redelivery into an old day), then the workflow runs with nothing new. Twice: planning from a full listing of
the archive (before the change log: ``full_listing``), then from the change log (each object put is notified on an
SQS queue as S3 does, ``tests/fixtures/s3_events``). Printed as JSON: per mode and run, the handler's calls by
operation, the month objects and bytes written, wall and Athena-fake seconds; ``per_execution`` compares the modes.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def _bars(day: datetime, symbol: str, price: float) -> list[dict[str, Any]]:
    rows = []
    for i in range(288):
        ts = day + timedelta(minutes=5 * i)
        p = price + (i % 37) * 0.5
        rows.append({"v": 1, "source": "alphavantage", "symbol": symbol, "market": "USD", "interval": "5min",
                     "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "open": p, "high": p + 3, "low": p - 3, "close": p + 1,
                     "volume": 1.0 + i % 11, "fetched_at": (ts + timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%SZ")})
    return rows


def run(days: int, *, change_log: bool) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from cryptostream_runtime import clients
    from local.archive_writer import write_archive_objects
    from rollup_workflow import athena as athena_module
    from rollup_workflow.handler import aws, lambda_handler
    from tests.iam.recorder import CallRecorder
    from tests.rollup_workflow.conftest import notification
    from tests.rollup_workflow.fake_athena import FakeAthena

    env = {"ARCHIVE_BUCKET": "archive", "GLUE_DATABASE": "cryptostream", "ATHENA_WORKGROUP": "cryptostream",
           "SOURCE_INTERVAL": "5min", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    os.environ.update(env)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("CHANGES_QUEUE_URL", None)
    athena_module._sleep = lambda seconds: None
    clients.clear()
    root = Path(tempfile.mkdtemp(prefix="cloud-rollup-bench-"))
    out: dict[str, Any] = {"days": days, "pairs": 3, "bars": days * 3 * 288}
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="archive")
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="rollup-changes", Attributes={"VisibilityTimeout": "900"})["QueueUrl"]
        if change_log:
            os.environ.update(CHANGES_QUEUE_URL=queue, CHANGES_WAIT_SECONDS="0")
        fake = FakeAthena(s3, {"cryptostream.quotes": ("archive", "quotes/")}, workgroup="cryptostream",
                          output_location="s3://results/", polls_before_done=1)
        fake.install(aws().client("athena"))
        athena_seconds = 0.0
        answer = fake._answer

        def timed(*args: Any, **kwargs: Any) -> Any:
            nonlocal athena_seconds
            started = time.perf_counter()
            try:
                return answer(*args, **kwargs)
            finally:
                athena_seconds += time.perf_counter() - started

        aws().client("athena").meta.events.unregister("before-call.athena.*", fake._answer)
        aws().client("athena").meta.events.register("before-call.athena.*", timed)

        def add(rows: list[dict[str, Any]], name: str) -> None:
            write_archive_objects(rows, str(root), object_name=name)
            for path in sorted((root / "quotes").rglob(f"{name}*")):
                key, body = path.relative_to(root).as_posix(), path.read_bytes()
                s3.put_object(Bucket="archive", Key=key, Body=body)
                modified = s3.head_object(Bucket="archive", Key=key)["LastModified"]
                sqs.send_message(QueueUrl=queue, MessageBody=notification(
                    key, modified.strftime("%Y-%m-%dT%H:%M:%S.000Z"), len(body), bucket="archive"))

        start = datetime(2026, 10, 1, tzinfo=UTC)
        for i in range(days):
            day = start + timedelta(days=i)
            add([b for s, p in (("BTC", 67000.0), ("ETH", 3200.0), ("SOL", 150.0)) for b in _bars(day, s, p)],
                f"day-{i:03d}")

        def execution(label: str) -> None:
            nonlocal athena_seconds
            athena_seconds = 0.0
            recorder = CallRecorder()
            step = recorder.attributed_handler("rollups", lambda_handler)
            started = time.perf_counter()
            with recorder.installed():
                plan = step({"action": "plan"}, None)
                results = [step({"action": "rollup", "batch": b}, None) for b in plan["batches"]]
                if plan["batches"]:
                    step({"action": "commit", "watermarks": plan["watermarks"], "results": results,
                          "source": plan["source"], "changes": plan["changes"]}, None)
            wall = time.perf_counter() - started
            calls = Counter(f"{c.service}:{c.operation}" for c in recorder.calls)
            bodies = [c.params["Body"] for c in recorder.calls if c.operation == "PutObject"]
            written = [b.getvalue() if hasattr(b, "getvalue") else b for b in bodies]  # botocore wraps bytes
            # What grows with history in a listing plan: ListObjectsV2 pages over the archive (1,000 keys each),
            # against the change log's receives, which grow with what changed since the last run.
            archive_pages = sum(1 for c in recorder.calls
                                if c.operation == "ListObjectsV2" and c.params.get("Prefix") == "quotes/")
            out[label] = {"source": plan["source"], "batches": len(plan["batches"]),
                          "archive_listing_pages": archive_pages,
                          "calls": dict(sorted(calls.items())),
                          "calls_total": sum(calls.values()),
                          "months_written": sum(r["months_written"] for r in results),
                          "bytes_written": sum(len(b) for b in written), "wall_s": round(wall, 3),
                          "athena_fake_s": round(athena_seconds, 3), "handler_s": round(wall - athena_seconds, 3)}

        execution("first_run")
        late = dict(_bars(start + timedelta(days=2), "BTC", 67000.0)[40], close=67001.0,
                    fetched_at="2026-12-01T00:00:00Z")  # a revised close for an old day, delivered late
        next_day = start + timedelta(days=days)
        add([late, *(b for s, p in (("BTC", 67000.0), ("ETH", 3200.0), ("SOL", 150.0)) for b in _bars(next_day, s, p))],
            "next")
        execution("one_new_day_and_a_late_row")
        execution("nothing_new")
    clients.clear()
    os.environ.pop("CHANGES_QUEUE_URL", None)
    return out


def compared(days: int) -> dict[str, Any]:
    """Both modes on the same archive; per execution, the calls before (listing) and after (change log)."""
    before, after = run(days, change_log=False), run(days, change_log=True)
    runs = ("first_run", "one_new_day_and_a_late_row", "nothing_new")
    per_execution = {label: {"full_listing": before[label]["calls"], "change_log": after[label]["calls"],
                             "calls_total": {"full_listing": before[label]["calls_total"],
                                             "change_log": after[label]["calls_total"]}} for label in runs}
    return {"full_listing": before, "change_log": after, "per_execution": per_execution}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cloud_rollup_calls", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # before the handler's Logger reads it: stdout is the JSON alone
    print(json.dumps(compared(args.days), indent=1))


if __name__ == "__main__":
    main()
