"""A market simulator that speaks Alpha Vantage's query API on 127.0.0.1, deterministic under a seed.

Serves the three functions the producer uses, with the real body shapes (see
``tests/fixtures/alphavantage/``)::

    GET /query?function=CRYPTO_INTRADAY&symbol=BTC&market=USD&interval=5min&outputsize=compact|full&apikey=K
    GET /query?function=DIGITAL_CURRENCY_DAILY&symbol=BTC&market=USD&apikey=K
    GET /query?function=CURRENCY_EXCHANGE_RATE&from_currency=BTC&to_currency=USD&apikey=K

Prices: the log price of a symbol at second ``t`` is a sum of value-noise octaves (lattice periods of
1 min, 4 min, 16 min … ~45 days, amplitudes growing with the square root of the period, as a random
walk's do), each lattice value a hash of (seed, symbol, octave, lattice index). So any bar is a pure
function of (seed, symbol, market, interval, bar time): reproducible whenever it is requested, cheap
to compute (O(bars requested), vectorised with numpy), bounded (no drift to zero), and consistent
across intervals (a 5min bar opens where the 1min bar at that time opens). Bar ``k`` of an interval
of ``s`` seconds covers ``[k*s, (k+1)*s)``, is labelled with its open time, and is served once its
close time is at or before the simulator's clock.

Control it in-process (``sim.clock.set(datetime)``, ``sim.clock.advance(60)``, ``sim.faults.update(...)``)
or over HTTP (``POST /_simulator/faults``, ``POST /_simulator/clock``, ``GET /_simulator/stats``).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from local.wsgi_thread import BackgroundWSGIServer

# --- the bodies Alpha Vantage answers with (HTTP 200 in every case) -------------------------------------
DOCS = "https://www.alphavantage.co/documentation/"
THROTTLE_BODIES: dict[str, dict[str, str]] = {
    "note": {
        "Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 "
        "calls per day. Please visit https://www.alphavantage.co/premium/ if you would like to target a higher "
        "API call frequency."
    },
    "burst": {
        "Information": "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more "
        "sparingly (1 request per second). You may subscribe to any of the premium plans at "
        "https://www.alphavantage.co/premium/ to lift the free key rate limit (25 requests per day), raise the "
        "per-second burst limit, and instantly unlock all premium endpoints"
    },
    "daily": {
        "Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. Please "
        "subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all "
        "daily rate limits."
    },
}
PREMIUM_BODY = {
    "Information": "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of the "
    "premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium endpoints"
}
INVALID_KEY_BODY = {
    "Error Message": "the parameter apikey is invalid or missing. Please claim your free API key on "
    "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
}
DEMO_KEY_BODY = {
    "Information": "The **demo** API key is for demo purposes only. Please claim your free API key at "
    "(https://www.alphavantage.co/support/#api-key) to explore our full API offerings. It takes fewer than 20 "
    "seconds."
}


def invalid_call_body(function: str) -> dict[str, str]:
    return {"Error Message": f"Invalid API call. Please retry or visit the documentation ({DOCS}) for {function}."}


# --- what the market holds ----------------------------------------------------------------------------
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


# --- the simulated clock and the fault knobs ------------------------------------------------------------
def _to_epoch(moment: datetime | str | float | int) -> float:
    if isinstance(moment, (int, float)):
        return float(moment)
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class SimClock:
    """The market's ``now``: follows the wall clock until set; ``advance`` moves it forward."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fixed: float | None = None

    def set(self, moment: datetime | str | float | None) -> None:
        """Freeze the clock at ``moment`` (naive datetimes are UTC); None follows the wall clock again."""
        with self._lock:
            self._fixed = None if moment is None else _to_epoch(moment)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._fixed = (time.time() if self._fixed is None else self._fixed) + seconds

    def timestamp(self) -> float:
        with self._lock:
            return time.time() if self._fixed is None else self._fixed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    @property
    def follows_wall_clock(self) -> bool:
        return self._fixed is None


