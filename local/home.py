"""One owner per data directory: the lock ``cryptostream up`` holds, and the state file it publishes.

``<home>/lock`` is held with ``fcntl.flock`` for as long as a stack runs on the home; the kernel
releases it when the process dies, however it dies, so a lock is never stale. The file's content is
the owner's pid and identity (``local.owner``), so a second ``up`` can say who holds it, and the
crash suite (``tools/soak``) can find the process to kill. ``stack.json`` (endpoint, pid) is
trusted only while its pid holds the lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

from local import owner

LOCK_FILE = "lock"
STATE_FILE = "stack.json"


class HomeLocked(RuntimeError):
    """Another live process runs a stack on this home."""


class HomeLock:
    def __init__(self, home: Path) -> None:
        self.path = home / LOCK_FILE
        self._fd: int | None = None

    def acquire(self, wait_seconds: float = 0.5) -> None:
        """Take the lock or raise ``HomeLocked`` naming the holder (a brief wait rides out a CLI's probe)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(self.path)
                    os.close(fd)
                    who = f"pid {holder['pid']}" if holder.get("pid") else "another process"
                    raise HomeLocked(
                        f"{self.path.parent} is in use by another `cryptostream up` ({who}); "
                        "stop it first or set CRYPTOSTREAM_HOME to another directory"
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "owner": owner.identity()}).encode() + b"\n", 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def _read_holder(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def lock_holder(home: Path) -> int | None:
    """The pid of the live process holding ``home``'s lock, or None when nobody holds it."""
    path = home / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_holder(path).get("pid") or -1
    finally:
        os.close(fd)  # also drops the probe's shared lock
    return None


def write_state(home: Path, state: dict[str, Any]) -> None:
    """Publish ``stack.json`` atomically (a reader never sees half of it)."""
    tmp = home / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps({**state, "pid": os.getpid()}, indent=1))
    os.replace(tmp, home / STATE_FILE)


def remove_own_state(home: Path) -> None:
    """Delete ``stack.json`` only if this process wrote it: never another stack's."""
    path = home / STATE_FILE
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink(missing_ok=True)
    except (OSError, ValueError):
        pass


def live_state(home: Path) -> dict[str, Any] | None:
    """``stack.json`` if the process that wrote it still holds the home's lock, else None (stale or absent)."""
    path = home / STATE_FILE
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    holder = lock_holder(home)
    if holder is None or (holder != -1 and holder != state.get("pid")):
        return None
    return state
