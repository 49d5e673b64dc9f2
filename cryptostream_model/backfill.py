"""The backfill chunk plan: ``{source, pairs, interval, start, end}`` split into producer runs.

One pure function, ``plan_backfill``, shared by ``cryptostream backfill`` (which runs the chunks on the
embedded stack) and the backfill state machine's planning Lambda (which runs them in AWS), so both homes
split a range the same way.

A chunk is one producer run in ``full`` mode: some pairs over a window of bar open times, both ends
inclusive and on the interval's grid. Its limits:

- at most ``max_pairs_per_run`` pairs: the producer makes one source request per pair, and a run's
  requests must fit the source's rate budget (``requests_per_minute``) on their own;
- at most ``max_bars_per_run`` bars (pairs x bar slots), so a run fits the producer Lambda's timeout;
- runs are paced: ``pause_seconds`` after each, so the requests of consecutive runs stay within the budget.

Chunks are ordered by window, then by pair group, so each pair's windows are visited oldest first. Together
they cover every (pair, bar slot) of the range exactly once. The plan's ``backfill_id`` is a digest of the
request: the same request is the same backfill, whose finished chunks a rerun skips (resume).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from cryptostream_model.intervals import INTERVALS, SPOT, interval_seconds
from cryptostream_model.record import SOURCE_ALPHA_VANTAGE, format_ts, parse_pair, parse_ts


@dataclass(frozen=True)
class SourceBudget:
    """What one source allows: requests per minute (its rate budget), and the defaults of a run's size."""

    requests_per_minute: float
    max_pairs_per_run: int
    max_bars_per_run: int


# Alpha Vantage's premium keys allow 75 requests a minute; a run keeps to 5 so a chunk never races the
# scheduled runs that share the key. A run's bars stay well inside the producer's 2-minute timeout.
SOURCE_BUDGETS = {
    SOURCE_ALPHA_VANTAGE: SourceBudget(requests_per_minute=5, max_pairs_per_run=5, max_bars_per_run=10_000),
}
MAX_CHUNKS = 500  # the plan and the per-chunk results travel in the execution's state, at most 256 KiB


class PlanError(ValueError):
    """A backfill request that cannot be planned (one line)."""


@dataclass(frozen=True)
class Chunk:
    """One producer run: ``pairs`` over bar open times ``start`` .. ``end`` (inclusive, on the grid)."""

    id: str  # "<window>-<group>", zero-padded: unique within the plan, sorts in plan order
    pairs: tuple[str, ...]
    start: str  # contract timestamp of the first bar
    end: str  # contract timestamp of the last bar
    bars: int  # len(pairs) x bar slots

    def producer_event(self, interval: str) -> dict[str, object]:
        """The producer's backfill event for this chunk (``mode: full``, docs/producer.md)."""
        return {"mode": "full", "pairs": list(self.pairs), "interval": interval, "start": self.start, "end": self.end}

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"pairs": list(self.pairs)}


@dataclass(frozen=True)
class BackfillPlan:
    backfill_id: str
    source: str
    interval: str
    start: str
    end: str
    pairs: tuple[str, ...]
    pause_seconds: int  # whole seconds: a Wait state's SecondsPath takes an integer
    chunks: tuple[Chunk, ...]

    @property
    def bars(self) -> int:
        return sum(chunk.bars for chunk in self.chunks)

    def to_dict(self) -> dict[str, object]:
        """The plan as the state machine's Map state and the CLI read it (JSON-ready)."""
        return {
            "backfill_id": self.backfill_id,
            "source": self.source,
            "interval": self.interval,
            "start": self.start,
            "end": self.end,
            "pairs": list(self.pairs),
            "pause_seconds": self.pause_seconds,
            "bars": self.bars,
            "chunks": [chunk.to_dict() | {"interval": self.interval} for chunk in self.chunks],
        }


def _moment(raw: object, name: str) -> datetime:
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, str) and raw.strip():
        try:
            moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            raise PlanError(f"{name} is not an ISO-8601 date or time: {raw!r}") from None
    else:
        raise PlanError(f"{name} is required (ISO-8601, e.g. 2026-11-01 or 2026-11-01T00:00:00Z)")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _pairs(raw: object) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, (list, tuple)):
        raise PlanError("pairs must be a list or a comma-separated string")
    pairs: list[str] = []
    for item in items:
        try:
            symbol, market = parse_pair(str(item))
        except ValueError as exc:
            raise PlanError(str(exc)) from None
        if f"{symbol}-{market}" not in pairs:
            pairs.append(f"{symbol}-{market}")
    if not pairs:
        raise PlanError("no pairs to backfill")
    return tuple(pairs)


