"""The cloud rollups on moto S3 and an Athena that runs the SQL (``fake_athena``), against the fixture archive.

``CloudRollups`` holds the archive twice: in a local directory (the local rollups' input, ``analytics.rollups``) and
in a moto bucket under the same keys (the workflow's). ``run()`` plays the state machine: Plan, a Map of Rollup
over the batches, Commit. With a change-log queue (``logged``), every object put is also notified on it, in the
shape S3 delivers (``tests/fixtures/s3_events``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

from cryptostream_runtime import clients
from local.archive_writer import write_archive_objects
from tests.fixtures.archive.builder import build_fixture_archive
from tests.rollup_workflow.fake_athena import FakeAthena

BUCKET = "cryptostream-archive"
DATABASE = "cryptostream"
WORKGROUP = "cryptostream"
RESULTS = "s3://cryptostream-athena-results/results/"
QUEUE = "cryptostream-rollup-changes"
EVENTS = Path(__file__).parent.parent / "fixtures" / "s3_events"
ENVIRONMENT = {
    "ARCHIVE_BUCKET": BUCKET,
    "ARCHIVE_PREFIX": "quotes/",
    "ROLLUPS_PREFIX": "rollups/",
    "GLUE_DATABASE": DATABASE,
    "ARCHIVE_TABLE": "quotes",
    "ATHENA_WORKGROUP": WORKGROUP,
    "SOURCE_INTERVAL": "5min",
    "POWERTOOLS_SERVICE_NAME": "cryptostream-rollups",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@dataclass
class CloudRollups:
    root: Path  # local archive directory (holds quotes/)
    s3: Any  # harness client
    athena: FakeAthena
    outputs: list[dict[str, Any]] = field(default_factory=list)
    sqs: Any = None  # harness client, with a change-log queue
    queue_url: str | None = None
    _sequence: int = 0

    def put(self, key: str, body: bytes) -> None:
        """PutObject, then (with a queue) its ObjectCreated notification, as S3 would send it."""
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        if self.queue_url:
            modified = self.s3.head_object(Bucket=BUCKET, Key=key)["LastModified"]
            self.notify(key, modified.strftime("%Y-%m-%dT%H:%M:%S.") + f"{modified.microsecond // 1000:03d}Z",
                        len(body))

    def notify(self, key: str, event_time: str, size: int, name: str = "ObjectCreated:Put") -> None:
        self._sequence += 1
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=notification(key, event_time, size, name,
                                                                               f"{self._sequence:018X}"))

    def upload(self) -> int:
        """Every local archive object not yet in the bucket, under the same key."""
        present = {o["Key"] for p in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
                   for o in p.get("Contents", [])}
        count = 0
        for path in sorted((self.root / "quotes").rglob("*")):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and key not in present:
                self.put(key, path.read_bytes())
                count += 1
        return count

    def add(self, rows: list[dict[str, Any]], name: str) -> None:
        write_archive_objects(rows, str(self.root), object_name=name)
        self.upload()

    def run(self, handler: Any = None, *, full_listing: bool = False) -> dict[str, Any]:
        """Plan -> Map(Rollup) -> Commit, as the state machine runs them; the plan and each output kept."""
        from rollup_workflow.handler import lambda_handler

        step = handler or lambda_handler
        plan = step({"action": "plan", **({"full_listing": True} if full_listing else {})}, None)
        results = [step({"action": "rollup", "batch": batch}, None) for batch in plan["batches"]]
        commit = step({"action": "commit", "watermarks": plan["watermarks"], "results": results,
                       "source": plan["source"], "changes": plan.get("changes")}, None)
        out = {"plan": plan, "results": results, "commit": commit}
        self.outputs.append(out)
        return out

    def table(self, table: str) -> list[tuple[Any, ...]]:
        """The materialized table: every month object's lines, in order (symbol, market, bucket)."""
        rows = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"rollups/{table}/"):
            for item in page.get("Contents", []):
                if item["Key"].endswith("/part-0.json"):
                    body = self.s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode()
                    rows += [json.loads(line) for line in body.splitlines() if line]
        return sorted((r["symbol"], r["market"], r["bucket"], r["open"], r["high"], r["low"], r["close"], r["volume"],
                       r["bars"]) for r in rows)

    def watermark(self, table: str) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(Bucket=BUCKET, Key=f"rollups/{table}/_watermark.json")["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return json.loads(body)


def notification(key: str, event_time: str, size: int, name: str = "ObjectCreated:Put",
                 sequencer: str = "0067405A9C1E7D3F21", bucket: str = BUCKET) -> str:
    """An SQS message body S3 sends for ``key``: the recorded fixture with its key (URL-encoded as S3 does),
    time, size, event name and sequencer replaced."""
    message = json.loads((EVENTS / "object_created_message.json").read_text())
    event = json.loads(message["Body"])
    record = event["Records"][0]
    record.update(eventName=name, eventTime=event_time)
    record["s3"]["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    record["s3"]["object"].update(key=quote_plus(key, safe="/"), size=size, sequencer=sequencer)
    return json.dumps(event)


def local_rollup(root: Path, table: str, *, full: bool = True) -> list[tuple[Any, ...]]:
    """The local rollup (analytics.rollups, DuckDB) of the same archive, buckets as the cloud stores them."""
    from analytics.rollups import run_rollups
    from tests.analytics.test_rollups import read_rollup

    run_rollups(str(root), full=full)
    return [(r["symbol"], r["market"], r["bucket"].strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], r["open"], r["high"],
             r["low"], r["close"], r["volume"], r["bars"]) for r in read_rollup(root / "rollups", table)]


def _handler_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The function's environment, moto's AWS (no endpoint, no profile), no Athena poll pauses, fresh clients."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setattr("rollup_workflow.athena._sleep", lambda seconds: None)
    clients.clear()


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudRollups]:
    _handler_environment(monkeypatch)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.create_bucket(Bucket="cryptostream-athena-results")
        archive = build_fixture_archive(tmp_path / "archive")
        fake = FakeAthena(s3, {f"{DATABASE}.quotes": (BUCKET, "quotes/")}, workgroup=WORKGROUP,
                          output_location=RESULTS)
        from rollup_workflow.handler import aws

        fake.install(aws().client("athena"))
        state = CloudRollups(archive.root, s3, fake)
        state.upload()
        yield state
    clients.clear()


@pytest.fixture
def logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudRollups]:
    """``cloud`` with the change log: a queue the handler drains (CHANGES_QUEUE_URL), notified of every put."""
    _handler_environment(monkeypatch)
    monkeypatch.setenv("CHANGES_WAIT_SECONDS", "0")  # moto answers at once; a long poll would only wait
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.create_bucket(Bucket="cryptostream-athena-results")
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName=QUEUE, Attributes={"VisibilityTimeout": "900"})["QueueUrl"]
        monkeypatch.setenv("CHANGES_QUEUE_URL", queue_url)
        archive = build_fixture_archive(tmp_path / "archive")
        fake = FakeAthena(s3, {f"{DATABASE}.quotes": (BUCKET, "quotes/")}, workgroup=WORKGROUP,
                          output_location=RESULTS)
        from rollup_workflow.handler import aws

        fake.install(aws().client("athena"))
        state = CloudRollups(archive.root, s3, fake, sqs=sqs, queue_url=queue_url)
        state.upload()
        yield state
    clients.clear()