DEFAULT_FAULTS: dict[str, Any] = {
    "throttle_every_n": 0,  # every Nth API request gets the throttle body of throttle_kind
    "throttle_probability": 0.0,  # each API request is throttled with this probability (seeded)
    "throttle_kind": "note",  # note (old 5 calls/minute) | burst (1 request/second) | daily (25/day)
    "daily_quota": 0,  # after this many API requests every request gets the daily-quota body (0: no quota)
    "premium_intraday": False,  # CRYPTO_INTRADAY answers the premium-endpoint body, as for a free key
    "invalid_key": False,  # every request gets the invalid-apikey Error Message
    "reject_demo_key": False,  # apikey=demo gets the demo-key Information (real behaviour)
    "http_error_every_n": 0,  # every Nth API request gets HTTP 503 (transport-level retry tests)
    "latency_ms": 0,  # added to every API request
    "intraday_volume": "int",  # int (current API) | string (older answers)
    "daily_format": "current",  # current ("1. open") | legacy ("1a. open (EUR)", "1b. open (USD)", ...)
}


class Faults:
    """Knobs for the answers the simulator gives; ``update`` validates names and types."""

    def __init__(self, initial: Mapping[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._values = dict(DEFAULT_FAULTS)
        if initial:
            self.update(initial)

    def update(self, values: Mapping[str, Any] | None = None, **more: Any) -> dict[str, Any]:
        changes = {**(values or {}), **more}
        for name, value in changes.items():
            if name not in DEFAULT_FAULTS:
                raise ValueError(f"unknown simulator fault {name!r}; known: {', '.join(DEFAULT_FAULTS)}")
            expected = type(DEFAULT_FAULTS[name])
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ValueError(f"simulator fault {name!r} takes a {expected.__name__}, got {value!r}")
        if changes.get("throttle_kind", "note") not in THROTTLE_BODIES:
            raise ValueError(f"throttle_kind must be one of {', '.join(THROTTLE_BODIES)}")
        with self._lock:
            self._values.update(changes)
            return dict(self._values)

    def reset(self) -> None:
        with self._lock:
            self._values = dict(DEFAULT_FAULTS)

    def __getitem__(self, name: str) -> Any:
        with self._lock:
            return self._values[name]

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._values)


# --- the API ----------------------------------------------------------------------------------------------
_FMT5, _FMT8 = "%.5f".__mod__, "%.8f".__mod__


def _label(epoch: int, with_time: bool = True) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if with_time else "%Y-%m-%d")


def _labels(first_epoch: int, step: int, count: int, with_time: bool = True) -> list[str]:
    """Alpha Vantage's time labels of ``count`` bars, vectorised (strftime per bar dominated the cost)."""
    epochs = np.arange(count, dtype=np.int64) * step + first_epoch
    text = np.datetime_as_string(epochs.astype("datetime64[s]"), unit="s" if with_time else "D")
    return [label.replace("T", " ") for label in text.tolist()] if with_time else text.tolist()


