"""The Alpha Vantage key never reaches a log line: redaction at the logging boundary.

The key travels in the query string, so whatever prints a request URL can leak it: urllib3 logs
``GET /query?...&apikey=...`` at DEBUG, botocore logs a Secrets Manager answer at DEBUG, and an upstream
error body may echo the URL. The project's own messages are redacted where they are made; this module
covers everything else, for every logger, third-party ones included:

- ``install()`` wraps the log-record factory, so each record's message (``msg % args``) and exception
  text are redacted when the record is made, whichever logger made it and whichever handler shows it;
- and adds ``RedactingFilter`` to the root logger's handlers and the given (Powertools) loggers' handlers,
  which also redacts the ``extra`` fields a structured logger adds after the record is made.

``redact`` masks ``apikey=...`` (plain and URL-encoded), ``"api_key": "..."`` (plain and inside an
escaped JSON string) and every value passed to ``register_secret`` (the key once it is known).
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
_PATTERNS = (
    re.compile(r"(apikey=)[^&\s\"'<>]+", re.IGNORECASE),
    re.compile(r"(apikey%3D)[^&%\s\"'<>]+", re.IGNORECASE),
    re.compile(r"(api_?key\\*[\"']\s*:\s*\\*[\"'])[^\"'\\]+", re.IGNORECASE),
    re.compile(r"(API key as )\S+", re.IGNORECASE),  # Alpha Vantage's "the API key as X is invalid"
)
_MIN_SECRET_LENGTH = 8  # shorter values (Alpha Vantage's "demo" key) would mask ordinary words
_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False
# LogRecord's own attributes; anything else on a record came from ``extra``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class RedactedException(Exception):
    """Stands in for an exception whose text held a secret (its traceback text, redacted)."""


def register_secret(value: str | None) -> None:
    """Mask this exact value (and its URL-encoded forms) wherever it appears from now on."""
    if not value or len(value) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.update({value, quote(value, safe=""), quote_plus(value)})


def redact(text: str) -> str:
    """``text`` with every API key in it replaced by ``***``."""
    for pattern in _PATTERNS:
        text = pattern.sub(rf"\g<1>{MASK}", text)
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "replace"))
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_value(item) for item in value]
    return value


def redact_record(record: logging.LogRecord) -> None:
    """Redact a record in place: its message, exception text, stack text and ``extra`` fields."""
    if isinstance(record.msg, dict):  # a structured (Powertools) message: keep it structured
        record.msg = _redact_value(record.msg)
    else:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: logging reports it itself when it formats the record
            message = None
        if message is not None:
            clean = redact(message)
            if clean != message or record.args:
                record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[1] is not None:
        text = "".join(traceback.format_exception(*record.exc_info))
        clean = redact(text)
        if clean != text:
            record.exc_info = (RedactedException, RedactedException(clean.rstrip()), None)
            record.exc_text = None
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    for name, value in list(vars(record).items()):
        if name not in _RECORD_FIELDS and isinstance(value, str | bytes | dict | list):
            setattr(record, name, _redact_value(value))


class RedactingFilter(logging.Filter):
    """On a handler: every record it shows is redacted first (``extra`` fields included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def _add_filter(handler: logging.Handler) -> None:
    if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
        handler.addFilter(RedactingFilter())


def install(*loggers: Any) -> None:
    """Redact every log record from now on; idempotent. ``loggers``: Powertools or stdlib loggers whose
    handlers (and the root logger's) get the filter; Powertools' ``Logger`` is unwrapped."""
    global _installed
    with _lock:
        if not _installed:
            made = logging.getLogRecordFactory()

            def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = made(*args, **kwargs)
                redact_record(record)
                return record

            logging.setLogRecordFactory(redacting_factory)
            _installed = True
    for handler in logging.getLogger().handlers:
        _add_filter(handler)
    for logger in loggers:
        stdlib = getattr(logger, "_logger", logger)  # Powertools keeps its stdlib logger there
        for handler in getattr(stdlib, "handlers", []):
            _add_filter(handler)
