"""Durable state for the embedded moto server: a journal of every state-changing request.

moto keeps its state in memory. To let ``cryptostream up`` stop and start again without losing
anything, every request that changes state is appended to ``journal.jsonl`` in the data
directory and replayed into a fresh server on the next start. Reads (Get*, Describe*, List*,
Query, Scan, Receive*) are not journaled, so the journal grows with writes only (a PutRecords of
500 quotes or a BatchWriteItem of 25 is one line). moto numbers Kinesis sequence numbers per
shard in arrival order, so a replay reproduces them and the stream pollers' checkpoints stay valid.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.test import Client

_READ_ONLY_PREFIXES = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "Receive", "Head")
_S3_MUTATING_METHODS = {"PUT", "POST", "DELETE"}
_KEPT_HEADERS = ("content-type", "x-amz-target", "authorization", "x-amz-date", "content-md5", "x-amz-content-sha256")


def _action(environ: dict[str, Any], body: bytes) -> str | None:
    """The API action of a request: X-Amz-Target for JSON protocols, Action= for query protocols."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rsplit(".", 1)[-1]
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        for part in body.split(b"&"):
            if part.startswith(b"Action="):
                return part[7:].decode()
    return None


def is_state_changing(environ: dict[str, Any], body: bytes) -> bool:
    if environ.get("PATH_INFO", "").startswith("/moto-api"):
        return False
    action = _action(environ, body)
    if action is not None:
        return not action.startswith(_READ_ONLY_PREFIXES)
    return environ.get("REQUEST_METHOD") in _S3_MUTATING_METHODS  # S3's REST protocol


class JournalingApp:
    """WSGI middleware: pass every request to moto, append state-changing ones to the journal."""

    def __init__(self, app: Callable[..., Iterable[bytes]], journal_path: Path | None) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._file = journal_path.open("a", encoding="utf-8") if journal_path else None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self._file is None:
            return self._app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        status_holder: list[str] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status_holder.append(status)
            return start_response(status, headers, exc_info)

        result = self._app(environ, capture)
        if status_holder and status_holder[0].startswith("2") and is_state_changing(environ, body):
            self._append(environ, body)
        return result

    def _append(self, environ: dict[str, Any], body: bytes) -> None:
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        entry = {
            "method": environ["REQUEST_METHOD"],
            "path": environ.get("RAW_URI") or environ.get("PATH_INFO", "/"),
            "query": environ.get("QUERY_STRING", ""),
            "headers": {k: v for k, v in headers.items() if k in _KEPT_HEADERS or k.startswith("x-amz-")},
            "host": environ.get("HTTP_HOST", ""),
            "body": base64.b64encode(body).decode("ascii"),
        }
        line = json.dumps(entry, separators=(",", ":"))
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            with self._lock:
                self._file.close()
                self._file = None


def replay(app: Callable[..., Iterable[bytes]], journal_path: Path) -> int:
    """Re-apply a journal to a fresh moto app in-process; returns the number of requests replayed."""
    if not journal_path.exists():
        return 0
    client = Client(app)
    count = 0
    with journal_path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:  # a torn last line from a hard kill: everything before it is intact
                break
            path = entry["path"].split("?", 1)[0]
            client.open(
                path,
                method=entry["method"],
                query_string=entry["query"],
                headers=entry["headers"],
                data=base64.b64decode(entry["body"]),
                base_url=f"http://{entry['host'] or 'localhost'}",
            )
            count += 1
    return count