class MarketSimulator:
    """Alpha Vantage look-alike. ``start()`` returns the base URL (``http://127.0.0.1:PORT/query``)."""

    def __init__(
        self,
        seed: int = 42,
        *,
        symbols: Mapping[str, tuple[str, float, float, float]] | Iterable[str] | None = None,
        markets: Mapping[str, tuple[str, float]] | Iterable[str] | None = None,
        accept_any_symbol: bool = False,
        compact_bars: int = 100,
        full_bars: int = 2000,
        daily_bars: int = 1000,
        faults: Mapping[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.seed = seed
        self.model = MarketModel(
            seed, _pick(symbols, DEFAULT_SYMBOLS), _pick(markets, DEFAULT_MARKETS), accept_any_symbol
        )
        self.compact_bars = compact_bars
        self.full_bars = full_bars
        self.daily_bars = daily_bars
        self.clock = SimClock()
        self.faults = Faults(faults)
        self.host = host
        self.port = port
        self.base_url = ""
        self._stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        self._rng = random.Random(seed)
        self._server: BackgroundWSGIServer | None = None

    # lifecycle
    def start(self) -> str:
        self._server = BackgroundWSGIServer(self.wsgi_app, "market-simulator", self.host, self.port)
        self.port = self._server.start()
        self.base_url = f"http://{self.host}:{self.port}/query"
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> MarketSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def stats(self) -> dict[str, int]:
        """Requests per function, plus ``requests``, ``throttled``, ``errors``, ``http_errors``, ``bars_served``."""
        with self._stats_lock:
            return dict(self._stats)

    def reset_stats(self) -> None:
        with self._stats_lock:
            self._stats.clear()

    def _count(self, **increments: int) -> int:
        with self._stats_lock:
            self._stats.update(increments)
            return self._stats["requests"]

    # the query API, callable without HTTP too (benchmarks, tests)
    def answer(self, params: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body) for one /query request."""
        function = (params.get("function") or "").upper()
        number = self._count(requests=1, **{function or "NO_FUNCTION": 1})
        faults = self.faults.as_dict()
        if faults["latency_ms"]:
            time.sleep(faults["latency_ms"] / 1000)
        if faults["http_error_every_n"] and number % faults["http_error_every_n"] == 0:
            self._count(http_errors=1)
            return 503, {}
        key = params.get("apikey", "")
        if not key or faults["invalid_key"]:
            return self._refuse(INVALID_KEY_BODY)
        if key == "demo" and faults["reject_demo_key"]:
            return self._refuse(DEMO_KEY_BODY)
        if faults["daily_quota"] and number > faults["daily_quota"]:
            return self._refuse(THROTTLE_BODIES["daily"], throttled=True)
        every = faults["throttle_every_n"]
        with self._stats_lock:
            unlucky = faults["throttle_probability"] > 0 and self._rng.random() < faults["throttle_probability"]
        if every and number % every == 0 or unlucky:
            return self._refuse(THROTTLE_BODIES[faults["throttle_kind"]], throttled=True)
        if function == "CRYPTO_INTRADAY":
            if faults["premium_intraday"]:
                return self._refuse(PREMIUM_BODY)
            return self._intraday(params, faults)
        if function == "DIGITAL_CURRENCY_DAILY":
            return self._daily(params, faults)
        if function == "CURRENCY_EXCHANGE_RATE":
            return self._exchange_rate(params)
        return self._refuse({"Error Message": f"This API function ({function}) does not exist."})

    def _refuse(self, body: dict[str, str], throttled: bool = False) -> tuple[int, dict[str, Any]]:
        self._count(**({"throttled": 1} if throttled else {"errors": 1}))
        return 200, dict(body)

    def _pair(self, params: Mapping[str, str], symbol_key: str, market_key: str) -> tuple[str, str] | None:
        symbol, market = params.get(symbol_key, "").upper(), params.get(market_key, "").upper()
        return (symbol, market) if self.model.knows(symbol, market) else None

    def _newest_closed(self, step: int) -> int:
        """Index of the newest bar whose close time is at or before the clock."""
        return int(self.clock.timestamp() // step) - 1

    def _intraday(self, params: Mapping[str, str], faults: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        pair, interval = self._pair(params, "symbol", "market"), params.get("interval", "")
        if pair is None or interval not in INTERVAL_SECONDS:
            return self._refuse(invalid_call_body("CRYPTO_INTRADAY"))
        symbol, market = pair
        step = INTERVAL_SECONDS[interval]
        full = params.get("outputsize", "compact").lower() == "full"
        count = self.full_bars if full else self.compact_bars
        newest = self._newest_closed(step)
        bars = self.model.bars(symbol, market, step, newest - count + 1, count, decimals=5)
        labels = _labels(bars.first_index * step, step, count)
        opens, highs, lows, closes = (list(map(_FMT5, values)) for values in bars.prices())
        if faults["intraday_volume"] == "int":
            volumes: list[Any] = np.rint(bars.volumes).astype(np.int64).tolist()
        else:
            volumes = list(map(_FMT8, bars.volumes))
        rows = zip(labels, opens, highs, lows, closes, volumes, strict=True)
        series = {  # newest first, as Alpha Vantage orders them
            label: {"1. open": o, "2. high": h, "3. low": lo, "4. close": c, "5. volume": v}
            for label, o, h, lo, c, v in reversed(list(rows))
        }
        self._count(bars_served=count)
        name, market_name = self.model.profile(symbol)[0], self.model.markets[market][0]
        meta = {
            "1. Information": f"Crypto Intraday ({interval}) Time Series",
            "2. Digital Currency Code": symbol,
            "3. Digital Currency Name": name,
            "4. Market Code": market,
            "5. Market Name": market_name,
            "6. Last Refreshed": _label(newest * step),
            "7. Interval": interval,
            "8. Output Size": "Full size" if full else "Compact",
            "9. Time Zone": "UTC",
        }
        return 200, {"Meta Data": meta, f"Time Series Crypto ({interval})": series}

    def _daily(self, params: Mapping[str, str], faults: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        pair = self._pair(params, "symbol", "market")
        if pair is None:
            return self._refuse(invalid_call_body("DIGITAL_CURRENCY_DAILY"))
        symbol, market = pair
        newest = self._newest_closed(DAY)
        count = self.daily_bars
        bars = self.model.bars(symbol, market, DAY, newest - count + 1, count, decimals=8)
        legacy = faults["daily_format"] == "legacy"
        usd = self.model.bars(symbol, "USD", DAY, newest - count + 1, count, decimals=8) if legacy else bars
        labels = _labels(bars.first_index * DAY, DAY, count, with_time=False)
        series = {}
        for i in range(count - 1, -1, -1):
            if legacy:
                row = {}
                for number, name, values, usd_values in (
                    ("1", "open", bars.opens, usd.opens),
                    ("2", "high", bars.highs, usd.highs),
                    ("3", "low", bars.lows, usd.lows),
                    ("4", "close", bars.closes, usd.closes),
                ):
                    row[f"{number}a. {name} ({market})"] = _FMT8(values[i])
                    row[f"{number}b. {name} (USD)"] = _FMT8(usd_values[i])
                row["5. volume"] = _FMT8(bars.volumes[i])
                row["6. market cap (USD)"] = _FMT8(bars.volumes[i])
            else:
                row = {
                    "1. open": _FMT8(bars.opens[i]),
                    "2. high": _FMT8(bars.highs[i]),
                    "3. low": _FMT8(bars.lows[i]),
                    "4. close": _FMT8(bars.closes[i]),
                    "5. volume": _FMT8(bars.volumes[i]),
                }
            series[labels[i]] = row
        self._count(bars_served=count)
        meta = {
            "1. Information": "Daily Prices and Volumes for Digital Currency",
            "2. Digital Currency Code": symbol,
            "3. Digital Currency Name": self.model.profile(symbol)[0],
            "4. Market Code": market,
            "5. Market Name": self.model.markets[market][0],
            "6. Last Refreshed": _label(newest * DAY),
            "7. Time Zone": "UTC",
        }
        return 200, {"Meta Data": meta, "Time Series (Digital Currency Daily)": series}

    def _exchange_rate(self, params: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        pair = self._pair(params, "from_currency", "to_currency")
        if pair is None:
            return self._refuse(invalid_call_body("CURRENCY_EXCHANGE_RATE"))
        symbol, market = pair
        moment = int(self.clock.timestamp())
        rate, bid, ask = self.model.spot(symbol, market, moment)
        self._count(bars_served=1)
        body = {
            "1. From_Currency Code": symbol,
            "2. From_Currency Name": self.model.profile(symbol)[0],
            "3. To_Currency Code": market,
            "4. To_Currency Name": self.model.markets[market][0],
            "5. Exchange Rate": _FMT8(rate),
            "6. Last Refreshed": _label(moment),
            "7. Time Zone": "UTC",
            "8. Bid Price": _FMT8(bid),
            "9. Ask Price": _FMT8(ask),
        }
        return 200, {"Realtime Currency Exchange Rate": body}

    # HTTP
    def wsgi_app(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        from werkzeug.wrappers import Request, Response

        request = Request(environ)
        try:
            status, body = self._route(request)
        except ValueError as exc:
            status, body = 400, {"error": str(exc)}
        if status == 503:
            response = Response("Service Unavailable", status=503, mimetype="text/plain")
        else:
            response = Response(json.dumps(body), status=status, mimetype="application/json")
        return response(environ, start_response)

    def _route(self, request: Any) -> tuple[int, dict[str, Any]]:
        path = request.path.rstrip("/")
        if path == "/query" and request.method == "GET":
            return self.answer(request.args)
        if path == "/_simulator/faults":
            if request.method == "POST":
                return 200, self.faults.update(_json_object(request))
            return 200, self.faults.as_dict()
        if path == "/_simulator/clock":
            if request.method == "POST":
                payload = _json_object(request)
                if payload.get("wall_clock"):
                    self.clock.set(None)
                if "now" in payload:
                    self.clock.set(payload["now"])
                if "advance" in payload:
                    self.clock.advance(float(payload["advance"]))
            return 200, {"now": self.clock.now().isoformat(), "wall_clock": self.clock.follows_wall_clock}
        if path == "/_simulator/stats":
            if request.method == "POST":
                self.reset_stats()
            return 200, self.stats
        return 404, {"error": f"no route {request.method} {request.path}"}


def _json_object(request: Any) -> dict[str, Any]:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise ValueError("expected a JSON object body")
    return payload


def _pick(chosen: Mapping | Iterable[str] | None, defaults: Mapping) -> dict:
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


__all__ = ["DEFAULT_FAULTS", "MarketModel", "MarketSimulator", "SimClock"]
