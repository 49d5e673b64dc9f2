"""The notebook's Flink SQL on PyFlink (``make test-flink``, its own venv): the source table's WITH clause is
swapped for a filesystem source of JSON lines, everything else runs exactly as the Studio notebook runs it.
Skipped in the default suite, where PyFlink is not installed."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyflink")

from pyflink.table import EnvironmentSettings, TableEnvironment  # noqa: E402

from analytics.flink import statements, with_options  # noqa: E402

START = datetime(2026, 11, 22, 10, 0, 0)
JUMPS = {("BTC", datetime(2026, 11, 22, 10, 3, 20)): 1.008, ("BTC", datetime(2026, 11, 22, 10, 7, 40)): 0.994,
         ("ETH", datetime(2026, 11, 22, 10, 5, 10)): 1.0065}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_records() -> list[dict[str, Any]]:
    """Spot snapshots every 10 s for 12 minutes per pair (three designed jumps), one snapshot arriving 3 s out of
    order (inside the 5 s watermark), and 5min bars that the 1-minute analyses must leave out. Nothing arrives
    later than the watermark: whether Flink drops such a row depends on when its periodic watermark fires."""
    rng = random.Random(11)
    records = []
    for symbol, price in (("BTC", 67000.0), ("ETH", 3200.0)):
        for i in range(72):
            ts = START + timedelta(seconds=10 * i)
            price = round(price * JUMPS.get((symbol, ts), 1 + rng.uniform(-0.0005, 0.0005)), 2)
            spread = round(price * 0.0001, 2)
            records.append({"v": 1, "source": "alphavantage", "symbol": symbol, "market": "USD", "interval": "spot",
                            "ts": iso(ts), "open": str(price), "high": str(price), "low": str(price),
                            "close": price if i % 2 else str(price),  # the contract allows strings and numbers
                            "volume": "0", "bid": str(price - spread), "ask": str(price + spread),
                            "fetched_at": iso(ts + timedelta(seconds=2))})
    for i, close in enumerate((67000.0, 67100.0, 68000.0)):
        ts = START + timedelta(minutes=5 * i)
        records.append({"v": 1, "source": "alphavantage", "symbol": "BTC", "market": "USD", "interval": "5min",
                        "ts": iso(ts), "open": "66900", "high": "68100", "low": "66800", "close": str(close),
                        "volume": "12.5", "fetched_at": iso(ts + timedelta(minutes=6))})
    # The stream interleaves pairs in time order: one watermark covers them all.
    records.sort(key=lambda r: r["ts"])
    late = next(i for i, r in enumerate(records) if r["symbol"] == "ETH" and r["ts"] == "2026-11-22T10:02:30Z")
    records.insert(late + 1, dict(records[late], ts="2026-11-22T10:02:27Z", close="3300.0", high="3300.0",
                                  low="3300.0", open="3300.0"))  # 3 s behind its predecessor, a 3 % outlier
    return records


def as_float(value: Any) -> float:
    return float(value)


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return build_records()


@pytest.fixture(scope="module")
def table_env(records: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> TableEnvironment:
    directory: Path = tmp_path_factory.mktemp("stream")
    (directory / "records.json").write_text("".join(json.dumps(r) + "\n" for r in records))
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("parallelism.default", "1")
    source = statements()[0]
    env.execute_sql(with_options(source.body, {"connector": "filesystem", "path": str(directory), "format": "json"}))
    return env


def collect(env: TableEnvironment, sql: str) -> list[dict[str, Any]]:
    result = env.execute_sql(sql)
    names = result.get_resolved_schema().get_column_names()
    with result.collect() as rows:
        return [dict(zip(names, row, strict=True)) for row in rows]


def by_name(name: str) -> str:
    return next(s.body for s in statements() if s.name.endswith(name))


def spot(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["interval"] in ("spot", "1min")]


def ts_of(record: dict[str, Any]) -> datetime:
    return datetime.strptime(record["ts"], "%Y-%m-%dT%H:%M:%SZ")


def test_one_minute_ohlc(table_env: TableEnvironment, records: list[dict[str, Any]]) -> None:
    windows: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for record in spot(records):  # arrival order, as FIRST_VALUE/LAST_VALUE see it
        windows[(record["symbol"], ts_of(record).replace(second=0))].append(record)
    expected = sorted(
        (s, start, as_float(rs[0]["open"]), max(as_float(r["high"]) for r in rs),
         min(as_float(r["low"]) for r in rs), as_float(rs[-1]["close"]), len(rs))
        for (s, start), rs in windows.items())
    rows = collect(table_env, by_name("ohlc_1min"))
    actual = sorted((r["symbol"], r["window_start"], r["open"], r["high"], r["low"], r["close"], r["quotes"])
                    for r in rows)
    assert actual == expected
    assert len(actual) == 24 and max(r["high"] for r in rows if r["symbol"] == "ETH") == 3300.0


def test_sliding_moving_average(table_env: TableEnvironment, records: list[dict[str, Any]]) -> None:
    windows: dict[tuple, list[float]] = defaultdict(list)
    for record in spot(records):
        minute = ts_of(record).replace(second=0)
        for back in range(5):  # a 5-minute window sliding by 1 minute holds each record five times
            windows[(record["symbol"], minute - timedelta(minutes=back))].append(as_float(record["close"]))
    rows = collect(table_env, by_name("moving_average"))
    actual = {(r["symbol"], r["window_start"]): (r["moving_average"], r["quotes"]) for r in rows}
    assert set(actual) == set(windows)
    for key, closes in windows.items():
        assert actual[key][0] == pytest.approx(sum(closes) / len(closes), rel=1e-12)
        assert actual[key][1] == len(closes)


def test_price_jump_alerts(table_env: TableEnvironment, records: list[dict[str, Any]]) -> None:
    expected = set()
    series: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        series[(record["symbol"], record["interval"])].append(record)
    for (symbol, interval), members in series.items():
        members.sort(key=ts_of)  # MATCH_RECOGNIZE orders by event time, whatever the arrival order
        for a, b in zip(members, members[1:], strict=False):
            before, after = as_float(a["close"]), as_float(b["close"])
            if abs(after - before) >= 0.005 * before:
                expected.add((symbol, interval, a["ts"], b["ts"]))
    rows = collect(table_env, by_name("price_jumps"))
    assert {(r["symbol"], r["interval"], r["from_ts"], r["to_ts"]) for r in rows} == expected
    designed = {(s, iso(t)) for s, t in JUMPS}
    assert designed <= {(r["symbol"], r["to_ts"]) for r in rows}
    assert ("BTC", "5min", "2026-11-22T10:05:00Z", "2026-11-22T10:10:00Z") in expected  # 67100 -> 68000