def _positive(value: object, name: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise PlanError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise PlanError(f"{name} must be positive, got {value!r}")
    return number


def backfill_id(source: str, pairs: tuple[str, ...], interval: str, start: str, end: str) -> str:
    """The same request, the same backfill: a short digest of what it covers."""
    body = json.dumps([source, sorted(pairs), interval, start, end], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def plan_backfill(
    request: dict[str, object],
    *,
    max_pairs_per_run: int | None = None,
    max_bars_per_run: int | None = None,
    requests_per_minute: float | None = None,
) -> BackfillPlan:
    """Split ``request`` (``source`` (default alphavantage), ``pairs``, ``interval``, ``start``, ``end``) into
    chunks. Limits default to the source's budget; the request may carry them too (same names). Raises
    PlanError with one line on bad input or a plan of more than ``MAX_CHUNKS`` chunks."""
    source = str(request.get("source") or SOURCE_ALPHA_VANTAGE)
    budget = SOURCE_BUDGETS.get(source)
    if budget is None:
        raise PlanError(f"unknown source {source!r}; expected one of {', '.join(SOURCE_BUDGETS)}")
    interval = str(request.get("interval") or "")
    if interval not in INTERVALS:
        raise PlanError(f"unknown interval {interval!r}; expected one of {', '.join(INTERVALS)}")
    if interval == SPOT:
        raise PlanError("spot snapshots have no history to backfill; choose a bar interval")
    pairs = _pairs(request.get("pairs"))
    start, end = _moment(request.get("start"), "start"), _moment(request.get("end"), "end")
    if start > end:
        raise PlanError(f"start {format_ts(start)} is after end {format_ts(end)}")
    rpm = _positive(
        requests_per_minute or request.get("requests_per_minute") or budget.requests_per_minute, "requests_per_minute"
    )
    pairs_per_run = int(
        _positive(
            max_pairs_per_run or request.get("max_pairs_per_run") or budget.max_pairs_per_run, "max_pairs_per_run"
        )
    )
    bars_per_run = int(
        _positive(max_bars_per_run or request.get("max_bars_per_run") or budget.max_bars_per_run, "max_bars_per_run")
    )
    # A run's requests must fit one minute of the budget by themselves.
    group_size = max(1, min(pairs_per_run, math.floor(rpm), len(pairs)))
    groups = [pairs[i : i + group_size] for i in range(0, len(pairs), group_size)]
    step = interval_seconds(interval)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first_slot = math.ceil((start - epoch).total_seconds() / step)
    last_slot = math.floor((end - epoch).total_seconds() / step)
    slots = last_slot - first_slot + 1
    chunks: list[Chunk] = []
    if slots > 0:
        slots_per_window = max(1, bars_per_run // group_size)
        if bars_per_run < group_size:
            raise PlanError(f"max_bars_per_run {bars_per_run} is below one bar for each of {group_size} pairs")
        windows = math.ceil(slots / slots_per_window)
        if windows * len(groups) > MAX_CHUNKS:
            raise PlanError(
                f"{windows * len(groups)} chunks exceed {MAX_CHUNKS}: split the range or raise max_bars_per_run"
            )
        for window in range(windows):
            lo = first_slot + window * slots_per_window
            hi = min(last_slot, lo + slots_per_window - 1)
            for number, group in enumerate(groups):
                chunks.append(
                    Chunk(
                        id=f"{window:04d}-{number:03d}",
                        pairs=group,
                        start=format_ts(epoch + timedelta(seconds=lo * step)),
                        end=format_ts(epoch + timedelta(seconds=hi * step)),
                        bars=len(group) * (hi - lo + 1),
                    )
                )
    start_text, end_text = format_ts(start), format_ts(end)
    return BackfillPlan(
        backfill_id=backfill_id(source, pairs, interval, start_text, end_text),
        source=source,
        interval=interval,
        start=start_text,
        end=end_text,
        pairs=pairs,
        pause_seconds=math.ceil(60.0 * group_size / rpm),
        chunks=tuple(chunks),
    )


def chunk_slots(chunk: Chunk, interval: str) -> list[str]:
    """Every bar open time a chunk covers (for tests and progress)."""
    step = timedelta(seconds=interval_seconds(interval))
    moment, last = parse_ts(chunk.start), parse_ts(chunk.end)
    out = []
    while moment <= last:
        out.append(format_ts(moment))
        moment += step
    return out
