"""Intervals the pipeline understands, and the Alpha Vantage function each one maps to."""

INTRADAY_INTERVALS: tuple[str, ...] = ("1min", "5min", "15min", "30min", "60min")
SPOT = "spot"
DAILY = "1d"
INTERVALS: tuple[str, ...] = (*INTRADAY_INTERVALS, SPOT, DAILY)

_SECONDS = {"1min": 60, "5min": 300, "15min": 900, "30min": 1800, "60min": 3600, DAILY: 86400, SPOT: 0}

# Alpha Vantage function per interval: intraday bars are premium, spot snapshots are free tier.
ALPHA_VANTAGE_FUNCTION = {
    **{i: "CRYPTO_INTRADAY" for i in INTRADAY_INTERVALS},
    SPOT: "CURRENCY_EXCHANGE_RATE",
    DAILY: "DIGITAL_CURRENCY_DAILY",
}


def interval_seconds(interval: str) -> int:
    """Length of one bar in seconds (0 for spot snapshots, which are instants)."""
    try:
        return _SECONDS[interval]
    except KeyError:
        raise ValueError(f"unknown interval {interval!r}; expected one of {', '.join(INTERVALS)}") from None
