"""An append-only file of checksummed records: the write-ahead log under the embedded stack's journal.

Each record is ``length (u32 LE) | crc32 of payload (u32 LE) | payload``. A crash or a full disk can
leave a partial record at the end; ``open_log`` finds the first record whose header or checksum does
not hold, truncates the file there and says how many bytes it dropped. Because a record is only
acknowledged after it is completely written and fsynced, everything before that point is intact.

A failed write (ENOSPC, EIO) never leaves bytes behind: the file is cut back to the end of the last
good record before the error is raised, and the next append starts there again, so the log has no
torn record in its middle even when the disk fills and frees up while the stack keeps running.

Fault injection (documented for the crash suite, ``tools/soak``): when the environment variable
``CRYPTOSTREAM_JOURNAL_ENOSPC_FILE`` names a path and that file exists, every write to the log (and to
snapshots, ``local.snapshot``) fails with ENOSPC as a full disk would. Create the file to fill the
"disk", delete it to free it; the running stack notices on its next write.
"""

from __future__ import annotations

import contextlib
import errno
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

HEADER = struct.Struct("<II")
MAX_RECORD = 1 << 30  # a length field above this is garbage from a torn header, not a record
ENOSPC_FILE_ENV = "CRYPTOSTREAM_JOURNAL_ENOSPC_FILE"


def check_injected_fault() -> None:
    """Raise ENOSPC while the fault file named by CRYPTOSTREAM_JOURNAL_ENOSPC_FILE exists."""
    marker = os.environ.get(ENOSPC_FILE_ENV)
    if marker and os.path.exists(marker):
        raise OSError(errno.ENOSPC, "No space left on device (injected)", marker)


def encode(payload: bytes) -> bytes:
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def fsync_directory(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (the directory entry is data too)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_records(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(end_offset, payload)`` of every intact record, in order, streaming; stops at the first torn one."""
    if not path.exists():
        return
    with path.open("rb", buffering=1 << 20) as file:
        offset = 0
        while True:
            header = file.read(HEADER.size)
            if len(header) < HEADER.size:
                return
            length, crc = HEADER.unpack(header)
            if length > MAX_RECORD:
                return
            payload = file.read(length)
            if len(payload) < length or zlib.crc32(payload) != crc:
                return
            offset += HEADER.size + length
            yield offset, payload


def intact_size(path: Path) -> int:
    """Bytes of the intact prefix of the log (0 for a missing file)."""
    size = 0
    for size, _ in read_records(path):  # noqa: B007 - the last record's end is the answer
        pass
    return size


class AppendLog:
    """The open log: ``append`` writes whole records at the end of the good prefix; ``sync`` fsyncs."""

    def __init__(self, path: Path, good_bytes: int) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._end = good_bytes
        os.ftruncate(self._fd, good_bytes)
        self._dirty = False

    @property
    def size(self) -> int:
        return self._end

    def append(self, payloads: list[bytes], *, sync: bool) -> None:
        """Write ``payloads`` as records; on any OSError the file is cut back and the error re-raised."""
        data = b"".join(encode(p) for p in payloads)
        try:
            check_injected_fault()
            written = 0
            while written < len(data):
                written += os.pwrite(self._fd, data[written:], self._end + written)
            self._dirty = True
            if sync:
                os.fsync(self._fd)
                self._dirty = False
        except OSError:
            self._cut_back()
            raise
        self._end += len(data)

    def sync(self) -> None:
        if self._dirty:
            os.fsync(self._fd)
            self._dirty = False

    def reset(self) -> None:
        """Empty the log (after a snapshot made its records redundant)."""
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)
        self._end = 0
        self._dirty = False

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):  # the unsynced tail is outcome records; replay copes without them
                self.sync()
            os.close(self._fd)
            self._fd = -1

    def _cut_back(self) -> None:
        with contextlib.suppress(OSError):  # shrinking needs no free space; else a scan on start drops the bytes
            os.ftruncate(self._fd, self._end)


def open_log(path: Path, good_bytes: int) -> tuple[AppendLog, int]:
    """Open (creating) the log for appending after its intact prefix of ``good_bytes`` (from
    ``read_records``), truncating whatever follows; returns the log and how many torn bytes it dropped."""
    size = path.stat().st_size if path.exists() else 0
    log = AppendLog(path, good_bytes)
    if size > good_bytes:
        os.fsync(log._fd)
    return log, max(0, size - good_bytes)
