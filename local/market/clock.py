"""The market's clock: the wall clock until set; tests, the demo and the soak set it and move it on."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


def _to_epoch(moment: datetime | str | float | int) -> float:
    if isinstance(moment, (int, float)):
        return float(moment)
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class SimClock:
    """The market's ``now``: follows the wall clock until set; ``advance`` moves it forward."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fixed: float | None = None

    def set(self, moment: datetime | str | float | None) -> None:
        """Freeze the clock at ``moment`` (naive datetimes are UTC); None follows the wall clock again."""
        with self._lock:
            self._fixed = None if moment is None else _to_epoch(moment)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._fixed = (time.time() if self._fixed is None else self._fixed) + seconds

    def timestamp(self) -> float:
        with self._lock:
            return time.time() if self._fixed is None else self._fixed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    @property
    def follows_wall_clock(self) -> bool:
        return self._fixed is None
