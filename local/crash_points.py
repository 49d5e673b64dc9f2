"""Chosen crash points for the crash suite (``tools/soak/crash.py``): off unless ``CRYPTOSTREAM_CRASH_AT`` is set.

``CRYPTOSTREAM_CRASH_AT=PutRecords:3`` makes the process SIGKILL itself right after the 3rd PutRecords
request has been journaled and before moto's response is sent, so the caller never learns the outcome --
the worst moment for a durable store. Several points may be given, comma-separated; the first one reached
kills. The points:

- an API action (``PutRecords``, ``BatchWriteItem``, ``UpdateItem``, ``TransactWriteItems``, ...): after
  the Nth successful request of that action is journaled, before the response;
- ``archive``: after the Nth archive object (an S3 PUT under ``quotes/``) is journaled, before the response;
- ``checkpoint``: after the Nth reader checkpoint is written to its temporary file, before the rename.

A real SIGKILL, not an exception: no ``finally`` runs, nothing is flushed, exactly as with ``kill -9``.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from local.request_body import buffer_request_body

ENV = "CRYPTOSTREAM_CRASH_AT"
ARCHIVE = "archive"
CHECKPOINT = "checkpoint"
_ARCHIVE_PATH_PART = "/quotes/"


def parse(spec: str) -> dict[str, int]:
    """``"PutRecords:3,checkpoint:1"`` -> ``{"PutRecords": 3, "checkpoint": 1}``; ValueError naming the part."""
    points: dict[str, int] = {}
    for part in (piece.strip() for piece in spec.split(",")):
        if not part:
            continue
        name, _, count = part.partition(":")
        if not name or not count.isdigit() or int(count) < 1:
            raise ValueError(f"{ENV}: expected POINT:N with N >= 1 (e.g. PutRecords:3), got {part!r}")
        points[name] = int(count)
    return points


class CrashPoints:
    """Counts arrivals at each armed point; the Nth arrival kills the process (``kill`` is a test seam)."""

    def __init__(self, points: dict[str, int], kill: Callable[[], None] | None = None) -> None:
        self._points = points
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._kill = kill or (lambda: os.kill(os.getpid(), signal.SIGKILL))

    @property
    def armed(self) -> bool:
        return bool(self._points)

    def reached(self, name: str | None) -> None:
        if name is None or name not in self._points:
            return
        with self._lock:
            self._seen[name] += 1
            if self._seen[name] == self._points[name]:
                self._kill()


_POINTS = CrashPoints(parse(os.environ.get(ENV, "")))


def reached(name: str) -> None:
    """Called by the writers at a crash point (``checkpoint``); does nothing unless armed."""
    _POINTS.reached(name)


def request_point(environ: dict[str, Any], body: bytes) -> str | None:
    """The crash point a moto request passes: its API action, or ``archive`` for an archive object."""
    from local.journal import is_state_changing

    if not is_state_changing(environ, body):
        return None
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rsplit(".", 1)[-1]
    if environ.get("REQUEST_METHOD") == "PUT" and _ARCHIVE_PATH_PART in environ.get("PATH_INFO", ""):
        return ARCHIVE
    for part in body.split(b"&"):
        if part.startswith(b"Action="):
            return part[7:].decode()
    return None


def around(app: Callable[..., Iterable[bytes]], points: CrashPoints | None = None) -> Callable[..., Iterable[bytes]]:
    """Wrap the journaling WSGI app: once it has returned (the request applied and journaled), a request
    that reaches an armed point kills the process before the response goes out. Unarmed: ``app`` itself."""
    points = points or _POINTS
    if not points.armed:
        return app

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = buffer_request_body(environ)
        statuses: list[str] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            statuses.append(status)
            return start_response(status, headers, exc_info)

        result = app(environ, capture)
        if statuses and statuses[0].startswith("2"):
            points.reached(request_point(environ, body))
        return result

    return wrapped
