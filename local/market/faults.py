"""Fault settings: which refusals and errors the simulator answers with, and the bodies Alpha Vantage uses
for them (HTTP 200 in every case). ``Faults.update`` validates names and types."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

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


DEFAULT_FAULTS: dict[str, Any] = {
    "throttle_every_n": 0,  # every Nth API request gets the throttle body of throttle_kind
    "throttle_probability": 0.0,  # each API request is throttled with this probability (seeded)
    "throttle_kind": "note",  # note (old 5 calls/minute) | burst (1 request/second) | daily (25/day)
    "daily_quota": 0,  # after this many API requests every request gets the daily-quota body (0: no quota)
    "premium_intraday": False,  # CRYPTO_INTRADAY answers the premium-endpoint body, as for a free key
    "invalid_key": False,  # every request gets the invalid-apikey Error Message
    "reject_demo_key": False,  # apikey=demo gets the demo-key Information (real behaviour)
    "echo_url": False,  # every request gets an Error Message quoting the request URL, key included (as proxies do)
    "http_error_every_n": 0,  # every Nth API request gets HTTP 503 (transport-level retry tests)
    "latency_ms": 0,  # added to every API request
    "intraday_volume": "int",  # int (current API) | string (older answers)
    "daily_format": "current",  # current ("1. open") | legacy ("1a. open (EUR)", "1b. open (USD)", ...)
    # Exchanges serve the bar in progress too. "auto": only while the clock follows the wall clock (the
    # producer judges "in progress" by its own clock, which is ahead of a simulated one); "always" | "never".
    "exchange_open_bar": "auto",
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
        if changes.get("exchange_open_bar", "auto") not in ("auto", "always", "never"):
            raise ValueError("exchange_open_bar must be one of auto, always, never")
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
