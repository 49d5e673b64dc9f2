"""Analytics benchmark: local rollup over N intraday bars (time, peak memory) and archive bytes per million quotes,
Parquet against JSON lines. ``python -m bench.rollup_bench [n_bars]`` prints one JSON object."""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analytics.rendered import CACHE_ENV
from local.archive_writer import ARCHIVE_SCHEMA, write_parquet

BAR_SECONDS = 300
START = datetime(2025, 1, 1, tzinfo=UTC)
SYMBOLS = ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "DOT", "LTC", "LINK", "AVAX")


def synthetic_bars(n_bars: int, seed: int = 1, start: datetime = START) -> dict[str, pa.Table]:
    """``n_bars`` 5min bars spread over 10 pairs (a seeded random walk), one Arrow table per pair."""
    rng = np.random.default_rng(seed)
    per_pair = n_bars // len(SYMBOLS)
    tables = {}
    for index, symbol in enumerate(SYMBOLS):
        count = per_pair + (1 if index < n_bars % len(SYMBOLS) else 0)
        start_us = int(start.timestamp() * 1_000_000)
        ts = start_us + np.arange(count, dtype=np.int64) * BAR_SECONDS * 1_000_000
        close = np.round(100.0 * (index + 1) * np.exp(np.cumsum(rng.normal(0, 0.002, count))), 2)
        open_ = np.round(np.concatenate(([close[0]], close[:-1])), 2)
        high = np.round(np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.001, count))), 2)
        low = np.round(np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.001, count))), 2)
        volume = np.round(rng.uniform(0.1, 50.0, count), 4)
        tables[symbol] = pa.table({
            "v": pa.array(np.ones(count, dtype=np.int32)),
            "source": pa.array(["alphavantage"] * count),
            "interval": pa.array(["5min"] * count),
            "ts": pa.array(ts, type=ARCHIVE_SCHEMA.field("ts").type),
            "open": open_, "high": high, "low": low, "close": close, "volume": volume,
            "bid": pa.nulls(count, pa.float64()), "ask": pa.nulls(count, pa.float64()),
            "fetched_at": pa.array(ts + 360 * 1_000_000, type=ARCHIVE_SCHEMA.field("fetched_at").type),
        }, schema=ARCHIVE_SCHEMA)
    return tables


def write_archive(tables: dict[str, pa.Table], root: Path, compression: str = "snappy",
                  name: str = "part-0.parquet") -> tuple[int, int]:
    """One object per (pair, UTC day), as a compacted archive holds them; returns (objects, bytes)."""
    objects = size = 0
    for symbol, table in tables.items():
        days = pc.strftime(table["ts"], format="%Y-%m-%d").to_numpy(zero_copy_only=False)
        boundaries = np.flatnonzero(days[1:] != days[:-1]) + 1
        for begin, end in zip(np.concatenate(([0], boundaries)), np.concatenate((boundaries, [len(days)])),
                              strict=True):
            directory = root / "quotes" / f"symbol={symbol}" / "market=USD" / f"dt={days[begin]}"
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / name
            write_parquet(table.slice(begin, end - begin), str(path), compression=compression)
            objects += 1
            size += path.stat().st_size
    return objects, size


