"""A disk that fills up under ``cryptostream up``: a small tmpfs where root can mount one, else a file-size limit.

``TmpfsDisk``: the home directory lives on its own tmpfs; ``fill`` writes a filler file that leaves
``slack`` bytes, so the stack's next writes fail with ENOSPC (a partial write first, as on a real disk);
``free`` deletes it. ``FileSizeLimit`` (no root, or mount refused): the next ``up`` starts with
RLIMIT_FSIZE just above its largest file, so any write past it stops short with EFBIG -- the same
torn write, from the kernel, with no hook in the code under test. The kernel also raises SIGXFSZ at each
such write; Python ignores it, so ``up`` is launched through a two-line wrapper that notes it in a
marker file instead (a file's size alone misses a failed write the stack truncates or deletes).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

FILLER = "filler.bin"
FULL_BELOW = 16 * 1024
# `cryptostream up` with SIGXFSZ noted in the marker file named by its first argument (writes still fail)
_NOTE_SIGXFSZ = (
    "import signal, sys\n"
    "marker = sys.argv.pop(1)\n"
    "signal.signal(signal.SIGXFSZ, lambda *_: open(marker, 'a').write('x'))\n"
    "sys.argv[0] = 'cryptostream'\n"
    "from cli.main import app\n"
    "app()\n"
)


class TmpfsDisk:
    kind = "tmpfs"

    def __init__(self, mount_point: Path, size_mib: int) -> None:
        self.mount_point = mount_point
        self.size_mib = size_mib
        self.home = mount_point / "home"
        self._filler = mount_point / FILLER

    @classmethod
    def try_mount(cls, mount_point: Path, size_mib: int) -> TmpfsDisk | None:
        """Mount a tmpfs of ``size_mib`` MiB, or None when this user or machine cannot."""
        if os.geteuid() != 0:
            return None
        mount_point.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0700", "tmpfs", str(mount_point)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            return None
        disk = cls(mount_point, size_mib)
        disk.home.mkdir()
        return disk

    def preexec(self) -> Callable[[], None] | None:
        return None

    def launcher(self) -> list[str] | None:
        return None

    def fill(self, slack: int) -> None:
        """Leave ``slack`` bytes free (rounded to the file system's blocks)."""
        stats = os.statvfs(self.mount_point)
        room = stats.f_bavail * stats.f_frsize - slack
        with self._filler.open("wb") as filler:
            chunk = b"\0" * (1 << 20)
            while room > 0:
                try:
                    room -= filler.write(chunk[: min(len(chunk), room)])
                except OSError:
                    break

    def full(self) -> bool:
        """Under 16 KiB left: the journal's next record does not fit (a failed write the stack truncates
        gives a few blocks back, so "nothing left" alone would be missed between two looks)."""
        stats = os.statvfs(self.mount_point)
        return stats.f_bavail * stats.f_frsize < FULL_BELOW

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)

    def release(self) -> None:
        subprocess.run(["umount", "-l", str(self.mount_point)], capture_output=True)


class FileSizeLimit:
    kind = "file-size limit"

    def __init__(self, home: Path) -> None:
        self.home = home
        self._limit: int | None = None
        self._marker = home.parent / "sigxfsz.marker"  # outside the home: the stack never sees it

    def launcher(self) -> list[str] | None:
        if self._limit is None:
            return None
        return [sys.executable, "-c", _NOTE_SIGXFSZ, str(self._marker)]

    def preexec(self) -> Callable[[], None] | None:
        limit = self._limit
        if limit is None:
            return None
        return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    def fill(self, slack: int) -> None:
        """Takes effect at the next start: its largest file may grow by ``slack`` bytes only."""
        largest = max((path.stat().st_size for path in self.home.rglob("*") if path.is_file()), default=0)
        self._limit = largest + slack
        self._marker.unlink(missing_ok=True)

    def full(self) -> bool:
        """True once a write of the limited process hit the limit."""
        return self._limit is not None and self._marker.exists()

    def free(self) -> None:
        self._limit = None
        self._marker.unlink(missing_ok=True)

    def release(self) -> None:
        pass
