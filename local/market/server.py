"""The Alpha Vantage look-alike: the query API over the market model, callable in-process (``answer``) or over
HTTP on 127.0.0.1 (``start``), with the control routes ``/_simulator/faults``, ``/_simulator/clock`` and
``/_simulator/stats``."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import numpy as np

from local.market.clock import SimClock
from local.market.exchanges import ExchangeApis
from local.market.faults import DEMO_KEY_BODY, INVALID_KEY_BODY, PREMIUM_BODY, THROTTLE_BODIES, Faults
from local.market.model import DAY, DEFAULT_MARKETS, DEFAULT_SYMBOLS, INTERVAL_SECONDS, MarketModel, pick_profiles
from local.wsgi_thread import BackgroundWSGIServer

DOCS = "https://www.alphavantage.co/documentation/"
# Freezes the market's clock at start (ISO-8601 or epoch seconds): the crash suite starts every `cryptostream up`
# at the market time it left off, then moves it on over /_simulator/clock.
CLOCK_ENV = "CRYPTOSTREAM_MARKET_CLOCK"


def invalid_call_body(function: str) -> dict[str, str]:
    return {"Error Message": f"Invalid API call. Please retry or visit the documentation ({DOCS}) for {function}."}


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
            seed, pick_profiles(symbols, DEFAULT_SYMBOLS), pick_profiles(markets, DEFAULT_MARKETS), accept_any_symbol
        )
        self.compact_bars = compact_bars
        self.full_bars = full_bars
        self.daily_bars = daily_bars
        self.clock = SimClock()
        if os.environ.get(CLOCK_ENV):
            self.clock.set(_start_clock(os.environ[CLOCK_ENV]))
        self.faults = Faults(faults)
        self.host = host
        self.port = port
        self.base_url = ""
        self._stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        self._rng = random.Random(seed)
        self._server: BackgroundWSGIServer | None = None
        self.exchanges = ExchangeApis(self.model, self.clock, self.faults)

    def url_for(self, source: str) -> str:
        """Where a source's API is served: ``/query`` (Alpha Vantage), ``/coinbase``, ``/kraken``."""
        root = self.base_url.removesuffix("/query")
        return self.base_url if source == "alphavantage" else f"{root}/{source}"

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
        if faults["echo_url"]:
            return self._refuse({"Error Message": f"Invalid API call: /query?{urlencode(dict(params))} was refused."})
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

    def answer_exchange(self, source: str, path: str, params: Mapping[str, str]) -> tuple[int, Any]:
        """(HTTP status, body) for one request to an exchange's public API (``exchanges.py``), with the same
        faults as the query API: latency, HTTP 503 every Nth request, throttling (the exchange's own answer)."""
        route = (
            path.strip("/").split("/")[-1] if "candles" not in path and "ticker" not in path else path.split("/")[-1]
        )
        number = self._count(requests=1, **{f"{source}:{route}": 1})
        faults = self.faults.as_dict()
        if faults["latency_ms"]:
            time.sleep(faults["latency_ms"] / 1000)
        if faults["http_error_every_n"] and number % faults["http_error_every_n"] == 0:
            self._count(http_errors=1)
            return 503, {}
        every = faults["throttle_every_n"]
        with self._stats_lock:
            unlucky = faults["throttle_probability"] > 0 and self._rng.random() < faults["throttle_probability"]
        if every and number % every == 0 or unlucky:
            self._count(throttled=1)
            return self.exchanges.throttled(source)
        status, body, bars = self.exchanges.answer(source, path, params)
        self._count(
            bars_served=bars, **({"errors": 1} if status >= 400 or isinstance(body, dict) and body.get("error") else {})
        )
        return status, body

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

    def _route(self, request: Any) -> tuple[int, Any]:
        path = request.path.rstrip("/")
        if path == "/query" and request.method == "GET":
            return self.answer(request.args)
        source, _, rest = path.lstrip("/").partition("/")
        if source in ("coinbase", "kraken") and request.method == "GET":
            return self.answer_exchange(source, rest, request.args)
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


def _start_clock(value: str) -> float | str:
    try:
        moment = float(value) if value.replace(".", "", 1).isdigit() else value
        SimClock().set(moment)  # parses, or raises ValueError
    except ValueError:
        raise ValueError(f"{CLOCK_ENV}={value!r}: expected ISO-8601 (2026-11-20T12:00:00Z) or epoch seconds") from None
    return moment


def _json_object(request: Any) -> dict[str, Any]:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise ValueError("expected a JSON object body")
    return payload