def json_lines_bytes(tables: dict[str, pa.Table]) -> tuple[int, int]:
    """Size of the same bars as stream records (the contract's JSON, decimal strings), raw and gzip'd."""
    raw = compressed = 0
    for symbol, table in tables.items():
        lines = []
        for row in table.to_pylist():
            lines.append(json.dumps({
                "v": 1, "source": row["source"], "symbol": symbol, "market": "USD", "interval": row["interval"],
                "ts": row["ts"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                **{k: repr(row[k]) for k in ("open", "high", "low", "close", "volume")},
                "fetched_at": row["fetched_at"].strftime("%Y-%m-%dT%H:%M:%SZ"),
            }, separators=(",", ":")))
        body = ("\n".join(lines) + "\n").encode()
        raw += len(body)
        compressed += len(gzip.compress(body, compresslevel=6))
    return raw, compressed


def _timed_rollup_in_child(archive: Path, full: bool, sql_cache: Path) -> dict[str, Any]:
    """Run one rollup in a fresh process so its peak RSS is its own (DuckDB's memory is not Python's): VmHWM, not
    ``ru_maxrss``, which Linux carries from the parent across fork and exec (this process holds the million bars and
    their JSON: the child reported 470-500 MiB, the parent's, against its own 330-345). ``sql_cache``
    is the run's own rendered-SQL cache: the first (full) run renders, the later ones read it, as a user's do."""
    code = (
        "import json, sys, time\n"
        "from analytics.rollups import run_rollups\n"
        "def vm_hwm_mib():\n"
        "    return int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1]) / 1024\n"
        "t, cpu = time.perf_counter(), time.process_time()\n"
        "reports = run_rollups(sys.argv[1], full=sys.argv[2] == 'full')\n"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'cpu_seconds': time.process_time() - cpu,\n"
        "  'peak_rss_mib': vm_hwm_mib(),\n"
        "  'partitions_rebuilt': [r.partitions_rebuilt for r in reports],\n"
        "  'rows_written': [r.rows_written for r in reports]}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), CACHE_ENV: str(sql_cache)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, str(archive), "full" if full else "incremental"],
                          capture_output=True, text=True, env=env)
    process_seconds = time.perf_counter() - started  # the whole command: interpreter start and imports too
    if done.returncode:
        raise RuntimeError(f"rollup child failed: {done.stderr.strip().splitlines()[-1:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "process_seconds": process_seconds}


_FLOOR_CODE = """
import json, sys, time
from analytics.engine import quotes_select
from analytics.location import resolve_archive
from analytics.rollups import ROLLUP_TABLES, _connect, _fresh_rows, _input_columns, _read_input, _rendered, \\
    list_archive_objects
location = resolve_archive(sys.argv[1])
objects = list_archive_objects(location)
sqls = [_rendered(table, "5min") for table in ROLLUP_TABLES]
columns = _input_columns(sqls)
con = _connect(location)
source = quotes_select(location, [location.uri(o.path) for o in objects], union_by_name=False)
touched = ", ".join(f'sum(hash("{name}"))' for name in columns)
cpu = time.process_time()
con.execute(f"SELECT {touched} FROM ({source})").fetchall()
scan = time.process_time() - cpu
_read_input(con, location, objects, columns)
cpu = time.process_time()
_fresh_rows(con, sqls, True)
print(json.dumps({"scan_cpu_seconds": scan, "statements_cpu_seconds": time.process_time() - cpu}))
"""


def _floor_in_child(archive: Path, sql_cache: Path) -> dict[str, float]:
    """What no layout of the rollup's own work can avoid, in CPU seconds: DuckDB reading the columns the statements
    use from every archive object (each value touched, nothing kept), and the two statements, run as one, on all the
    rows already in memory."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), CACHE_ENV: str(sql_cache)}
    done = subprocess.run([sys.executable, "-c", _FLOOR_CODE, str(archive)], capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"floor child failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# The rollups module as it was before the last change to its speed: run beside today's on the same archive, so the
# ratio comes from one run (a shared machine's speed moves by the hour: the same code took 2.59 s one day, 1.39 s
# the next).
BASELINE_REVISION = "de4e57c"


def bench_rollup(n_bars: int = 1_000_000, workdir: str | None = None,
                 baseline: str | None = None, baseline_runs: int = 3) -> dict[str, Any]:
    """Local rollup (rollup_1h + rollup_1d) over ``n_bars`` 5min bars, plus archive bytes per million quotes; with
    ``baseline`` (a git revision), also that revision's ``analytics/rollups.py`` against today's, interleaved on the
    same archive (``bench.rollup_ab``)."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        tables = synthetic_bars(n_bars)
        objects, parquet_bytes = write_archive(tables, root / "snappy")
        generate_seconds = time.perf_counter() - t0
        _, zstd_bytes = write_archive(tables, root / "zstd", compression="zstd")
        jsonl_bytes, jsonl_gzip_bytes = json_lines_bytes(tables)
        full = _timed_rollup_in_child(root / "snappy", full=True, sql_cache=root / "sql-cache")
        rerun = _timed_rollup_in_child(root / "snappy", full=False, sql_cache=root / "sql-cache")
        # One more UTC day for every pair, as new objects: the incremental run rebuilds just those partitions.
        last_bar = max(t["ts"][-1].as_py() for t in tables.values()).replace(tzinfo=UTC)  # naive UTC in the archive
        next_midnight = datetime.fromtimestamp((int(last_bar.timestamp()) // 86400 + 1) * 86400, UTC)
        write_archive(synthetic_bars(288 * len(SYMBOLS), seed=2, start=next_midnight), root / "snappy",
                      name="part-1.parquet")
        incremental = _timed_rollup_in_child(root / "snappy", full=False, sql_cache=root / "sql-cache")
        floor = _floor_in_child(root / "snappy", sql_cache=root / "sql-cache")
        against = None
        if baseline:
            from bench.rollup_ab import compare

            medians = compare(baseline, str(root / "snappy"), baseline_runs)
            against = {"revision": baseline, "runs": baseline_runs, "before": medians[baseline],
                       "now": medians["work tree"]}
        compacted = root / "compacted"
        compacted.mkdir()
        for symbol, table in tables.items():  # the same bars, one object per pair: what compaction would reach
            write_parquet(table, str(compacted / f"{symbol}.parquet"))
        compacted_bytes = sum(p.stat().st_size for p in compacted.iterdir())
    per_million = 1_000_000 / n_bars
    return {
        "n_bars": n_bars,
        "pairs": len(SYMBOLS),
        "archive_objects": objects,
        "generate_seconds": round(generate_seconds, 2),
        "rollup_full_seconds": round(full["seconds"], 2),
        "rollup_full_cpu_seconds": round(full["cpu_seconds"], 2),  # both threads: on a busy machine wall time lies
        "rollup_full_peak_rss_mib": round(full["peak_rss_mib"], 1),
        "rollup_full_rows_written": full["rows_written"],
        "rollup_rerun_no_new_data_seconds": round(rerun["seconds"], 2),
        "rollup_rerun_partitions_rebuilt": rerun["partitions_rebuilt"],
        "rollup_incremental_one_new_day_seconds": round(incremental["seconds"], 2),
        "rollup_incremental_one_new_day_cpu_seconds": round(incremental["cpu_seconds"], 2),
        "rollup_incremental_one_new_day_process_seconds": round(incremental["process_seconds"], 2),
        "rollup_incremental_partitions_rebuilt": incremental["partitions_rebuilt"],
        "floor_scan_cpu_seconds": round(floor["scan_cpu_seconds"], 2),
        "floor_statements_cpu_seconds": round(floor["statements_cpu_seconds"], 2),
        "bytes_per_million_quotes": {
            "parquet_snappy": round(parquet_bytes * per_million),
            "parquet_snappy_one_object_per_pair": round(compacted_bytes * per_million),
            "parquet_zstd": round(zstd_bytes * per_million),
            "json_lines": round(jsonl_bytes * per_million),
            "json_lines_gzip": round(jsonl_gzip_bytes * per_million),
        },
        "against_baseline": against,
        "load_average": round(os.getloadavg()[0], 1),  # at the end of the run: how shared the 2 cores were
        "bench_process_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


if __name__ == "__main__":
    print(json.dumps(bench_rollup(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000), indent=1))
