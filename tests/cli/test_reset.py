"""``cryptostream reset`` on the embedded stack: each scope, dry run, refusal, one-line errors, reset + rebuild."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pyarrow.dataset as pads
import pytest
from typer.testing import CliRunner

from analytics.engine import connect, fetch_dicts, register_rollup
from analytics.location import resolve_archive
from analytics.rollups import run_rollups
from cli.main import app
from cli.reset import ResetRequest, covers_rollup_partition, delete_table_keys
from cryptostream_model.keys import LATEST_SK, WATERMARK_SK
from local.stack import LocalStack

runner = CliRunner()
# 100 one-minute bars before 00:30 span two UTC days: 2026-11-20 and 2026-11-21.
NOW = datetime(2026, 11, 21, 0, 30, tzinfo=UTC)
PAIRS = ["BTC-USD", "ETH-USD"]
UNSTABLE = {"fetched_at", "ingested_at", "expires_at", "updated_at"}  # set by the run, not by the market


@pytest.fixture
def stack(tmp_path, monkeypatch):
    monkeypatch.setenv("CRYPTOSTREAM_HOME", str(tmp_path))
    with LocalStack(tmp_path, seed=7) as running:
        running.simulator.clock.set(NOW)
        running.produce({"mode": "incremental", "interval": "1min", "pairs": PAIRS})
        running.pump(flush=True)
        yield running


def run(*args: str):
    return runner.invoke(app, ["reset", *args], catch_exceptions=False)


def _items(stack: LocalStack, pair: str, interval: str = "1min") -> dict[str, dict[str, Any]]:
    table = stack.config.table_name
    pages = stack.clients.dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"{pair}#{interval}"}},
    )
    return {item["sk"]["S"]: item for page in pages for item in page["Items"]}


def _stable(items: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {sk: {k: v for k, v in item.items() if k not in UNSTABLE} for sk, item in items.items()}


def _archive_keys(stack: LocalStack, pair: str | None = None) -> list[str]:
    prefix = "quotes/" if pair is None else "quotes/symbol={}/market={}/".format(*pair.split("-"))
    pages = stack.clients.s3.get_paginator("list_objects_v2").paginate(Bucket=stack.config.archive_bucket_name,
                                                                       Prefix=prefix)  # fmt: skip
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def _archive_rows(stack: LocalStack, pair: str) -> list[tuple]:
    """The pair's archived bars, deduplicated on (interval, ts) as every query does."""
    location = resolve_archive(None, stack.endpoint)
    symbol, market = pair.split("-")
    root = location.fs_path(f"{location.quotes_root}/symbol={symbol}/market={market}")
    table = pads.dataset(root, filesystem=location.filesystem, format="parquet").to_table(
        columns=["interval", "ts", "open", "high", "low", "close", "volume"]
    )
    return sorted(set(zip(*(table[c].to_pylist() for c in table.column_names), strict=True)))


