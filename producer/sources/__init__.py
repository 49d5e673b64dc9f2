"""Market data sources behind one interface (``base.MarketSource``).

- ``alphavantage`` (default): the ``alpha_vantage`` package (``producer.alpha_client``), API key required.
- ``coinbase`` (Coinbase Exchange) and ``kraken``: public, keyless exchange data through CCXT
  (``exchange.py``). ``ccxt`` imports every exchange module it has (~0.5 s), so it is imported only when
  a run uses one of these sources: an Alpha Vantage producer's cold start does not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptostream_model.sources import ALPHA_VANTAGE
from producer.settings import Settings
from producer.sources.base import Attempt, BarQuery, MarketSource, Parsed, direct

__all__ = ["Attempt", "BarQuery", "MarketSource", "Parsed", "direct", "open_source"]


def open_source(
    name: str,
    settings: Settings,
    clients: Any,
    sleep: Callable[[float], None],
    before_request: Callable[[], None] | None = None,
) -> MarketSource:
    """The source a run fetches from; raises SourceError (e.g. no API key) when it cannot be opened.
    ``before_request`` runs before every Alpha Vantage HTTP attempt (its daily request budget)."""
    if name == ALPHA_VANTAGE:
        from producer.sources.alpha_vantage import open_alpha_vantage

        return open_alpha_vantage(settings, clients, sleep, before_request)
    from producer.sources.exchange import open_exchange

    return open_exchange(name, settings, sleep)
