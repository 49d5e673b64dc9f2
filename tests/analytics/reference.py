"""Plain-Python answers to the named queries, computed from the rows the fixture wrote (not from the files)."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import datetime
from typing import Any

SECONDS = {"1min": 60, "5min": 300, "15min": 900, "30min": 1800, "60min": 3600, "1d": 86400}


def ts_of(row: dict[str, Any]) -> datetime:
    return datetime.strptime(row["ts"], "%Y-%m-%dT%H:%M:%SZ")


def valid(row: dict[str, Any]) -> bool:
    """The record model's price rules (the consumer quarantines the rest; the archive keeps them)."""
    numbers = [row[k] for k in ("open", "high", "low", "close", "volume")]
    if any(n is None or not math.isfinite(n) for n in numbers):
        return False
    return (row["low"] > 0 and row["high"] >= row["low"] and row["volume"] >= 0
            and row["low"] <= row["open"] <= row["high"] and row["low"] <= row["close"] <= row["high"])


def deduped(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Valid rows, one per (symbol, market, interval, ts): the newest fetched_at."""
    best: dict[tuple, dict[str, Any]] = {}
    for row in filter(valid, rows):
        key = (row["symbol"], row["market"], row["interval"], row["ts"])
        if key not in best or row["fetched_at"] > best[key]["fetched_at"]:
            best[key] = row
    return sorted(best.values(), key=lambda r: (r["symbol"], r["market"], r["interval"], r["ts"]))


def series(rows: list[dict[str, Any]], interval: str) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in deduped(rows):
        if row["interval"] == interval:
            out[(row["symbol"], row["market"])].append(row)
    return out


def rollup(rows: list[dict[str, Any]], unit: str, interval: str = "5min",
           misfiled: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Rows the archive filed under another date (``misfiled``) are left out, as the rollup queries do."""
    buckets: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    filed = [r for r in rows if not any(r is m for m in misfiled)]
    for (symbol, market), bars in series(filed, interval).items():
        for bar in bars:
            ts = ts_of(bar)
            start = ts.replace(minute=0, second=0) if unit == "hour" else ts.replace(hour=0, minute=0, second=0)
            buckets[(symbol, market, start)].append(bar)
    result = []
    for (symbol, market, start), bars in sorted(buckets.items()):
        bars.sort(key=lambda b: b["ts"])
        result.append({
            "symbol": symbol, "market": market, "bucket": start,
            "open": bars[0]["open"], "high": max(b["high"] for b in bars), "low": min(b["low"] for b in bars),
            "close": bars[-1]["close"], "volume": sum(b["volume"] for b in bars), "bars": len(bars),
        })
    return result


def vwap_1d(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    days: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for (symbol, market), bars in series(rows, "5min").items():
        for bar in bars:
            days[(symbol, market, ts_of(bar).date())].append(bar)
    result = []
    for (symbol, market, day), bars in sorted(days.items()):
        volume = sum(b["volume"] for b in bars)
        vwap = sum((b["high"] + b["low"] + b["close"]) / 3 * b["volume"] for b in bars) / volume
        last_close = max(bars, key=lambda b: b["ts"])["close"]
        result.append({"symbol": symbol, "market": market, "day": day, "vwap": vwap, "volume": volume,
                       "bars": len(bars), "last_close": last_close, "close_vs_vwap_bps": (last_close / vwap - 1) * 1e4})
    return result


def returns_and_volatility(rows: list[dict[str, Any]], window: int = 20) -> list[dict[str, Any]]:
    result = []
    annualise = math.sqrt(365 * 86400 / 300)
    for (symbol, market), bars in sorted(series(rows, "5min").items()):
        returns: list[float | None] = [None]
        returns += [math.log(b["close"] / a["close"]) for a, b in zip(bars, bars[1:], strict=False)]
        for i, bar in enumerate(bars):
            recent = [r for r in returns[max(0, i - window + 1): i + 1] if r is not None]
            vol = statistics.stdev(recent) if len(recent) == window else None
            result.append({"symbol": symbol, "market": market, "ts": ts_of(bar), "close": bar["close"],
                           "log_return": returns[i], "rolling_volatility": vol,
                           "annualised_volatility": vol * annualise if vol is not None else None})
    return result


def moving_averages(rows: list[dict[str, Any]], short: int = 20, long: int = 50) -> list[dict[str, Any]]:
    result = []
    for (symbol, market), bars in sorted(series(rows, "5min").items()):
        closes = [b["close"] for b in bars]
        last_side = 0  # sign of the last non-touching difference
        for i, bar in enumerate(bars):
            sma_short = statistics.fmean(closes[i - short + 1: i + 1]) if i + 1 >= short else None
            sma_long = statistics.fmean(closes[i - long + 1: i + 1]) if i + 1 >= long else None
            crossover = None
            if sma_short is not None and sma_long is not None:
                gap = sma_short - sma_long
                side = 0 if abs(gap) <= 1e-9 * abs(sma_long) else (1 if gap > 0 else -1)
                if side and last_side and side != last_side:
                    crossover = "golden_cross" if side > 0 else "death_cross"
                last_side = side or last_side
            result.append({"symbol": symbol, "market": market, "ts": ts_of(bar), "close": bar["close"],
                           "sma_short": sma_short, "sma_long": sma_long, "crossover": crossover})
    return result


def spread_stats(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    days: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    for (symbol, market), snaps in series(rows, "spot").items():
        for snap in snaps:
            if snap["bid"] is not None and snap["ask"] is not None and 0 < snap["bid"] <= snap["ask"]:
                spread = snap["ask"] - snap["bid"]
                mid = (snap["ask"] + snap["bid"]) / 2
                days[(symbol, market, ts_of(snap).date())].append((spread, spread / mid * 1e4))
    result = []
    for (symbol, market, day), values in sorted(days.items()):
        bps = sorted(v[1] for v in values)
        result.append({"symbol": symbol, "market": market, "day": day, "snapshots": len(values),
                       "mean_spread": statistics.fmean(v[0] for v in values), "mean_spread_bps": statistics.fmean(bps),
                       "min_spread_bps": bps[0], "max_spread_bps": bps[-1],
                       "sorted_bps": bps})
    return result


def data_quality(rows: list[dict[str, Any]], as_of: datetime, misfiled: list[dict[str, Any]],
                 stale_after: int = 1800) -> list[dict[str, Any]]:
    """``misfiled``: the rows the fixture wrote under a dt partition other than their ts date."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["symbol"], row["market"], row["interval"])].append(row)
    result = []
    for (symbol, market, interval), members in sorted(groups.items()):
        times = sorted({ts_of(r) for r in members})
        step = SECONDS.get(interval, 0)
        gaps = missing = 0
        for a, b in zip(times, times[1:], strict=False):
            seconds = (b - a).total_seconds()
            if step and seconds > step:
                gaps += 1
                missing += int(seconds // step) - 1
        invalid = sum(1 for r in members if not valid(r))
        misfiled_rows = sum(1 for r in members if any(r is m for m in misfiled))
        since = int((as_of - times[-1]).total_seconds())
        result.append({"symbol": symbol, "market": market, "interval": interval, "rows": len(members),
                       "bars": len(times), "duplicate_rows": len(members) - len(times), "invalid_rows": invalid,
                       "misfiled_rows": misfiled_rows, "first_ts": times[0], "last_ts": times[-1], "gaps": gaps,
                       "missing_bars": missing, "seconds_since_last": since,
                       "stale": since > max(stale_after, 2 * step)})
    return result
