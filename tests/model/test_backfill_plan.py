"""The backfill chunk planner: chunks cover the range exactly, never overlap, and each fits its limits."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptostream_model.backfill import MAX_CHUNKS, PlanError, chunk_slots, plan_backfill
from cryptostream_model.intervals import interval_seconds
from cryptostream_model.record import format_ts

PAIRS = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-EUR", "ADA-USD", "DOGE-USD", "LTC-EUR"]
BASE = datetime(2026, 1, 1, tzinfo=UTC)


def expected_slots(interval: str, start: datetime, end: datetime) -> list[str]:
    step = interval_seconds(interval)
    first = -(-int(start.timestamp()) // step) * step
    out, moment = [], first
    while moment <= end.timestamp():
        out.append(format_ts(datetime.fromtimestamp(moment, UTC)))
        moment += step
    return out


@settings(max_examples=150, deadline=None)
@given(
    interval=st.sampled_from(["1min", "5min", "15min", "60min", "1d"]),
    pairs=st.lists(st.sampled_from(PAIRS), min_size=1, max_size=7, unique=True),
    offset=st.integers(0, 86_400 * 3),
    length=st.integers(0, 86_400 * 20),
    max_pairs=st.integers(1, 8),
    max_bars=st.integers(8, 5_000),
    rpm=st.floats(1, 100),
)
def test_chunks_cover_the_range_exactly_without_overlap_within_limits(
    interval, pairs, offset, length, max_pairs, max_bars, rpm
):
    start = BASE + timedelta(seconds=offset)
    end = start + timedelta(seconds=length)
    request = {"pairs": pairs, "interval": interval, "start": start.isoformat(), "end": end.isoformat()}
    try:
        plan = plan_backfill(request, max_pairs_per_run=max_pairs, max_bars_per_run=max_bars, requests_per_minute=rpm)
    except PlanError as exc:
        assert "exceed" in str(exc)  # only an oversized plan is refused
        return
    covered = Counter(
        (pair, ts) for chunk in plan.chunks for pair in chunk.pairs for ts in chunk_slots(chunk, interval)
    )
    wanted = {(pair, ts) for pair in pairs for ts in expected_slots(interval, start, end)}
    assert set(covered) == wanted  # exactly the range
    assert all(count == 1 for count in covered.values())  # no overlap
    assert plan.bars == len(wanted)
    for chunk in plan.chunks:
        assert len(chunk.pairs) <= min(max_pairs, max(1, int(rpm)))
        assert chunk.bars == len(chunk.pairs) * len(chunk_slots(chunk, interval)) <= max_bars
        assert start <= datetime.fromisoformat(chunk.start.replace("Z", "+00:00"))
        assert datetime.fromisoformat(chunk.end.replace("Z", "+00:00")) <= end
    assert [chunk.id for chunk in plan.chunks] == sorted(chunk.id for chunk in plan.chunks)
    assert len(plan.chunks) <= MAX_CHUNKS


def test_each_pairs_windows_come_oldest_first_and_pace_the_rate_budget():
    plan = plan_backfill(
        {"pairs": PAIRS, "interval": "5min", "start": "2026-11-01", "end": "2026-11-02"},
        max_bars_per_run=1000,
        requests_per_minute=5,
    )
    assert {len(chunk.pairs) for chunk in plan.chunks} == {5, 2}
    for pair in PAIRS:
        starts = [chunk.start for chunk in plan.chunks if pair in chunk.pairs]
        assert starts == sorted(starts)
    assert plan.pause_seconds == 60.0  # five requests a run at five a minute
    assert plan.chunks[0].producer_event("5min") == {
        "mode": "full", "pairs": PAIRS[:5], "interval": "5min", "start": "2026-11-01T00:00:00Z",
        "end": "2026-11-01T16:35:00Z",
    }


def test_the_same_request_is_the_same_backfill():
    one = plan_backfill({"pairs": "BTC-USD,ETH-USD", "interval": "5min", "start": "2026-11-01", "end": "2026-11-02"})
    two = plan_backfill({"pairs": ["eth-usd", "btc-usd"], "interval": "5min", "start": "2026-11-01T00:00:00Z",
                         "end": "2026-11-02T00:00:00+00:00"})
    other = plan_backfill({"pairs": "BTC-USD", "interval": "5min", "start": "2026-11-01", "end": "2026-11-02"})
    assert one.backfill_id == two.backfill_id != other.backfill_id


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"pairs": "BTC-USD", "interval": "spot", "start": "2026-11-01", "end": "2026-11-02"}, "spot"),
        ({"pairs": "BTC-USD", "interval": "7min", "start": "2026-11-01", "end": "2026-11-02"}, "unknown interval"),
        ({"pairs": "BTCUSD", "interval": "5min", "start": "2026-11-01", "end": "2026-11-02"}, "invalid pair"),
        ({"pairs": "BTC-USD", "interval": "5min", "start": "2026-11-03", "end": "2026-11-02"}, "after end"),
        ({"pairs": "BTC-USD", "interval": "5min", "start": "yesterday", "end": "2026-11-02"}, "ISO-8601"),
        ({"pairs": "BTC-USD", "interval": "5min", "end": "2026-11-02"}, "start is required"),
        ({"source": "ccxt", "pairs": "BTC-USD", "interval": "5min", "start": "2026-11-01", "end": "2026-11-02"},
         "unknown source"),
        ({"pairs": PAIRS, "interval": "1min", "start": "2023-01-01", "end": "2026-01-01"}, "exceed"),
    ],
)
def test_bad_requests_are_one_line_errors(request_, message):
    with pytest.raises(PlanError, match=message):
        plan_backfill(request_)
