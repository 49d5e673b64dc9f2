"""The crash suite's accounting: the simulator's ground truth, the watermark samples, the tally, the last line.

The ground truth is what the market simulator served, recomputed here from the same seed through its own
query API (``MarketSimulator.answer``): the first run of an empty stack takes a compact answer (the newest
100 bars at the first clock), every later run takes the bars newer than its watermark up to the clock, so
at the end every bar from the first one served to the newest closed at the final clock must be in the
table exactly once, with the values served, and ``LATEST`` must be the newest. The checks themselves are
the soak's (``tools.soak.verify``) against a ``Ledger`` filled from this ground truth.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from cryptostream_model.intervals import interval_seconds
from local.market import MarketSimulator
from tools.soak.ledger import BarKey, Ledger, Values
from tools.soak.verify import Verdict

_ROW_FIELDS = ("1. open", "2. high", "3. low", "4. close", "5. volume")


def newest_closed(clock: float, step: int) -> int:
    """Index of the newest bar the simulator serves at ``clock`` (its close at or before the clock)."""
    return int(clock // step) - 1


def served_bars(seed: int, pair: str, interval: str, first_clock: float, final_clock: float) -> dict[BarKey, Values]:
    """Every bar of ``pair`` the simulator serves from the first run's compact answer (at ``first_clock``)
    to the newest bar closed at ``final_clock``, with its values as served, asked of the simulator itself."""
    simulator = MarketSimulator(seed=seed)
    step = interval_seconds(interval)
    first = newest_closed(first_clock, step) - simulator.compact_bars + 1
    last = newest_closed(final_clock, step)
    symbol, market = pair.split("-", 1)
    bars: dict[BarKey, Values] = {}
    end = last
    while end >= first:  # one full answer (2,000 bars) at a time, newest first
        simulator.clock.set((end + 1) * step)
        status, body = simulator.answer(
            {"function": "CRYPTO_INTRADAY", "symbol": symbol, "market": market, "interval": interval}
            | {"outputsize": "full", "apikey": "crash-suite"}
        )
        series = body.get(f"Time Series Crypto ({interval})") if status == 200 else None
        if not series:
            raise RuntimeError(f"the simulator refused the ground truth of {pair}: {status} {body}")
        for label, row in series.items():
            epoch = int(datetime.fromisoformat(label).replace(tzinfo=UTC).timestamp())
            if first <= epoch // step <= last:
                bars[(pair, epoch)] = tuple(Decimal(str(row[name])) for name in _ROW_FIELDS)
        end -= simulator.full_bars
    return bars


def ground_truth_ledger(seed: int, pairs: list[str], interval: str, first_clock: float, final_clock: float) -> Ledger:
    """A fresh ledger whose expected and published bars are the simulator's ground truth (one value each)."""
    ledger = Ledger(interval)
    for pair in pairs:
        for key, values in served_bars(seed, pair, interval, first_clock, final_clock).items():
            ledger.expected.add(key)
            ledger.published[key] = {values}
    ledger.published_records = len(ledger.published)
    return ledger


@dataclass
class WatermarkSamples:
    """Watermarks read from the running stack before each kill and after each restart; never allowed back.

    A regression is one step back between consecutive samples of a pair (a watermark that went back and
    stays there is one regression, not one per later sample); a pair whose watermark vanished is one too.
    """

    last: dict[str, str] = field(default_factory=dict)
    samples: int = 0
    regressions: list[str] = field(default_factory=list)

    def observe(self, current: dict[str, str], moment: str) -> None:
        self.samples += 1
        for pair, ts in sorted(current.items()):
            before = self.last.get(pair)
            if before is not None and ts < before:
                self.regressions.append(f"{moment}: {pair} {before} -> {ts}")
        for pair in sorted(set(self.last) - set(current)):
            self.regressions.append(f"{moment}: {pair} {self.last[pair]} -> (none)")
        self.last = dict(current)


@dataclass
class Tally:
    """What the suite did to the stack."""

    kills: Counter[str] = field(default_factory=Counter)  # by where: "random" or the crash point's name
    disk_full: int = 0
    restarts: int = 0
    points_missed: int = 0  # sessions whose armed point was never reached (then killed at random)
    violations: list[str] = field(default_factory=list)  # harness-level: a start that failed, no convergence

    @property
    def kill_count(self) -> int:
        return sum(self.kills.values())


def summary_line(tally: Tally, verdict: Verdict, watermarks: WatermarkSamples) -> str:
    moved = len(watermarks.regressions) + verdict.watermark_regressions
    back = "watermarks never moved back" if not moved else f"watermarks moved back {moved} times"
    return (
        f"crash: {tally.kill_count} kills, {tally.disk_full} disk-full, {verdict.lost} lost, "
        f"{verdict.duplicated_in_table} duplicated in DynamoDB, {back}"
    )


def first_violation(tally: Tally, verdict: Verdict, watermarks: WatermarkSamples) -> str | None:
    """One line naming the first thing that went wrong, or None when everything held."""
    if tally.violations:
        return tally.violations[0]
    if watermarks.regressions:
        return f"watermark moved back: {watermarks.regressions[0]}"
    if verdict.problems:
        return verdict.problems[0]
    if not verdict.ok:  # every failing check notes a problem; this is a guard against a silent one
        return "the accounting failed without naming a problem"
    return None
