"""Candlestick charts of one pair from the archive: OHLC candles, volume panel and two moving averages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analytics.local import run_named_query
from analytics.named_queries import QueryError

IMAGE_SUFFIXES = (".png", ".svg", ".pdf")


def _frame(rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["ts", "open", "high", "low", "close", "volume"])
    frame = frame.rename(columns=str.capitalize).set_index("Ts")
    frame.index = pd.DatetimeIndex(frame.index, name="Date")
    return frame.astype(float)


def write_chart(pair: str, interval: str, archive: str | None, out_path: str | Path, *,
                start: str | None = None, end: str | None = None, endpoint: str | None = None,
                max_bars: int = 500, moving_averages: tuple[int, int] = (20, 50)) -> Path:
    """Draw the last ``max_bars`` deduplicated bars of ``pair`` (between ``start`` and ``end``, UTC) into
    ``out_path``; returns the path. Spot snapshots have no OHLC, so they are drawn as a line."""
    out = Path(out_path).expanduser()
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise QueryError(f"chart file must end in {', '.join(IMAGE_SUFFIXES)}: {out}")
    params = {"pair": pair, "source_interval": interval}
    if start:
        params["start_ts"] = start
    if end:
        params["end_ts"] = end
    rows = run_named_query("bars", params, archive, endpoint)[-max_bars:]
    if not rows:
        span = f" between {start or 'the start'} and {end or 'the end'}" if start or end else ""
        raise QueryError(f"no {interval} bars for {pair.upper()} in the archive{span}")

    import logging

    import matplotlib

    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # style fonts fall back quietly
    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt
    import mplfinance as mpf

    frame = _frame(rows)
    windows = tuple(w for w in moving_averages if 1 < w < len(frame))
    out.parent.mkdir(parents=True, exist_ok=True)
    first, last = frame.index[0], frame.index[-1]
    figure, _ = mpf.plot(
        frame,
        type="line" if interval == "spot" else "candle",
        volume=bool(frame["Volume"].sum() > 0),
        mav=windows or (),
        style="yahoo",
        title=f"{pair.upper()} {interval}  {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC",
        ylabel=f"price ({rows[0]['market']})",
        figsize=(12, 7),
        returnfig=True,
        warn_too_much_data=max_bars + 1,
    )
    if windows:
        lines = figure.axes[0].get_lines()[-len(windows):]
        figure.axes[0].legend(lines, [f"SMA {w}" for w in windows], loc="upper left")
    figure.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return out
