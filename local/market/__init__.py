"""A market simulator that speaks Alpha Vantage's query API on 127.0.0.1, deterministic under a seed.

Serves the three functions the producer uses, with the real body shapes (see
``tests/fixtures/alphavantage/``)::

    GET /query?function=CRYPTO_INTRADAY&symbol=BTC&market=USD&interval=5min&outputsize=compact|full&apikey=K
    GET /query?function=DIGITAL_CURRENCY_DAILY&symbol=BTC&market=USD&apikey=K
    GET /query?function=CURRENCY_EXCHANGE_RATE&from_currency=BTC&to_currency=USD&apikey=K

- ``model``: prices and volumes as pure functions of (seed, symbol, market, time); any bar is reproducible.
- ``clock``: the market's ``now``. Bar ``k`` of an interval of ``s`` seconds covers ``[k*s, (k+1)*s)``, is
  labelled with its open time, and is served once its close time is at or before the clock.
- ``faults``: throttling, quota, premium, bad key and HTTP errors on request, with Alpha Vantage's bodies.
- ``server``: ``MarketSimulator``, the query API in-process (``answer``) and over HTTP.

Control it in-process (``sim.clock.set(datetime)``, ``sim.clock.advance(60)``, ``sim.faults.update(...)``)
or over HTTP (``POST /_simulator/faults``, ``POST /_simulator/clock``, ``GET /_simulator/stats``).
"""

from local.market.clock import SimClock
from local.market.faults import DEFAULT_FAULTS, Faults
from local.market.model import DEFAULT_MARKETS, DEFAULT_SYMBOLS, MarketModel
from local.market.server import MarketSimulator

__all__ = [
    "DEFAULT_FAULTS",
    "DEFAULT_MARKETS",
    "DEFAULT_SYMBOLS",
    "Faults",
    "MarketModel",
    "MarketSimulator",
    "SimClock",
]
