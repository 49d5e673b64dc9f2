"""`cryptostream up` refuses in one line: a home another `up` holds, a journal that cannot be replayed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from local.home import HomeLock
from tests.local.journals import write_unreplayable_journal


def up(home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRYPTOSTREAM_HOME": str(home), "COLUMNS": "300"}
    code = "from cli.main import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, "up", "--every", "60"], env=env, capture_output=True, text=True, timeout=120
    )


def test_a_second_up_on_a_held_home_is_one_line_naming_the_pid(tmp_path):
    lock = HomeLock(tmp_path)
    lock.acquire()
    try:
        result = up(tmp_path)
    finally:
        lock.release()
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path} is in use by another `cryptostream up` (pid {os.getpid()}); "
        "stop it first or set CRYPTOSTREAM_HOME to another directory"
    ]


def test_a_journal_that_cannot_be_replayed_is_one_line_naming_the_record(tmp_path):
    write_unreplayable_journal(tmp_path, seq=3)
    result = up(tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: cannot resume the local stack in {tmp_path}: journal record #3 (PutItem, ")
    assert not (tmp_path / "stack.json").exists()
