"""CCXT's error classes as the producer's (``producer.errors``), so every source fails the same way.

CCXT raises its classes from HTTP statuses (429 -> RateLimitExceeded, 5xx -> ExchangeNotAvailable, ...)
and from each exchange's error bodies (Kraken's ``{"error": ["EAPI:Rate limit exceeded"]}`` ->
DDoSProtection). Checked most specific first: CCXT's RateLimitExceeded and DDoSProtection are both
NetworkErrors (siblings in CCXT 4.5), BadSymbol is a BadRequest is an ExchangeError.
"""

from __future__ import annotations

from producer.errors import (
    AuthError,
    InvalidRequest,
    InvalidSymbol,
    RateLimited,
    SourceError,
    UnexpectedBody,
    UpstreamUnavailable,
)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def is_transport_error(exc: BaseException) -> bool:
    """A failure worth retrying at once: timeouts, connection errors, 5xx (not throttling: that has its backoff)."""
    import ccxt

    return isinstance(exc, ccxt.NetworkError) and not isinstance(exc, (ccxt.DDoSProtection, ccxt.RateLimitExceeded))


def translate(exc: BaseException, source: str, what: str) -> SourceError:
    """The producer's error for a CCXT (or any) exception raised while fetching ``what`` from ``source``."""
    import ccxt

    detail = f"{source} {what}: {_one_line(exc)}"
    if isinstance(exc, (ccxt.DDoSProtection, ccxt.RateLimitExceeded)):
        return RateLimited(f"{source} throttled: {_one_line(exc)}", daily=False)
    if isinstance(exc, ccxt.NetworkError):  # ExchangeNotAvailable, OnMaintenance, RequestTimeout
        return UpstreamUnavailable(detail)
    if isinstance(exc, ccxt.BadSymbol):
        return InvalidSymbol(f"{source} does not list {what.split()[0]}: {_one_line(exc)}")
    if isinstance(exc, (ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended)):
        return AuthError(detail)
    if isinstance(exc, ccxt.BadResponse):
        return UnexpectedBody(detail)
    if isinstance(exc, ccxt.BaseError):
        return InvalidRequest(detail)
    if isinstance(exc, SourceError):
        return exc
    return UnexpectedBody(f"{detail} ({type(exc).__name__})")
