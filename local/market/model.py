"""The simulated market: prices and volumes as pure functions of (seed, symbol, market, time).

The log price of a symbol at second ``t`` is a sum of value-noise octaves (lattice periods of 1 min, 4 min,
16 min … ~45 days, amplitudes growing with the square root of the period, as a random walk's do), each lattice
value a hash of (seed, symbol, octave, lattice index). So any bar is a pure function of (seed, symbol,
market, interval, bar time): reproducible whenever it is requested, cheap to compute (O(bars requested),
vectorised with numpy), bounded (no drift to zero), and consistent across intervals (a 5min bar opens where
the 1min bar at that time opens). Bar ``k`` of an interval of ``s`` seconds covers ``[k*s, (k+1)*s)``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

# symbol -> (name, USD price the walk is centred on, annualised volatility, mean volume per minute)
DEFAULT_SYMBOLS: dict[str, tuple[str, float, float, float]] = {
    "BTC": ("Bitcoin", 91000.0, 0.55, 12.0),
    "ETH": ("Ethereum", 3100.0, 0.70, 180.0),
    "SOL": ("Solana", 140.0, 0.90, 2500.0),
    "XRP": ("XRP", 0.55, 0.85, 400000.0),
    "ADA": ("Cardano", 0.45, 0.85, 350000.0),
    "DOGE": ("Dogecoin", 0.12, 1.00, 1500000.0),
    "LTC": ("Litecoin", 85.0, 0.75, 3000.0),
    "DOT": ("Polkadot", 6.5, 0.85, 40000.0),
    "AVAX": ("Avalanche", 30.0, 0.90, 9000.0),
    "LINK": ("Chainlink", 14.0, 0.85, 20000.0),
    "BNB": ("Binance Coin", 600.0, 0.60, 450.0),
    "TRX": ("TRON", 0.2, 0.70, 900000.0),
}
# market -> (name, units of the market per USD)
DEFAULT_MARKETS: dict[str, tuple[str, float]] = {
    "USD": ("United States Dollar", 1.0),
    "EUR": ("Euro", 0.92),
    "GBP": ("British Pound Sterling", 0.79),
    "JPY": ("Japanese Yen", 151.0),
    "CNY": ("Chinese Yuan", 7.2),
}
INTERVAL_SECONDS = {"1min": 60, "5min": 300, "15min": 900, "30min": 1800, "60min": 3600}
DAY = 86400
_OCTAVES = 9  # lattice periods 60 s * 4**j: 1 min … ~45 days
_MINUTES_PER_YEAR = 525600
_SPREAD = 0.0002  # bid/ask 2 basis points apart


def _seed64(*parts: object) -> int:
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser over uint64 (wrapping arithmetic is the point)."""
    with np.errstate(over="ignore"):
        values = values + np.uint64(0x9E3779B97F4A7C15)
        values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def _unit_noise(key: int, index: np.ndarray) -> np.ndarray:
    """Deterministic noise with mean 0 and variance 1 (uniform), one value per integer index."""
    mixed = _mix(np.uint64(key) ^ _mix(index.astype(np.uint64)))
    uniform = (mixed >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    return (uniform - 0.5) * math.sqrt(12.0)


@dataclass(frozen=True)
class Bars:
    """Rounded bars (floats already rounded to the answer's decimals), oldest first."""

    opens: list[float]
    highs: list[float]
    lows: list[float]
    closes: list[float]
    volumes: list[float]
    first_index: int

    def prices(self) -> tuple[list[float], list[float], list[float], list[float]]:
        return self.opens, self.highs, self.lows, self.closes


class MarketModel:
    """Prices and volumes as pure functions of (seed, symbol, market, time)."""

    def __init__(
        self,
        seed: int,
        symbols: Mapping[str, tuple[str, float, float, float]],
        markets: Mapping[str, tuple[str, float]],
        accept_any_symbol: bool = False,
    ) -> None:
        self.seed = seed
        self.symbols = dict(symbols)
        self.markets = dict(markets)
        self.accept_any_symbol = accept_any_symbol

    def knows(self, symbol: str, market: str) -> bool:
        return market in self.markets and (symbol in self.symbols or self.accept_any_symbol and symbol.isalnum())

    def profile(self, symbol: str) -> tuple[str, float, float, float]:
        if symbol in self.symbols:
            return self.symbols[symbol]
        # an unlisted symbol (accept_any_symbol): a stable made-up coin between 0.5 and 500 USD
        level = 10 ** (_seed64(self.seed, symbol, "level") % 3000 / 1000 - 0.3)
        return (symbol.title(), level, 0.8, 5000.0)

    def log_prices(self, symbol: str, market: str, seconds: np.ndarray) -> np.ndarray:
        _, level, volatility, _ = self.profile(symbol)
        sigma_minute = volatility / math.sqrt(_MINUTES_PER_YEAR)
        total = np.full(seconds.shape, math.log(level * self.markets[market][1]))
        for octave in range(_OCTAVES):
            period = 60 * 4**octave
            lattice, offset = np.divmod(seconds, period)
            weight = offset / period
            key = _seed64(self.seed, symbol, "octave", octave)
            left, right = _unit_noise(key, lattice), _unit_noise(key, lattice + 1)
            # sqrt(period) growth is a random walk's; /sqrt(2) because neighbours are independent
            amplitude = sigma_minute * math.sqrt(period / 60) / math.sqrt(2)
            total += amplitude * (left + (right - left) * weight)
        return total

    def bars(self, symbol: str, market: str, step: int, first: int, count: int, decimals: int) -> Bars:
        """``count`` bars of ``step`` seconds starting at bar index ``first`` (bar k opens at k*step)."""
        _, _, volatility, volume_per_minute = self.profile(symbol)
        edges = (np.arange(first, first + count + 1, dtype=np.int64)) * step
        prices = np.exp(self.log_prices(symbol, market, edges))
        index = np.arange(first, first + count, dtype=np.int64)
        bar_sigma = volatility / math.sqrt(_MINUTES_PER_YEAR) * math.sqrt(step / 60)
        up = np.abs(_unit_noise(_seed64(self.seed, symbol, market, step, "up"), index)) * bar_sigma * 0.6
        down = np.abs(_unit_noise(_seed64(self.seed, symbol, market, step, "down"), index)) * bar_sigma * 0.6
        size = np.exp(0.5 * _unit_noise(_seed64(self.seed, symbol, market, step, "volume"), index))
        floor = 10.0**-decimals
        opens = np.maximum(np.round(prices[:-1], decimals), floor)
        closes = np.maximum(np.round(prices[1:], decimals), floor)
        top, bottom = np.maximum(opens, closes), np.minimum(opens, closes)
        # rounded once, then bounded by the rounded open/close: the strings keep low <= open, close <= high
        highs = np.maximum(np.round(top * np.exp(up), decimals), top)
        lows = np.minimum(np.maximum(np.round(bottom * np.exp(-down), decimals), floor), bottom)
        volumes = volume_per_minute * (step / 60) * size
        return Bars(opens.tolist(), highs.tolist(), lows.tolist(), closes.tolist(), volumes.tolist(), first)

    def spot(self, symbol: str, market: str, moment: int) -> tuple[float, float, float]:
        """(rate, bid, ask) at second ``moment``, rounded to 8 decimals, bid <= rate <= ask."""
        rate = round(float(np.exp(self.log_prices(symbol, market, np.array([moment], dtype=np.int64)))[0]), 8)
        rate = max(rate, 1e-8)
        bid = min(round(rate * (1 - _SPREAD / 2), 8), rate)
        ask = max(round(rate * (1 + _SPREAD / 2), 8), rate)
        return rate, max(bid, 1e-8), ask


def pick_profiles(chosen: Mapping | Iterable[str] | None, defaults: Mapping) -> dict:
    """A mapping as given, or a list of codes looked up in the defaults (unknown codes get a made-up profile)."""
    if chosen is None:
        return dict(defaults)
    if isinstance(chosen, Mapping):
        return dict(chosen)
    picked = {}
    for code in chosen:
        code = code.upper()
        if code in defaults:
            picked[code] = defaults[code]
        elif defaults is DEFAULT_MARKETS:
            picked[code] = (code, 1.0)
        else:
            picked[code] = (code.title(), 10 ** (_seed64(code, "level") % 3000 / 1000 - 0.3), 0.8, 5000.0)
    return picked
