"""Who a process is, in a form another process can check later: boot, pid and the pid's start time.

A pid alone is not enough after a reboot or once the kernel reuses it; with the boot id and the
process's start time (in clock ticks since boot, from /proc) a recorded owner is "alive" only if it
is that very process. Used for the home directory's lock and for the producer's run lease locally.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

PREFIX = "local"


@cache
def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:12]
    except OSError:
        return "unknown"


def start_ticks(pid: int) -> str | None:
    """The process's start time since boot, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None if _gone(pid) else "unknown"
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name in (...) may contain spaces


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def identity(pid: int | None = None) -> str:
    """``local:<boot>:<pid>:<start>`` for this process (or ``pid``)."""
    pid = os.getpid() if pid is None else pid
    return f"{PREFIX}:{boot_id()}:{pid}:{start_ticks(pid)}"


def pid_of(owner: str) -> int | None:
    parts = owner.split("/", 1)[0].split(":")
    if len(parts) != 4 or parts[0] != PREFIX or not parts[2].isdigit():
        return None
    return int(parts[2])


def is_gone(owner: str) -> bool:
    """True only when ``owner`` is one of our identities and that process certainly no longer runs."""
    parts = owner.split("/", 1)[0].split(":")
    if len(parts) != 4 or parts[0] != PREFIX or not parts[2].isdigit():
        return False  # not ours (e.g. a Lambda's run id in AWS): its lease expires on its own
    _, boot, pid, started = parts
    if boot != boot_id():
        return True  # recorded before the last reboot
    current = start_ticks(int(pid))
    return current is None or (current != "unknown" and started != "unknown" and current != started)
