"""The deployed-app proof's accounting: every way a hop can disagree makes the verdict fail."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from local.archive_writer import archive_table, parquet_bytes
from local.market import MarketSimulator
from tools.deployed.context import EMULATOR_OVERRIDES, cdk_context_args
from tools.deployed.hops import ArchiveContents, Quarantine, StreamContents, TableContents, read_archive, reconcile
from tools.deployed.scenario import BACKFILL_BARS_PER_PAIR, Outputs, ScenarioError, backfill_event, market_moment

A = ("BTC", "USD", "5min", "2026-12-01T10:00:00Z")
B = ("BTC", "USD", "5min", "2026-12-01T10:05:00Z")
C = ("ETH", "USD", "spot", "2026-12-01T10:07:00Z")


def _hops(**changes):
    stream = StreamContents(records=4, quotes={A: "1.0", B: "2.0", C: "3.0"}, quote_records=3, poison=1)
    table = TableContents(
        bars={A: "1.0", B: "2.00", C: "3"},
        latest={("BTC", "USD", "5min"): B[3], ("ETH", "USD", "spot"): C[3]},
    )
    archive = ArchiveContents(objects=3, rows=Counter({A: 1, B: 1, C: 1}))
    quarantine = Quarantine(reasons=["invalid_ts"])
    parts = {"stream": stream, "table": table, "archive": archive, "quarantine": quarantine} | changes
    return reconcile(parts["stream"], parts["table"], parts["archive"], parts["quarantine"])


def test_every_hop_equal_is_a_clean_verdict() -> None:
    verdict = _hops()
    assert verdict.differences == []
    assert verdict.line == "deployed: 3 published, 3 in DynamoDB, 3 archived, 1 quarantined, 0 lost"


@pytest.mark.parametrize(
    ("changes", "expected", "lost"),
    [
        ({"table": TableContents({A: "1.0", C: "3"}, {("BTC", "USD", "5min"): B[3], ("ETH", "USD", "spot"): C[3]})},
         "1 bars missing from DynamoDB", 1),
        ({"archive": ArchiveContents(2, Counter({A: 1, C: 1}))}, "1 bars missing from the archive", 1),
        ({"quarantine": Quarantine([])}, "1 poison records on the stream but 0 in quarantine", 1),
        ({"table": TableContents({A: "1.0", B: "2.0", C: "3"},
                                 {("BTC", "USD", "5min"): A[3], ("ETH", "USD", "spot"): C[3]})},
         "LATEST of BTC-USD#5min is 2026-12-01T10:00:00Z", 0),
        ({"table": TableContents({A: "1.0", B: "2.5", C: "3"},
                                 {("BTC", "USD", "5min"): B[3], ("ETH", "USD", "spot"): C[3]})},
         "1 bars differ between stream and DynamoDB", 0),
        ({"archive": ArchiveContents(4, Counter({A: 1, B: 1, C: 1, ("SOL", "USD", "5min", "x"): 1}))},
         "1 archived bars never on the stream", 0),
    ],
)
def test_each_kind_of_difference_fails_the_verdict(changes: dict, expected: str, lost: int) -> None:
    verdict = _hops(**changes)
    assert any(expected in d for d in verdict.differences), verdict.differences
    assert verdict.lost == lost


def test_a_batch_in_the_failure_queue_is_a_difference() -> None:
    stream = StreamContents(0, {}, 0, 0)
    verdict = reconcile(stream, TableContents({}, {}), ArchiveContents(0, Counter()), Quarantine([]),
                        failure_queue_depth=2)  # fmt: skip
    assert verdict.differences == ["2 batches in the event source mapping's failure queue"]


def test_the_backfill_asks_for_exactly_its_bars_of_the_simulated_market() -> None:
    frozen = market_moment(datetime(2026, 12, 1, 12, 3, 17, tzinfo=UTC).timestamp())
    assert frozen == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    event = backfill_event(["BTC-USD"], frozen)
    simulator = MarketSimulator(seed=42)
    simulator.clock.set(frozen)
    _, body = simulator.answer({"function": "CRYPTO_INTRADAY", "symbol": "BTC", "market": "USD", "interval": "5min",
                                "outputsize": "full", "apikey": "k"})  # fmt: skip
    series = body["Time Series Crypto (5min)"]
    in_range = [t for t in series if event["start"].replace("T", " ").rstrip("Z") <= t
                <= event["end"].replace("T", " ").rstrip("Z")]  # fmt: skip
    assert len(in_range) == BACKFILL_BARS_PER_PAIR


def test_missing_stack_outputs_are_one_line() -> None:
    with pytest.raises(ScenarioError, match="has no output 'TableName'"):
        Outputs.from_stack({"StreamName": "s"}, schedule_group="g")


def test_the_cli_context_is_one_json_string_over_cdk_json() -> None:
    args = cdk_context_args("http://127.0.0.1:1/query", "arn:aws:secretsmanager:us-east-1:0:secret:s-AbCdEf")
    assert args[0] == "-c" and args[1].startswith("cryptostream={")
    assert '"alphavantage_base_url": "http://127.0.0.1:1/query"' in args[1]
    assert all(f'"{key}"' in args[1] for key in EMULATOR_OVERRIDES)
    assert '"alphavantage_secret_arn": "arn:aws:secretsmanager:us-east-1:0:secret:s-AbCdEf"' in args[1]


class _Bucket:
    """Just enough S3 for ``read_archive``: one page of objects."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self._objects = objects

    def get_paginator(self, _: str) -> Any:
        objects = self._objects

        class Pages:
            def paginate(self, Bucket: str, Prefix: str) -> Any:  # noqa: N803 - boto3's names
                yield {"Contents": [{"Key": key} for key in objects if key.startswith(Prefix)]}

        return Pages()

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        return {"Body": io.BytesIO(self._objects[Key])}


def test_the_archive_reads_the_same_with_naive_or_zoned_timestamps() -> None:
    record = {"symbol": "BTC", "market": "USD", "interval": "5min", "ts": A[3], "open": 1, "high": 1, "low": 1,
              "close": 1, "volume": 1, "fetched_at": A[3]}  # fmt: skip
    table = archive_table([record])
    zoned = table.cast(pa.schema([f.with_type(pa.timestamp("us", tz="UTC")) if pa.types.is_timestamp(f.type) else f
                                  for f in table.schema]))  # fmt: skip
    sink = io.BytesIO()
    pq.write_table(zoned, sink)
    prefix = "quotes/symbol=BTC/market=USD/dt=2026-12-01/"
    archive = read_archive(_Bucket({f"{prefix}naive": parquet_bytes([record]), f"{prefix}zoned": sink.getvalue()}),
                           "bucket", "quotes/")  # fmt: skip
    assert archive == ArchiveContents(objects=2, rows=Counter({A: 2}))
