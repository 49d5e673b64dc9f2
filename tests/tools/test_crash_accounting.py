"""The crash suite's accounting: the ground truth, watermark samples, the session plan and the last line."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from local.market import MarketSimulator
from tools.crash.accounting import (
    Tally,
    WatermarkSamples,
    first_violation,
    ground_truth_ledger,
    newest_closed,
    served_bars,
    summary_line,
)
from tools.crash.run import POINTS, CrashConfig, plan_sessions
from tools.soak.verify import Verdict

FIRST = datetime(2026, 11, 28, 6, 5, 30, tzinfo=UTC).timestamp()  # mid-bar, as the suite starts


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def test_newest_closed_is_the_bar_whose_close_is_at_or_before_the_clock() -> None:
    assert newest_closed(120.0, 60) == 1  # bar 1 covers [60, 120): closed at 120
    assert newest_closed(119.9, 60) == 0


def test_served_bars_start_with_the_first_compact_answer_and_end_at_the_final_clock() -> None:
    bars = served_bars(42, "BTC-USD", "1min", FIRST, FIRST)
    epochs = sorted(epoch for _, epoch in bars)
    assert len(epochs) == 100  # the first run of an empty stack takes a compact answer
    assert epochs[-1] == _epoch("2026-11-28 06:04:00")  # 06:05 is still open at 06:05:30
    assert epochs == list(range(epochs[0], epochs[-1] + 60, 60))  # contiguous, one per bar


def test_served_bars_span_several_full_answers_without_gap_or_overlap() -> None:
    final = FIRST + 4500 * 60  # more than two full answers (2,000 bars each)
    bars = served_bars(42, "ETH-USD", "1min", FIRST, final)
    epochs = sorted(epoch for _, epoch in bars)
    assert len(epochs) == 4600
    assert epochs == list(range(epochs[0], epochs[-1] + 60, 60))


def test_served_values_are_what_the_simulator_answers_over_its_query_api() -> None:
    bars = served_bars(42, "SOL-USD", "1min", FIRST, FIRST)
    simulator = MarketSimulator(seed=42)
    simulator.clock.set(FIRST)
    _, body = simulator.answer(
        {"function": "CRYPTO_INTRADAY", "symbol": "SOL", "market": "USD", "interval": "1min", "apikey": "k"}
    )
    label, row = next(iter(body["Time Series Crypto (1min)"].items()))
    assert bars[("SOL-USD", _epoch(label))] == tuple(Decimal(row[f]) for f in row)


def test_a_different_seed_is_a_different_market() -> None:
    assert served_bars(1, "BTC-USD", "1min", FIRST, FIRST) != served_bars(2, "BTC-USD", "1min", FIRST, FIRST)


def test_the_ledger_expects_exactly_what_was_served_per_pair() -> None:
    ledger = ground_truth_ledger(42, ["BTC-USD", "ETH-USD"], "1min", FIRST, FIRST + 30 * 60)
    assert len(ledger.expected) == 2 * 130
    assert set(ledger.published) == ledger.expected
    assert all(len(values) == 1 for values in ledger.published.values())
    newest = ledger.newest_per_pair()
    assert newest["BTC-USD"][1] == _epoch("2026-11-28 06:34:00")


def test_watermarks_moving_on_or_standing_still_are_fine() -> None:
    samples = WatermarkSamples()
    samples.observe({"BTC-USD": "2026-11-28T06:04:00Z"}, "restart 1")
    samples.observe({"BTC-USD": "2026-11-28T06:04:00Z"}, "before kill 1")
    samples.observe({"BTC-USD": "2026-11-28T06:09:00Z"}, "restart 2")
    assert samples.regressions == [] and samples.samples == 3


def test_a_watermark_that_goes_back_is_one_regression_however_long_it_stays_back() -> None:
    samples = WatermarkSamples()
    samples.observe({"BTC-USD": "2026-11-28T06:09:00Z", "ETH-USD": "2026-11-28T06:09:00Z"}, "before kill 3")
    samples.observe({"BTC-USD": "2026-11-28T06:04:00Z", "ETH-USD": "2026-11-28T06:09:00Z"}, "restart 4")
    samples.observe({"BTC-USD": "2026-11-28T06:04:00Z", "ETH-USD": "2026-11-28T06:10:00Z"}, "session 4")
    samples.observe({"BTC-USD": "2026-11-28T06:05:00Z", "ETH-USD": "2026-11-28T06:10:00Z"}, "session 4")
    assert samples.regressions == ["restart 4: BTC-USD 2026-11-28T06:09:00Z -> 2026-11-28T06:04:00Z"]


def test_a_watermark_that_vanishes_is_a_regression() -> None:
    samples = WatermarkSamples()
    samples.observe({"BTC-USD": "2026-11-28T06:09:00Z"}, "before kill 1")
    samples.observe({}, "restart 2")
    assert samples.regressions == ["restart 2: BTC-USD 2026-11-28T06:09:00Z -> (none)"]


def _tally(kills: dict[str, int], disk_full: int = 0) -> Tally:
    tally = Tally(disk_full=disk_full)
    tally.kills.update(kills)
    return tally


def test_the_last_line_when_everything_held() -> None:
    tally, verdict, samples = (
        _tally({"random": 4, "PutRecords": 2}, disk_full=1),
        Verdict(quotes=900),
        WatermarkSamples(),
    )
    assert summary_line(tally, verdict, samples) == (
        "crash: 6 kills, 1 disk-full, 0 lost, 0 duplicated in DynamoDB, watermarks never moved back"
    )
    assert first_violation(tally, verdict, samples) is None


def test_the_last_line_counts_losses_duplicates_and_regressions() -> None:
    verdict = Verdict(quotes=900, missing_in_table=3, missing_in_archive=2, duplicated_in_table=1)
    verdict.note("published but not in the table", [("BTC-USD", 1), ("BTC-USD", 2), ("BTC-USD", 3)])
    samples = WatermarkSamples(regressions=["restart 4: BTC-USD b -> a", "restart 4: ETH-USD b -> a"])
    line = summary_line(_tally({"random": 2}), verdict, samples)
    assert line == "crash: 2 kills, 0 disk-full, 5 lost, 1 duplicated in DynamoDB, watermarks moved back 2 times"
    assert first_violation(_tally({"random": 2}), verdict, samples) == "watermark moved back: restart 4: BTC-USD b -> a"


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        (Verdict(latest_wrong=1, problems=["LATEST is not the newest bar: 1 (e.g. BTC-USD LATEST=None)"]), "LATEST"),
        (Verdict(unexpected_in_table=1, problems=["table bar nobody published: 1"]), "nobody published"),
        (Verdict(valid_quarantined=1), "without naming"),  # a failing check that forgot its note still fails
    ],
)
def test_every_failed_check_is_a_violation_even_when_the_line_shows_zeros(verdict: Verdict, expected: str) -> None:
    violation = first_violation(_tally({"random": 1}), verdict, WatermarkSamples())
    assert violation is not None and expected in violation


def test_a_harness_violation_is_named_first() -> None:
    tally = _tally({"random": 1})
    tally.violations.append("session 3: up exited before it was ready (exit 1; last output: Traceback)")
    verdict = Verdict(missing_in_table=1, problems=["published but not in the table: 1"])
    assert first_violation(tally, verdict, WatermarkSamples()).startswith("session 3: up exited")


def test_the_plan_visits_every_point_and_spreads_the_full_disks() -> None:
    sessions = plan_sessions(CrashConfig(kills=12, disk_full=2), random.Random(7))
    kinds = [session.kind for session in sessions]
    assert len(sessions) == 14 and kinds.count("disk-full") == 2 and kinds[0] == "random"
    assert {s.crash_at.split(":")[0] for s in sessions if s.kind == "point"} == set(POINTS)
    for session in sessions:
        if session.kind == "point":
            name, count = session.crash_at.split(":")
            assert 1 <= int(count) <= POINTS[name]
    assert kinds.index("disk-full") not in (0, len(kinds) - 1)


def test_the_plan_is_reproducible_from_its_seed() -> None:
    config = CrashConfig(kills=9, disk_full=1)
    assert plan_sessions(config, random.Random(3)) == plan_sessions(config, random.Random(3))


@pytest.mark.parametrize(
    ("change", "message"),
    [({"kills": 0}, "kills"), ({"disk_full": -1}, "disk-full"), ({"bars_per_second": 0}, "bars per second")],
)
def test_bad_settings_are_refused(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CrashConfig(**change).validate()