def _json(result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_dry_run_lists_every_key_and_deletes_nothing(stack):
    before_items, before_keys = _items(stack, "BTC-USD"), _archive_keys(stack)
    plan = _json(run("--pair", "btc-usd", "--dry-run", "--json"))
    assert plan["dry_run"] is True
    bars = sorted(sk for sk in before_items if sk not in (LATEST_SK, WATERMARK_SK))
    assert plan["table"]["keys"] == {"BTC-USD#1min": sorted([*bars, LATEST_SK, WATERMARK_SK])}
    assert plan["table"]["items"] == len(bars) + 2
    btc = _archive_keys(stack, "BTC-USD")
    assert len(btc) >= 2 and [k.split("/", 1)[1] for k in plan["archive"]["keys"]] == btc
    assert {k.split("/")[3] for k in btc} == {"dt=2026-11-20", "dt=2026-11-21"}
    assert plan["rebuild"] == [{"pair": "BTC-USD", "interval": "1min", "start": bars[0], "end": bars[-1],
                                "possible": True}]  # fmt: skip
    assert _items(stack, "BTC-USD") == before_items and _archive_keys(stack) == before_keys


def test_without_yes_a_non_interactive_reset_refuses_and_deletes_nothing(stack):
    before = _items(stack, "BTC-USD")
    result = run("--pair", "BTC-USD", "--scope", "table")
    assert result.exit_code == 2
    assert "refusing to delete without --yes" in result.output
    assert _items(stack, "BTC-USD") == before


def test_table_scope_deletes_the_pairs_bars_latest_and_watermark_only(stack):
    eth, keys = _items(stack, "ETH-USD"), _archive_keys(stack)
    outcome = _json(run("--pair", "BTC-USD", "--scope", "table", "--yes", "--json"))
    assert outcome["deleted"] == {"table": outcome["table"]["items"], "archive": 0, "rollups": 0}
    assert _items(stack, "BTC-USD") == {}
    assert _items(stack, "ETH-USD") == eth and _archive_keys(stack) == keys


def test_a_day_range_resets_that_days_bars_and_partitions_and_keeps_the_watermark(stack):
    before = _items(stack, "BTC-USD")
    outcome = _json(run("--pair", "BTC-USD", "--scope", "table", "--scope", "archive",
                        "--start", "2026-11-21", "--end", "2026-11-21", "--yes", "--json"))  # fmt: skip
    after = _items(stack, "BTC-USD")
    assert WATERMARK_SK in after and LATEST_SK not in after  # the newest bar was in the range
    assert sorted(after) == sorted(sk for sk in before if sk.startswith("2026-11-20")) + [WATERMARK_SK]
    assert {k.split("/")[3] for k in _archive_keys(stack, "BTC-USD")} == {"dt=2026-11-20"}
    assert outcome["deleted"]["archive"] >= 1
    assert {k.split("/")[3] for k in _archive_keys(stack, "ETH-USD")} == {"dt=2026-11-20", "dt=2026-11-21"}


@pytest.mark.parametrize("days", [[], ["--start", "2026-11-21", "--end", "2026-11-21"]])
def test_rollups_scope_removes_the_pairs_partitions_and_rebuild_restores_them(stack, tmp_path, days):
    # The rollups of an archive kept on disk: the embedded stack stores pyarrow's S3 writes (chunked, no
    # Content-Length) as empty objects, because local/journal.py reads a body by Content-Length only.
    archive = tmp_path / "archive"
    for key in _archive_keys(stack):
        (archive / key).parent.mkdir(parents=True, exist_ok=True)
        body = stack.clients.s3.get_object(Bucket=stack.config.archive_bucket_name, Key=key)["Body"].read()
        (archive / key).write_bytes(body)
    rollups = archive / "rollups"

    def files() -> set[str]:
        return {str(p.relative_to(rollups)) for p in rollups.rglob("*") if p.is_file()}

    def rows(table: str) -> list[dict]:
        con = connect(None)
        register_rollup(con, table, str(rollups))
        return fetch_dicts(con, f"SELECT * FROM {table} ORDER BY ALL")

    run_rollups(str(archive), source_interval="1min")
    before, listed = {t: rows(t) for t in ("rollup_1h", "rollup_1d")}, files()
    assert before["rollup_1h"] and any("symbol=BTC" in f for f in listed)
    outcome = _json(run("--pair", "BTC-USD", "--scope", "rollups", "--archive", str(archive), *days, "--yes",
                        "--json"))  # fmt: skip
    left = files()
    assert not any("symbol=BTC" in f for f in left) and any("symbol=ETH" in f for f in left)
    assert not any(f.endswith("_watermark.json") for f in left)  # the next run recomputes every partition
    assert outcome["deleted"]["rollups"] == len(listed) - len(left)
    reports = run_rollups(str(archive), source_interval="1min")
    assert all(r.partitions_rebuilt == 4 for r in reports)  # 2 pairs x 2 days, as a full recompute
    assert {t: rows(t) for t in ("rollup_1h", "rollup_1d")} == before


def test_reset_everything_then_rebuild_gives_back_the_same_data(stack):
    items, rows = _stable(_items(stack, "BTC-USD")), _archive_rows(stack, "BTC-USD")
    eth = _items(stack, "ETH-USD")
    outcome = _json(run("--pair", "BTC-USD", "--scope", "table", "--scope", "archive", "--rebuild", "--yes", "--json"))
    assert outcome["deleted"]["table"] == len(items) and outcome["deleted"]["archive"] >= 2
    (backfill,) = outcome["rebuilt"]["backfills"]
    assert backfill["published"] == len(items) - 2  # every bar; LATEST and WATERMARK follow from them
    stack.pump(flush=True)  # what `cryptostream up` (or Lambda and Firehose) does with the republished bars
    assert _stable(_items(stack, "BTC-USD")) == items
    assert _archive_rows(stack, "BTC-USD") == rows
    assert _items(stack, "ETH-USD") == eth


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pair", "DOGE-USD"], "unknown pair 'DOGE-USD'"),
        (["--pair", "BTCUSD"], "invalid pair"),
        (["--pair", "SOL-USD", "--dry-run"], "nothing to delete for SOL-USD"),
        (["--pair", "BTC-USD", "--scope", "everything"], "unknown scope"),
        (["--pair", "BTC-USD", "--start", "yesterday"], "invalid --start"),
        (["--pair", "BTC-USD", "--start", "2026-11-22", "--end", "2026-11-21"], "is after"),
    ],
)
def test_bad_input_and_nothing_to_delete_are_one_line(stack, args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_an_unreachable_endpoint_is_one_line(tmp_path):
    env = {"CRYPTOSTREAM_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true"}
    done = subprocess.run([sys.executable, "-m", "cli.main", "reset", "--pair", "BTC-USD", "--endpoint",
                           "http://127.0.0.1:9"], capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 2 and "cannot reach endpoint" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


class _Throttled:
    """A DynamoDB client that leaves half of each batch unprocessed once: the deletes must be retried."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.deleted: list[tuple[str, str]] = []

    def batch_write_item(self, RequestItems: dict[str, list]) -> dict:  # noqa: N803 (boto3's name)
        ((table, requests),) = RequestItems.items()
        self.calls.append(len(requests))
        keep = requests[len(requests) // 2 :] if len(self.calls) == 1 else []
        done = requests[: len(requests) - len(keep)]
        self.deleted += [(r["DeleteRequest"]["Key"]["pk"]["S"], r["DeleteRequest"]["Key"]["sk"]["S"]) for r in done]
        return {"UnprocessedItems": {table: keep} if keep else {}}


def test_table_deletes_are_batched_by_25_and_unprocessed_items_retried():
    keys = [("BTC-USD#1min", f"2026-11-21T00:{m:02d}:00Z") for m in range(60)]
    client = _Throttled()
    assert delete_table_keys(client, "t", keys, sleep=lambda _: None) == 60
    assert client.calls == [25, 13, 25, 10]
    assert sorted(client.deleted) == sorted(keys)


def test_a_day_range_selects_the_rollup_month_objects_it_overlaps():
    request = ResetRequest(pairs=("BTC-USD",), scopes=("rollups",), first_day="2026-10-31", last_day="2026-11-02")
    chosen = [m for m in ("month=2026-09", "month=2026-10", "month=2026-11", "month=2026-12")
              if covers_rollup_partition(request, m)]  # fmt: skip
    assert chosen == ["month=2026-10", "month=2026-11"]
    assert covers_rollup_partition(request, "dt=2026-11-01") and not covers_rollup_partition(request, "dt=2026-11-03")
    assert covers_rollup_partition(ResetRequest(pairs=("BTC-USD",), scopes=("rollups",)), "month=2020-01")


def _cloud_rollups(stack: LocalStack) -> dict[str, bytes]:
    s3, bucket = stack.clients.s3, stack.config.archive_bucket_name
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="rollups/")
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def test_rollups_scope_covers_the_cloud_tables_and_their_next_run_rebuilds_them(stack):
    """The AWS layout (the rollups state machine's JSON month objects and watermarks under rollups/): a dry run lists
    exactly the pair's objects and the watermarks, the reset deletes just those, the next execution rebuilds."""
    from tests.rollup_workflow.steps import run_steps

    bucket = stack.config.archive_bucket_name
    run_steps(stack.clients.s3, bucket, interval="1min")
    before = _cloud_rollups(stack)
    btc = sorted(k for k in before if "/symbol=BTC/" in k)
    assert btc and all(k.endswith("/part-0.json") for k in btc) and any("/symbol=ETH/" in k for k in before)
    marks = ["rollups/rollup_1d/_watermark.json", "rollups/rollup_1h/_watermark.json"]
    dry = _json(run("--pair", "BTC-USD", "--scope", "rollups", "--dry-run", "--json"))
    assert sorted(dry["rollups"]["keys"]) == sorted(f"{bucket}/{k}" for k in btc + marks)
    assert _cloud_rollups(stack) == before  # a dry run deletes nothing
    outcome = _json(run("--pair", "BTC-USD", "--scope", "rollups", "--yes", "--json"))
    assert outcome["deleted"]["rollups"] == len(btc) + 2
    assert sorted(_cloud_rollups(stack)) == sorted(k for k in before if "/symbol=ETH/" in k)
    again = run_steps(stack.clients.s3, bucket, interval="1min")
    assert all(batch["rebuild"] for batch in again["plan"]["batches"])  # no watermark: a full recompute
    after = _cloud_rollups(stack)
    assert {k: v for k, v in after.items() if not k.endswith("_watermark.json")} == {
        k: v for k, v in before.items() if not k.endswith("_watermark.json")}


def test_in_aws_the_archive_is_the_deployed_bucket_and_rollups_rebuild_in_the_cloud(monkeypatch):
    from types import SimpleNamespace

    import boto3
    from botocore.stub import Stubber

    from cli.reset import ResetPlan, archive_for, cloud_rollups

    monkeypatch.delenv("ARCHIVE_BUCKET", raising=False)
    sts = boto3.client("sts", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    config = SimpleNamespace(archive_bucket_name="cryptostream-archive", region="eu-west-1")
    clients = SimpleNamespace(client=lambda name: {"sts": sts}[name], s3=s3)
    target = SimpleNamespace(kind="aws", config=config, clients=clients)
    deployed = "cryptostream-archive-123456789012-eu-west-1"
    with Stubber(sts) as sts_stub, Stubber(s3) as s3_stub:
        sts_stub.add_response("get_caller_identity", {"Account": "123456789012"})
        s3_stub.add_response("head_bucket", {}, {"Bucket": deployed})
        assert archive_for(target, None) == f"s3://{deployed}"
        assert archive_for(target, "s3://elsewhere") == "s3://elsewhere"
        sts_stub.add_response("get_caller_identity", {"Account": "123456789012"})
        s3_stub.add_client_error("head_bucket", "404")
        assert archive_for(target, None) is None  # not deployed here: the configured name
    plan = ResetPlan(ResetRequest(pairs=("BTC-USD",), scopes=("rollups",)))
    plan.rollup_files = [f"{deployed}/rollups/rollup_1h/symbol=BTC/market=USD/month=2026-11/part-0.json"]
    assert cloud_rollups(plan)
    plan.rollup_files = ["/data/rollups/rollup_1h/symbol=BTC/market=USD/month=2026-11/part-0.parquet"]
    assert not cloud_rollups(plan)
