"""Durable state for the embedded moto server: a write-ahead journal of requests plus snapshots.

Design (docs/architecture.md, "Durability of the local stack"). moto keeps its state in memory.
Every request that changes state is written to ``journal.wal`` (``local.wal``: length + CRC32 per
record) and fsynced *before* moto applies it; on the next start the records are replayed into a
fresh server. Every so often (and on a clean stop) the whole of moto's state is pickled into
``snapshot.pickle`` (``local.snapshot``) and the journal is emptied, so start-up costs one unpickle
plus a bounded tail, not the whole history. We chose snapshot + journal tail over a journal alone
(start-up grew with history: 11 MB took 5.5 s) and over an embedded database (moto's state lives in
its own objects; mirroring every service's model into tables would be a second emulator).

What makes replay faithful:
- Order: requests are served one at a time (moto is not thread-safe anyway: concurrent writers to a
  shard lose records), so the journal's order is the order moto applied them in.
- Identifiers: moto draws key ids, receipt handles, message ids and version ids from one seedable
  random source; it is seeded with the record's sequence number before each request, live and on
  replay alike, so a replayed ``CreateKey`` yields the same id and a journaled ``CreateAlias`` or
  ``DeleteMessage`` names something that exists.
- Time: replay freezes moto's clock (``moto.core.utils.utcnow`` and what derives from it) at each
  record's original time, so visibility timeouts and timestamps come out as they did.
- State-changing reads are journaled: ``ReceiveMessage`` draws receipt handles and hides messages.
- Outcome: after moto answers, a small outcome record (the status) follows the request. A request
  that failed originally is not re-applied. A request that succeeded must succeed again: if it
  does not, start-up stops with one line naming the record (``ReplayError``); nothing is skipped
  silently. A request with no outcome record (the process died, or the disk filled, between apply
  and outcome) is replayed and its result taken: it was durable before moto saw it.

fsync points and why:
1. each request record, before moto applies it: a client never sees (and no reader checkpoints
   past) a change that a crash could take back, so watermarks never move back and checkpoints
   never pass records that are not durable;
2. outcome records are not fsynced on their own (they ride on the next request's fsync): losing
   one only means the request is replayed and judged by its replayed result;
3. a snapshot file and its directory, before the journal it replaces is emptied.

A write that fails (ENOSPC, EIO) is cut back out of the journal and the request is refused with 503
``ServiceUnavailable`` before moto sees it, so nothing is applied that is not journaled; clients
retry (botocore does so itself). ``JournalStatus`` counts refusals and raises one notice per
disk-full episode, which ``cryptostream up`` prints as one line. ``local.wal`` documents how to
inject ENOSPC from outside (``CRYPTOSTREAM_JOURNAL_ENOSPC_FILE``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.test import Client

from local import snapshot, wal
from local.request_body import buffer_request_body

JOURNAL_FILE = "journal.wal"
LEGACY_JOURNAL_FILE = "journal.jsonl"  # the line-per-request journal of earlier versions; migrated on start
SNAPSHOT_FILE = "snapshot.pickle"
COMPACT_EVERY_RECORDS = 2_000  # a crash leaves at most this many requests to replay (~5 ms each)
COMPACT_EVERY_BYTES = 64 * 1024 * 1024

_READ_ONLY_PREFIXES = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "Head")
_S3_MUTATING_METHODS = {"PUT", "POST", "DELETE"}
_KEPT_HEADERS = ("content-type", "x-amz-target", "authorization", "x-amz-date", "content-md5", "x-amz-content-sha256")
_META_LEN = struct.Struct("<I")


class ReplayError(RuntimeError):
    """A journaled request that succeeded originally failed on replay: the stack must not start."""


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
        return not action.startswith(_READ_ONLY_PREFIXES)  # ReceiveMessage changes state: it is journaled
    return environ.get("REQUEST_METHOD") in _S3_MUTATING_METHODS  # S3's REST protocol


# --- records --------------------------------------------------------------------------------------------
def _encode(meta: dict[str, Any], body: bytes = b"") -> bytes:
    raw = json.dumps(meta, separators=(",", ":")).encode()
    return _META_LEN.pack(len(raw)) + raw + body


def _decode(payload: bytes) -> tuple[dict[str, Any], bytes]:
    (length,) = _META_LEN.unpack_from(payload)
    start = _META_LEN.size
    return json.loads(payload[start : start + length]), payload[start + length :]


def _request_meta(seq: int, environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return {
        "k": "req",
        "seq": seq,
        "t": time.time(),
        "action": _action(environ, body) or f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO', '/')}",
        "method": environ["REQUEST_METHOD"],
        "path": environ.get("RAW_URI") or environ.get("PATH_INFO", "/"),
        "query": environ.get("QUERY_STRING", ""),
        "headers": {k: v for k, v in headers.items() if k in _KEPT_HEADERS or k.startswith("x-amz-")},
        "host": environ.get("HTTP_HOST", ""),
    }


# --- determinism: moto's random source and clock ----------------------------------------------------------
def _seed(seq: int) -> None:
    from moto.moto_api._internal import mock_random

    mock_random.seed(seq)


class _Clock:
    """Replaces ``utcnow`` in moto's modules with one that can be frozen (during replay only)."""

    frozen_at: float | None = None
    _original: Callable[[], dt.datetime] | None = None

    @classmethod
    def install(cls) -> None:
        import moto.core.utils as utils

        if cls._original is None:
            cls._original = utils.utcnow
        for name, module in list(sys.modules.items()):
            if name.startswith("moto") and getattr(module, "utcnow", None) is cls._original:
                module.utcnow = cls.utcnow  # type: ignore[attr-defined]

    @classmethod
    def utcnow(cls) -> dt.datetime:
        if cls.frozen_at is None:
            assert cls._original is not None
            return cls._original()
        return dt.datetime.fromtimestamp(cls.frozen_at, dt.UTC).replace(tzinfo=None)


