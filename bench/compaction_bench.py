"""Archive compaction on the layout Firehose leaves in steady state: one object per pair every buffer interval
(900 s: 96 a pair a day, three 5-minute bars each). Measures, on one archive in one run, a full rollup and a raw
query (vwap_1d) before and after ``cryptostream compact``, and the compaction itself. Each timing is the median of
``repeats`` runs in this process (warm caches, as a user's second query). ``python -m bench compaction``."""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bench.rollup_bench import SYMBOLS, synthetic_bars, write_archive

OBJECTS_PER_DAY = 96  # Firehose's 900 s buffer (cdk.json firehose_buffer_seconds)
BARS_PER_DAY = 288


def _timed(action: Any, repeats: int) -> dict[str, float]:
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {"seconds": round(statistics.median(walls), 3), "cpu_seconds": round(statistics.median(cpus), 3)}


def _objects(root: Path) -> tuple[int, int]:
    files = list((root / "quotes").rglob("*.parquet"))
    return len(files), sum(p.stat().st_size for p in files)


def bench_compaction(days: int = 10, repeats: int = 3, workdir: str | None = None) -> dict[str, Any]:
    from analytics import run_query
    from analytics.compaction import compact
    from analytics.rollups import run_rollups

    n_bars = days * BARS_PER_DAY * len(SYMBOLS)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        root = Path(tmp) / "archive"
        tables = synthetic_bars(n_bars)
        per_object = BARS_PER_DAY // OBJECTS_PER_DAY
        # Bars start at midnight, one every 5 minutes: bar i is the (i % 288)-th of its day, in flush (i % 288) // 3.
        flushes = {symbol: (np.arange(table.num_rows) % BARS_PER_DAY) // per_object for symbol, table in tables.items()}
        for flush in range(OBJECTS_PER_DAY):  # each buffer flush writes one object per pair and day
            sliced = {symbol: table.filter(flushes[symbol] == flush) for symbol, table in tables.items()}
            write_archive(sliced, root, name=f"cryptostream-archive-{flush:03d}.parquet")
        objects_before, bytes_before = _objects(root)
        rollup_before = _timed(lambda: run_rollups(str(root), full=True), repeats)
        query_before = _timed(lambda: run_query("vwap_1d", {}, str(root)), repeats)
        wall, cpu = time.perf_counter(), time.process_time()
        report = compact(str(root), before=date(9999, 12, 31))
        compaction = {"seconds": round(time.perf_counter() - wall, 3),
                      "cpu_seconds": round(time.process_time() - cpu, 3)}
        objects_after, bytes_after = _objects(root)
        rollup_after = _timed(lambda: run_rollups(str(root), full=True), repeats)
        query_after = _timed(lambda: run_query("vwap_1d", {}, str(root)), repeats)
    return {
        "n_bars": n_bars, "pairs": len(SYMBOLS), "days": days, "objects_per_pair_day": OBJECTS_PER_DAY,
        "repeats": repeats,
        "objects_before": objects_before, "objects_after": objects_after,
        "bytes_before": bytes_before, "bytes_after": bytes_after,
        "rows_compacted": report.rows, "partitions_compacted": report.partitions,
        "compaction": compaction,
        "rollup_full_before": rollup_before, "rollup_full_after": rollup_after,
        "vwap_1d_before": query_before, "vwap_1d_after": query_after,
        "rollup_speedup": round(rollup_before["seconds"] / rollup_after["seconds"], 1),
        "query_speedup": round(query_before["seconds"] / query_after["seconds"], 1),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(bench_compaction(), indent=1))


def render(r: dict[str, Any]) -> str:
    """The docs/benchmarks.md section."""
    from bench.markdown import PY, _table

    def pair(key: str) -> tuple[str, str]:
        return f"{r[key]['seconds']} s", f"{r[key]['cpu_seconds']} s"

    return "\n\n".join([
        "## Archive compaction",
        f"Command: `{PY} -m bench compaction` (`bench/compaction_bench.py`). {r['n_bars']:,} 5-minute bars, "
        f"{r['pairs']} pairs, {r['days']} days, written as Firehose leaves them in steady state: one object per pair "
        f"every 900 s buffer ({r['objects_per_pair_day']} a pair a day). Then `cryptostream compact` "
        "(`analytics/compaction.py`) on the same archive; each timing the median of "
        f"{r['repeats']} runs in one process.",
        _table(("", "before compaction", "after", "ratio"), [
            ("objects", f"{r['objects_before']:,}", f"{r['objects_after']:,}",
             f"{r['objects_before'] / max(r['objects_after'], 1):.0f}x fewer"),
            ("bytes", f"{r['bytes_before']:,}", f"{r['bytes_after']:,}",
             f"{r['bytes_before'] / max(r['bytes_after'], 1):.1f}x smaller"),
            ("full rollup (rollup_1h + rollup_1d), wall / CPU", " / ".join(pair("rollup_full_before")),
             " / ".join(pair("rollup_full_after")), f"{r['rollup_speedup']}x faster"),
            ("named query `vwap_1d` over the whole archive, wall / CPU", " / ".join(pair("vwap_1d_before")),
             " / ".join(pair("vwap_1d_after")), f"{r['query_speedup']}x faster"),
        ]),
        f"The compaction itself: {r['partitions_compacted']} partitions, {r['rows_compacted']:,} rows (all kept), "
        f"{r['compaction']['seconds']} s wall, {r['compaction']['cpu_seconds']} CPU-s. In S3 the same holds for "
        "Athena: a query pays a GET per object it reads, so a raw query over a compacted month reads "
        f"{r['objects_per_pair_day']}x fewer objects.",
    ])
