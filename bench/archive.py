"""Archive bytes per million quotes (Parquet against JSON lines) and the local rollup over 1,000,000
bars with its peak memory: the analytics engineer's ``bench.rollup_bench.bench_rollup``, repeated."""

from __future__ import annotations

import statistics
from typing import Any


def bench_archive(n_bars: int = 1_000_000, repeats: int = 3, baseline: bool = True) -> dict[str, Any]:
    from bench.rollup_bench import BASELINE_REVISION, bench_rollup

    # The earlier revision runs beside today's once, in the first repeat (interleaved on that repeat's archive).
    runs = [bench_rollup(n_bars, baseline=BASELINE_REVISION if baseline and index == 0 else None)
            for index in range(repeats)]
    first = runs[0]
    return {
        "n_bars": n_bars,
        "repeats": repeats,
        "bytes_per_million_quotes": first["bytes_per_million_quotes"],  # deterministic (seeded data)
        "archive_objects": first["archive_objects"],
        "rollup_full_seconds": round(statistics.median(r["rollup_full_seconds"] for r in runs), 2),
        "rollup_full_cpu_seconds": round(statistics.median(r["rollup_full_cpu_seconds"] for r in runs), 2),
        "rollup_full_peak_rss_mib": round(statistics.median(r["rollup_full_peak_rss_mib"] for r in runs), 1),
        "rollup_incremental_one_new_day_seconds": round(
            statistics.median(r["rollup_incremental_one_new_day_seconds"] for r in runs), 2
        ),
        "rollup_incremental_one_new_day_cpu_seconds": round(
            statistics.median(r["rollup_incremental_one_new_day_cpu_seconds"] for r in runs), 2
        ),
        "rollup_incremental_one_new_day_process_seconds": round(
            statistics.median(r["rollup_incremental_one_new_day_process_seconds"] for r in runs), 2
        ),
        "floor_scan_cpu_seconds": round(statistics.median(r["floor_scan_cpu_seconds"] for r in runs), 2),
        "floor_statements_cpu_seconds": round(statistics.median(r["floor_statements_cpu_seconds"] for r in runs), 2),
        "load_average": [r["load_average"] for r in runs],
        "rollup_rerun_no_new_data_seconds": round(
            statistics.median(r["rollup_rerun_no_new_data_seconds"] for r in runs), 2
        ),
        "rollup_full_rows_written": first["rollup_full_rows_written"],
        "against_baseline": first["against_baseline"],
    }
