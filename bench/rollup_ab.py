"""Old against new local rollup on one archive, run alternately in fresh processes (the load on a shared machine
changes by the minute, so only interleaved runs compare): ``python -m bench.rollup_ab REV ARCHIVE [RUNS]`` runs
``analytics/rollups.py`` as of git revision REV and as in the work tree, a full rebuild each, and prints the medians
(wall s, CPU s, peak RSS MiB from VmHWM) as JSON. ARCHIVE is a directory in the archive layout (its rollups are
rewritten)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_CHILD = """
import importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location("rollups_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module  # dataclasses look their module up
spec.loader.exec_module(module)
wall, cpu = time.perf_counter(), time.process_time()
module.run_rollups(sys.argv[2], full=True)
hwm = int(next(line for line in open("/proc/self/status") if line.startswith("VmHWM:")).split()[1]) / 1024
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "rss": hwm}))
"""


def compare(revision: str, archive: str, runs: int = 3) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "rollups_old.py"
        old.write_text(subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:analytics/rollups.py"],
                                      check=True, capture_output=True, text=True).stdout)
        versions = {revision: old, "work tree": ROOT / "analytics" / "rollups.py"}
        results: dict[str, list[dict[str, float]]] = {name: [] for name in versions}
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for _ in range(runs):
            for name, path in versions.items():
                done = subprocess.run([sys.executable, "-c", _CHILD, str(path), archive], check=True,
                                      capture_output=True, text=True, cwd=ROOT, env=env)
                results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {name: {key: round(statistics.median(r[key] for r in rows), 2) for key in ("wall", "cpu", "rss")}
            for name, rows in results.items()}


if __name__ == "__main__":
    print(json.dumps(compare(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 3)))