# --- status for `up` ----------------------------------------------------------------------------------------
@dataclass
class JournalStatus:
    """What the journal has to tell the operator, one line per event, drained by ``cryptostream up``."""

    refused: int = 0
    disk_full_since: float | None = None
    notices: deque[str] = field(default_factory=deque)

    def write_failed(self, exc: OSError, path: Path) -> None:
        self.refused += 1
        if self.disk_full_since is None:
            self.disk_full_since = time.time()
            self.notices.append(
                f"journal: cannot write {path} ({exc.strerror or exc}): state-changing requests are refused "
                "(clients retry) until it can; nothing acknowledged is lost"
            )

    def write_succeeded(self) -> None:
        if self.disk_full_since is not None:
            self.notices.append(
                f"journal: writing again after {time.time() - self.disk_full_since:.0f} s; "
                f"{self.refused} requests were refused meanwhile"
            )
            self.disk_full_since = None
            self.refused = 0

    def drain(self) -> list[str]:
        lines = []
        while self.notices:
            lines.append(self.notices.popleft())
        return lines


# --- the journal ------------------------------------------------------------------------------------------
class Journal:
    """The journal and snapshot of one data directory. ``recover(app)`` on start, then ``record``."""

    def __init__(
        self,
        directory: Path,
        *,
        compact_every_records: int = COMPACT_EVERY_RECORDS,
        compact_every_bytes: int = COMPACT_EVERY_BYTES,
    ) -> None:
        self.directory = directory
        self.path = directory / JOURNAL_FILE
        self.snapshot_path = directory / SNAPSHOT_FILE
        self.status = JournalStatus()
        self._compact_records = compact_every_records
        self._compact_bytes = compact_every_bytes
        self._log: wal.AppendLog | None = None
        self._next_seq = 1
        self._tail_records = 0
        self._next_compaction_try = compact_every_records
        self.replayed = 0
        self.timings: dict[str, float] = {}  # seconds spent by recover(): snapshot load, replay, compaction

    # start-up ------------------------------------------------------------------------------------------
    def recover(self, app: Callable[..., Iterable[bytes]]) -> int:
        """Load the snapshot, replay the journal after it, truncate a torn tail; returns requests replayed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        legacy = self.directory / LEGACY_JOURNAL_FILE
        started = time.perf_counter()
        last_seq = snapshot.load(self.snapshot_path) if self.snapshot_path.exists() else 0
        self.timings["snapshot_load"] = time.perf_counter() - started
        replayer = _Replayer(app, after_seq=last_seq)
        for end, payload in wal.read_records(self.path):
            replayer.feed(*_decode(payload))
            replayer.good_bytes = end
        replayer.finish()
        self.timings["replay"] = time.perf_counter() - started - self.timings["snapshot_load"]
        self._log, torn = wal.open_log(self.path, replayer.good_bytes)
        if torn:
            self.status.notices.append(
                f"journal: dropped a torn tail of {torn} bytes after record #{replayer.last_seq} "
                "(a write cut short by a crash or a full disk; it was never acknowledged)"
            )
        self._next_seq = max(last_seq, replayer.last_seq) + 1
        self.replayed = replayer.replayed
        migrated = 0
        if legacy.exists() and not last_seq and not replayer.last_seq:
            migrated = _replay_legacy(app, legacy)
            self.replayed += migrated
        if self.replayed:
            compacting = time.perf_counter()
            self.compact()  # the next start loads the snapshot instead of replaying again
            self.timings["compact"] = time.perf_counter() - compacting
        if migrated and self.snapshot_path.exists():
            legacy.rename(legacy.with_suffix(".jsonl.migrated"))
            self.status.notices.append(
                f"journal: migrated {migrated} requests from {legacy.name} to {SNAPSHOT_FILE} "
                f"(the old file is kept as {legacy.name}.migrated)"
            )
        return self.replayed

    # serving -------------------------------------------------------------------------------------------
    def begin(self, environ: dict[str, Any], body: bytes) -> int:
        """Make a request durable before it is applied; returns its sequence number. Raises OSError."""
        assert self._log is not None
        seq = self._next_seq
        try:
            self._log.append([_encode(_request_meta(seq, environ, body), body)], sync=True)
        except OSError as exc:
            self.status.write_failed(exc, self.path)
            raise
        self.status.write_succeeded()
        self._next_seq += 1
        self._tail_records += 1
        _seed(seq)
        return seq

    def end(self, seq: int, status: int) -> None:
        """Note a request's outcome (not fsynced: see the module docstring), then compact if due."""
        assert self._log is not None
        try:
            self._log.append([_encode({"k": "out", "seq": seq, "s": status})], sync=False)
        except OSError as exc:
            self.status.write_failed(exc, self.path)
        if self._tail_records >= self._next_compaction_try or self._log.size >= self._compact_bytes:
            self.compact()

    def probe(self) -> bool:
        """Try a durable write (a no-op record replay ignores): True once the journal can write again."""
        assert self._log is not None
        try:
            self._log.append([_encode({"k": "noop", "seq": self._next_seq - 1})], sync=True)
        except OSError as exc:
            self.status.write_failed(exc, self.path)
            self.status.refused -= 1  # a probe is not a refused request
            return False
        self.status.write_succeeded()
        return True

    def compact(self) -> bool:
        """Snapshot moto's state and empty the journal; on failure keep the journal and retry later."""
        assert self._log is not None
        last_seq = self._next_seq - 1
        try:
            self._log.sync()
            snapshot.dump(self.snapshot_path, last_seq)
        except OSError as exc:
            self._next_compaction_try = self._tail_records + max(1, self._compact_records // 4)
            self.status.notices.append(f"journal: snapshot not written ({exc.strerror or exc}); will retry")
            return False
        self._log.reset()
        self._tail_records = 0
        self._next_compaction_try = self._compact_records
        return True

    def close(self, *, compact: bool = True) -> None:
        if self._log is None:
            return
        if compact and self._tail_records:
            self.compact()
        self._log.close()
        self._log = None


class _Replayer:
    """Pairs each request record with its outcome record and re-applies it (module docstring)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], *, after_seq: int) -> None:
        self._client = Client(app)
        self._after = after_seq
        self._pending: tuple[dict[str, Any], bytes] | None = None
        self.good_bytes = 0
        self.last_seq = 0
        self.replayed = 0
        _Clock.install()

    def feed(self, meta: dict[str, Any], body: bytes) -> None:
        seq = int(meta["seq"])
        self.last_seq = max(self.last_seq, seq)
        if meta["k"] == "noop":
            return
        if meta["k"] == "out":
            if self._pending is not None and self._pending[0]["seq"] == seq:
                request, request_body = self._pending
                self._pending = None
                if 200 <= int(meta["s"]) < 300:
                    self._apply(request, request_body, must_succeed=True)
            return
        self._flush_unanswered()
        if seq > self._after:
            self._pending = (meta, body)

    def finish(self) -> None:
        self._flush_unanswered()

    def _flush_unanswered(self) -> None:
        if self._pending is not None:
            request, body = self._pending
            self._pending = None
            self._apply(request, body, must_succeed=False)

    def _apply(self, meta: dict[str, Any], body: bytes, *, must_succeed: bool) -> None:
        _seed(int(meta["seq"]))
        _Clock.frozen_at = float(meta["t"])
        try:
            response = self._client.open(
                meta["path"].split("?", 1)[0],
                method=meta["method"],
                query_string=meta["query"],
                headers=meta["headers"],
                data=body,
                base_url=f"http://{meta['host'] or 'localhost'}",
            )
        finally:
            _Clock.frozen_at = None
        self.replayed += 1
        if must_succeed and not 200 <= response.status_code < 300:
            detail = response.get_data(as_text=True).replace("\n", " ")[:200]
            made = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(meta["t"]))
            raise ReplayError(
                f"journal record #{meta['seq']} ({meta['action']}, {made} UTC) succeeded when it was made "
                f"but failed on replay with {response.status_code}: {detail}"
            )


def _replay_legacy(app: Callable[..., Iterable[bytes]], path: Path) -> int:
    """Re-apply an old line-per-request journal (no outcomes, no seeds: the best it can do)."""
    client = Client(app)
    count = 0
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                break  # its torn last line: everything before it is intact
            client.open(
                entry["path"].split("?", 1)[0],
                method=entry["method"],
                query_string=entry["query"],
                headers=entry["headers"],
                data=base64.b64decode(entry["body"]),
                base_url=f"http://{entry['host'] or 'localhost'}",
            )
            count += 1
    return count


# --- the WSGI middleware ------------------------------------------------------------------------------------
def _unavailable(environ: dict[str, Any], start_response: Callable[..., Any], reason: str) -> list[bytes]:
    """503 in the request's protocol, so botocore parses it as a retryable ServiceUnavailable."""
    message = f"the local stack cannot journal this request ({reason}); retry later"
    if environ.get("HTTP_X_AMZ_TARGET"):
        body = json.dumps({"__type": "ServiceUnavailable", "message": message}).encode()
        content_type = "application/x-amz-json-1.0"
    else:
        body = (
            f"<ErrorResponse><Error><Code>ServiceUnavailable</Code><Message>{message}</Message></Error></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    start_response("503 Service Unavailable", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


class JournalingApp:
    """WSGI middleware: serve requests one at a time; journal state-changing ones before moto applies them."""

    def __init__(self, app: Callable[..., Iterable[bytes]], journal: Journal | None) -> None:
        self._app = app
        self._journal = journal
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = buffer_request_body(environ)
        statuses: list[str] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            statuses.append(status)
            return start_response(status, headers, exc_info)

        with self._lock:
            seq = None
            if self._journal is not None and is_state_changing(environ, body):
                try:
                    seq = self._journal.begin(environ, body)
                except OSError as exc:
                    return _unavailable(environ, start_response, exc.strerror or str(exc))
            try:
                result = self._app(environ, capture)
                try:
                    content = b"".join(result)  # moto has applied the request once its body is produced
                finally:
                    if hasattr(result, "close"):
                        result.close()
            except Exception:
                if seq is not None and self._journal is not None:
                    self._journal.end(seq, 500)  # failed: not re-applied on replay
                raise
            if seq is not None and self._journal is not None:
                self._journal.end(seq, int(statuses[0].split(" ", 1)[0]) if statuses else 500)
        return [content]

    def probe(self) -> bool:
        """True when the journal can write (always, without a journal)."""
        with self._lock:
            return self._journal.probe() if self._journal is not None else True

    def close(self) -> None:
        with self._lock:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
