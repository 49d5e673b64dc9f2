"""A disk that fills up under ``cryptostream up``: a small tmpfs where root can mount one, else a file-size limit.

``TmpfsDisk``: the home directory lives on its own tmpfs; ``fill`` writes a filler file that leaves
``slack`` bytes, so the stack's next writes fail with ENOSPC (a partial write first, as on a real disk);
``free`` deletes it. ``FileSizeLimit`` (no root, or mount refused): the next ``up`` starts with
RLIMIT_FSIZE just above its largest file, so that file's next writes stop short with EFBIG -- the same
torn write at the same place, from the kernel, with no hook in the code under test.
"""

from __future__ import annotations

import os
import resource
import subprocess
from collections.abc import Callable
from pathlib import Path

FILLER = "filler.bin"


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
        return os.statvfs(self.mount_point).f_bavail == 0

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)

    def release(self) -> None:
        subprocess.run(["umount", "-l", str(self.mount_point)], capture_output=True)


class FileSizeLimit:
    kind = "file-size limit"

    def __init__(self, home: Path) -> None:
        self.home = home
        self._limit: int | None = None

    def preexec(self) -> Callable[[], None] | None:
        limit = self._limit
        if limit is None:
            return None
        return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    def fill(self, slack: int) -> None:
        """Takes effect at the next start: its largest file may grow by ``slack`` bytes only."""
        largest = max((path.stat().st_size for path in self.home.rglob("*") if path.is_file()), default=0)
        self._limit = largest + slack

    def full(self) -> bool:
        limit = self._limit
        return limit is not None and any(
            path.is_file() and path.stat().st_size >= limit for path in self.home.rglob("*")
        )

    def free(self) -> None:
        self._limit = None

    def release(self) -> None:
        pass
