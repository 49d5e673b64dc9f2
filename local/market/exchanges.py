"""Coinbase Exchange and Kraken look-alikes: the public REST routes CCXT calls, over the same market model.

Body shapes follow the recorded answers in ``tests/fixtures/coinbase/`` and ``tests/fixtures/kraken/``:

- Coinbase Exchange (``/coinbase`` + the API path): ``GET /products`` and ``/currencies`` (CCXT's
  ``load_markets``), ``/products/{id}/candles?granularity=&start=&end=`` (``fetch_ohlcv``: rows
  ``[time, low, high, open, close, volume]`` newest first, at most 300, the bar in progress included),
  ``/products/{id}/ticker`` (``fetch_ticker``). Refusals: HTTP 404 ``{"message": "NotFound"}``, 400 for
  more than 300 candles, 429 ``{"message": "Public rate limit exceeded"}`` when throttled.
- Kraken (``/kraken`` + ``/0/public/...``): ``Assets`` and ``AssetPairs`` (``load_markets``), ``OHLC?pair=
  &interval=&since=`` (rows ``[time, open, high, low, close, vwap, volume, count]`` oldest first, at most the
  720 most recent, the frame in progress last, plus ``last``), ``Ticker?pair=``. Refusals come as HTTP 200
  with ``{"error": ["EQuery:Unknown asset pair"]}`` or, when throttled, ``["EGeneral:Too many requests"]``.

Bar ``k`` of a step covers ``[k*step, (k+1)*step)`` and opens where the model says, so a coinbase 1min bar
and an Alpha Vantage 1min bar of the same simulator agree: which source serves a pair changes nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from local.market.clock import SimClock
from local.market.faults import Faults
from local.market.model import MarketModel

COINBASE_GRANULARITIES = {60, 300, 900, 3600, 21600, 86400}
COINBASE_MAX_CANDLES = 300
KRAKEN_INTERVALS = {1, 5, 15, 30, 60, 240, 1440, 10080, 21600}  # minutes
KRAKEN_MAX_ROWS = 720
COINBASE_THROTTLED = (429, {"message": "Public rate limit exceeded"})
KRAKEN_THROTTLED = (200, {"error": ["EGeneral:Too many requests"]})
# Kraken's legacy asset ids: X for crypto, Z for fiat, with the altname CCXT maps (XBT -> BTC, XDG -> DOGE).
KRAKEN_ASSETS = {"BTC": ("XXBT", "XBT"), "ETH": ("XETH", "ETH"), "LTC": ("XLTC", "LTC"), "XRP": ("XXRP", "XRP"),
                 "DOGE": ("XXDG", "XDG"), "USD": ("ZUSD", "USD"), "EUR": ("ZEUR", "EUR"), "GBP": ("ZGBP", "GBP"),
                 "JPY": ("ZJPY", "JPY")}  # fmt: skip
_FMT = "{:.8f}".format


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _epoch(value: str) -> int:
    """ISO-8601 (CCXT sends ``2026-11-22T09:05:00.000Z``) or epoch seconds -> epoch seconds."""
    if value.replace(".", "", 1).isdigit():
        return int(float(value))
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


class ExchangeApis:
    """Answers ``(source, path, params)`` with ``(HTTP status, JSON body)``; faults are the server's job."""

    def __init__(self, model: MarketModel, clock: SimClock, faults: Faults | None = None) -> None:
        self.model = model
        self.clock = clock
        self.faults = faults or Faults()

    def _current(self, step: int) -> int:
        """Index of the newest bar served: the one in progress, or the newest closed one (``exchange_open_bar``)."""
        current = int(self.clock.timestamp()) // step
        mode = self.faults["exchange_open_bar"]
        open_bar = mode == "always" or mode == "auto" and self.clock.follows_wall_clock
        return current if open_bar else current - 1

    def pairs(self) -> list[tuple[str, str]]:
        return [(s, m) for s in self.model.symbols for m in self.model.markets if self.model.knows(s, m)]

    def throttled(self, source: str) -> tuple[int, dict[str, Any]]:
        return COINBASE_THROTTLED if source == "coinbase" else KRAKEN_THROTTLED

    def answer(self, source: str, path: str, params: Mapping[str, str]) -> tuple[int, Any, int]:
        """(status, body, bars served) for one request under ``/coinbase`` or ``/kraken``."""
        if source == "coinbase":
            return self._coinbase(path.strip("/").split("/"), params)
        return self._kraken(path.strip("/").split("/"), params)

    # Coinbase Exchange ---------------------------------------------------------------------------------
    def _coinbase(self, parts: list[str], params: Mapping[str, str]) -> tuple[int, Any, int]:
        if parts == ["products"]:
            return 200, [self._coinbase_product(s, m) for s, m in self.pairs()], 0
        if parts == ["currencies"]:
            codes = dict.fromkeys(code for pair in self.pairs() for code in pair)
            return 200, [self._coinbase_currency(code) for code in codes], 0
        if len(parts) == 3 and parts[0] == "products":
            symbol, _, market = parts[1].upper().partition("-")
            if not self.model.knows(symbol, market):
                return 404, {"message": "NotFound"}, 0
            if parts[2] == "candles":
                return self._coinbase_candles(symbol, market, params)
            if parts[2] == "ticker":
                return self._coinbase_ticker(symbol, market)
        return 404, {"message": "NotFound"}, 0

    def _coinbase_product(self, symbol: str, market: str) -> dict[str, Any]:
        return {
            "id": f"{symbol}-{market}", "base_currency": symbol, "quote_currency": market,
            "quote_increment": "0.00001", "base_increment": "0.00000001", "display_name": f"{symbol}-{market}",
            "min_market_funds": "1", "margin_enabled": False, "post_only": False, "limit_only": False,
            "cancel_only": False, "status": "online", "status_message": "", "trading_disabled": False,
            "fx_stablecoin": False, "max_slippage_percentage": "0.03000000", "auction_mode": False,
            "high_bid_limit_percentage": "",
        }  # fmt: skip

    def _coinbase_currency(self, code: str) -> dict[str, Any]:
        name = self.model.markets[code][0] if code in self.model.markets else self.model.profile(code)[0]
        kind = "fiat" if code in self.model.markets else "crypto"
        return {
            "id": code, "name": name, "min_size": "0.00000001", "status": "online", "message": "",
            "max_precision": "0.00000001", "convertible_to": [], "details": {"type": kind, "symbol": None,
            "network_confirmations": 0, "sort_order": 0, "push_payment_methods": [], "group_types": [],
            "display_name": None, "processing_time_seconds": None}, "default_network": "",
            "supported_networks": [], "display_name": code,
        }  # fmt: skip

    def _coinbase_candles(self, symbol: str, market: str, params: Mapping[str, str]) -> tuple[int, Any, int]:
        try:
            step = int(params.get("granularity", "60"))
        except ValueError:
            step = 0
        if step not in COINBASE_GRANULARITIES:
            return 400, {"message": "Unsupported granularity"}, 0
        current = self._current(step)  # Coinbase serves the bar in progress too
        try:
            last = min(current, _epoch(params["end"]) // step) if params.get("end") else current
            first = -(-_epoch(params["start"]) // step) if params.get("start") else last - COINBASE_MAX_CANDLES + 1
        except (ValueError, KeyError):
            return 400, {"message": "Invalid start or end"}, 0
        if last - first + 1 > COINBASE_MAX_CANDLES:
            return 400, {
                "message": "granularity too small for the requested time range. Count of aggregations requested "
                "exceeds 300"
            }, 0  # fmt: skip
        if last < first:
            return 200, [], 0
        bars = self.model.bars(symbol, market, step, first, last - first + 1, decimals=5)
        opens, highs, lows, closes = bars.prices()
        rows = [
            [(first + i) * step, lows[i], highs[i], opens[i], closes[i], round(float(bars.volumes[i]), 8)]
            for i in range(len(opens))
        ]
        return 200, rows[::-1], len(rows)

    def _coinbase_ticker(self, symbol: str, market: str) -> tuple[int, Any, int]:
        moment = self.clock.timestamp()
        price, bid, ask = self.model.spot(symbol, market, int(moment))
        body = {
            "ask": _FMT(ask), "bid": _FMT(bid), "volume": _FMT(self.model.profile(symbol)[3] * 1440),
            "trade_id": int(moment), "price": _FMT(price), "size": "0.00100000", "time": _iso(moment),
            "rfq_volume": "0.000000",
        }  # fmt: skip
        return 200, body, 1

    # Kraken --------------------------------------------------------------------------------------------
    def _kraken_asset(self, code: str) -> tuple[str, str]:
        return KRAKEN_ASSETS.get(code, (code, code))

    def _kraken_pair_id(self, symbol: str, market: str) -> str:
        (base, _), (quote, _) = self._kraken_asset(symbol), self._kraken_asset(market)
        return base + quote if len(base) == 4 and base[0] == "X" and quote[0] == "Z" else f"{symbol}{market}"

    def _kraken_pairs(self) -> dict[str, tuple[str, str]]:
        return {self._kraken_pair_id(s, m): (s, m) for s, m in self.pairs()}

    def _kraken(self, parts: list[str], params: Mapping[str, str]) -> tuple[int, Any, int]:
        if parts[:2] != ["0", "public"] or len(parts) != 3:
            return 404, {"error": ["EGeneral:Unknown method"]}, 0
        method = parts[2]
        if method == "Assets":
            codes = dict.fromkeys(code for pair in self.pairs() for code in pair)
            result = {}
            for code in codes:
                asset_id, altname = self._kraken_asset(code)
                result[asset_id] = {"aclass": "currency", "altname": altname, "decimals": 10,
                                    "display_decimals": 5, "collateral_value": 1, "status": "enabled"}  # fmt: skip
            return 200, {"error": [], "result": result}, 0
        if method == "AssetPairs":
            result = {pair_id: self._kraken_pair_info(s, m) for pair_id, (s, m) in self._kraken_pairs().items()}
            return 200, {"error": [], "result": result}, 0
        pair = self._kraken_pairs().get(params.get("pair", ""))
        if pair is None:
            return 200, {"error": ["EQuery:Unknown asset pair"]}, 0
        if method == "OHLC":
            return self._kraken_ohlc(params["pair"], *pair, params)
        if method == "Ticker":
            return self._kraken_ticker(params["pair"], *pair)
        return 404, {"error": ["EGeneral:Unknown method"]}, 0

    def _kraken_pair_info(self, symbol: str, market: str) -> dict[str, Any]:
        (base, base_alt), (quote, quote_alt) = self._kraken_asset(symbol), self._kraken_asset(market)
        fees = [[0, 0.4], [10000, 0.35], [50000, 0.24]]
        return {
            "altname": f"{base_alt}{quote_alt}", "wsname": f"{base_alt}/{quote_alt}", "aclass_base": "currency",
            "base": base, "aclass_quote": "currency", "quote": quote, "lot": "unit", "cost_decimals": 5,
            "pair_decimals": 5, "lot_decimals": 8, "lot_multiplier": 1, "leverage_buy": [], "leverage_sell": [],
            "fees": fees, "fees_maker": [[0, 0.25], [10000, 0.2], [50000, 0.14]], "fee_volume_currency": "ZUSD",
            "margin_call": 80, "margin_stop": 40, "ordermin": "0.0001", "costmin": "0.5", "tick_size": "0.00001",
            "status": "online",
        }  # fmt: skip

    def _kraken_ohlc(self, pair_id: str, symbol: str, market: str, params: Mapping[str, str]) -> tuple[int, Any, int]:
        try:
            minutes = int(params.get("interval", "1"))
            since = int(float(params.get("since", "0")))
        except ValueError:
            return 200, {"error": ["EGeneral:Invalid arguments"]}, 0
        if minutes not in KRAKEN_INTERVALS:
            return 200, {"error": ["EGeneral:Invalid arguments"]}, 0
        step = minutes * 60
        current = self._current(step)  # Kraken's last row is the frame in progress
        first = max(current - KRAKEN_MAX_ROWS + 1, since // step + 1 if since else current - KRAKEN_MAX_ROWS + 1)
        first = min(first, current)
        bars = self.model.bars(symbol, market, step, first, current - first + 1, decimals=5)
        opens, highs, lows, closes = bars.prices()
        rows = []
        for i in range(len(opens)):
            volume = float(bars.volumes[i])
            vwap = (opens[i] + highs[i] + lows[i] + closes[i]) / 4
            rows.append([(first + i) * step, f"{opens[i]:.5f}", f"{highs[i]:.5f}", f"{lows[i]:.5f}",
                         f"{closes[i]:.5f}", f"{vwap:.5f}", _FMT(volume), max(1, int(volume))])  # fmt: skip
        last = (current - 1) * step  # the newest committed frame: ``since`` for the next poll
        return 200, {"error": [], "result": {pair_id: rows, "last": last}}, len(rows)

    def _kraken_ticker(self, pair_id: str, symbol: str, market: str) -> tuple[int, Any, int]:
        moment = int(self.clock.timestamp())
        price, bid, ask = self.model.spot(symbol, market, moment)
        day = self.model.profile(symbol)[3] * 1440
        body = {
            "a": [_FMT(ask), "1", "1.000"], "b": [_FMT(bid), "2", "2.000"], "c": [_FMT(price), "0.00100000"],
            "v": [_FMT(day / 2), _FMT(day)], "p": [_FMT(price), _FMT(price)], "t": [1000, 2000],
            "l": [_FMT(price * 0.98), _FMT(price * 0.97)], "h": [_FMT(price * 1.02), _FMT(price * 1.03)],
            "o": _FMT(price),
        }  # fmt: skip
        return 200, {"error": [], "result": {pair_id: body}}, 1
