"""Per-shard checkpoints of the local stream readers (the event source mapping and the archiver).

Lambda and Firehose keep these inside AWS; locally they live in a JSON file in the data directory,
written atomically after every delivered batch, so a restart resumes exactly where it stopped.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from local import crash_points


class CheckpointStore:
    """``{reader: {shard_id: last_sequence_number}}``; in memory when ``path`` is None."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, str]] = {}
        if path is not None and path.exists():
            self._data = json.loads(path.read_text())

    def get(self, reader: str, shard_id: str) -> str | None:
        with self._lock:
            return self._data.get(reader, {}).get(shard_id)

    def put(self, reader: str, shard_id: str, sequence_number: str) -> None:
        with self._lock:
            previous = self._data.setdefault(reader, {}).get(shard_id)
            if previous is not None and int(previous) > int(sequence_number):
                raise RuntimeError(
                    f"checkpoint of {reader}/{shard_id} would go backwards: {previous} -> {sequence_number}"
                )
            self._data[reader][shard_id] = sequence_number
            self._flush()

    def snapshot(self) -> dict[str, dict[str, str]]:
        with self._lock:
            return {reader: dict(shards) for reader, shards in self._data.items()}

    def _flush(self) -> None:
        if self._path is None:
            return
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data, indent=1, sort_keys=True))
        crash_points.reached(crash_points.CHECKPOINT)  # the crash suite's kill point between write and rename
        os.replace(tmp, self._path)
