"""Typed failures of one market data call, whichever the source.

Alpha Vantage answers throttling and errors with HTTP 200 and a JSON body holding ``Note``,
``Information`` or ``Error Message``; ``producer.bodies.classify`` turns those bodies into these
exceptions. The exchanges' CCXT errors (HTTP 429, error bodies) become the same classes in
``producer.sources.errors``. So the handler decides per kind, not per source: retry, give up on the
pair, or give up on the run. Every message is one line and never contains an API key.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """Bad settings or a bad event: nothing is fetched or published."""


class SourceError(Exception):
    """Base of every upstream failure; ``kind`` is a short machine-readable code."""

    kind = "upstream_error"
    # True when every other pair of the run would fail the same way (so don't spend quota on them).
    fails_whole_run = False

    def __str__(self) -> str:
        return f"{self.kind}: {super().__str__()}"


AlphaVantageError = SourceError  # the name before there were other sources


class RateLimited(SourceError):
    """Throttled. ``daily`` is the free tier's daily quota, which no backoff inside one run clears."""

    kind = "rate_limited"

    def __init__(self, message: str, *, daily: bool = False) -> None:
        super().__init__(message)
        self.daily = daily
        self.fails_whole_run = daily


class PremiumEndpoint(SourceError):
    """The function needs a premium Alpha Vantage key (CRYPTO_INTRADAY on a free key)."""

    kind = "premium_endpoint"
    fails_whole_run = True


class AuthError(SourceError):
    """Missing, invalid or ``demo`` API key."""

    kind = "auth_error"
    fails_whole_run = True


class InvalidSymbol(SourceError):
    """The source does not know this symbol or market (for this function)."""

    kind = "invalid_symbol"


class InvalidRequest(SourceError):
    """Any other refusal of the request (an unexpected ``Information`` or ``Error Message``)."""

    kind = "invalid_request"


class UpstreamUnavailable(SourceError):
    """Connection errors, timeouts or HTTP 5xx after the bounded retries."""

    kind = "upstream_unavailable"


class UnexpectedBody(SourceError):
    """A body that is neither data nor a known refusal (empty, not JSON, data key missing)."""

    kind = "unexpected_body"
