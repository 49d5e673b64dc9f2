"""``python -m bench [SECTION ...]``: run the benchmarks; with no section, run all and rewrite
docs/benchmarks.md. Sections: consumer, moto, imports, requests, freshness, archive, compaction, soak, journal."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.machine import this_machine

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"


def _soak(quotes: int) -> dict[str, Any]:
    from tools.soak import SoakConfig, run_soak

    report = run_soak(SoakConfig(quotes=quotes))
    return {**json.loads(report.as_json()), "summary_line": report.summary_line()}


def sections(quick: bool, soak_quotes: int) -> dict[str, Callable[[], Any]]:
    from bench import consumer_vs_naive
    from bench.archive import bench_archive
    from bench.compaction_bench import bench_compaction
    from bench.freshness import bench_freshness
    from bench.imports import bench_imports
    from bench.journal_startup import bench_journal
    from bench.requests_per_quote import bench_requests

    if quick:  # a smoke run of every section: seconds, not minutes (figures not worth publishing)
        return {
            "consumer": lambda: consumer_vs_naive.stubbed(batches=2, repeats=1),
            "moto": lambda: consumer_vs_naive.against_moto(batches=1, batch_size=100, repeats=1),
            "imports": lambda: bench_imports(repeats=1),
            "requests": lambda: bench_requests(backfill_hours=1, schedule_runs=2),
            "freshness": lambda: bench_freshness((1, 10), {1: 1, 10: 1}),
            "archive": lambda: bench_archive(n_bars=20_000, repeats=1, baseline=False),
            "compaction": lambda: bench_compaction(days=1, repeats=1),
            "soak": lambda: _soak(500),
            "journal": lambda: bench_journal(records=(200,), fsync_requests=20),
        }
    return {
        "consumer": consumer_vs_naive.stubbed,
        "moto": consumer_vs_naive.against_moto,
        "imports": bench_imports,
        "requests": bench_requests,
        "freshness": bench_freshness,
        "archive": bench_archive,
        "compaction": bench_compaction,
        "soak": lambda: _soak(soak_quotes),
        "journal": bench_journal,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", help="run only these (prints JSON; the doc is left alone)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the suite runs, nothing more")
    parser.add_argument("--soak-quotes", type=int, default=10_000, help="quotes for the soak section")
    parser.add_argument("--doc", type=Path, default=DOC, help="where the full run writes its Markdown")
    args = parser.parse_args(argv)
    available = sections(args.quick, args.soak_quotes)
    unknown = [name for name in args.sections if name not in available]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(available)}")
    machine = this_machine()
    print(f"machine: {machine.describe()}", file=sys.stderr)
    results: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for name in args.sections or list(available):
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        results[name] = available[name]()
        seconds[name] = round(time.perf_counter() - started, 1)
        print(f"bench: {name} done in {seconds[name]} s", file=sys.stderr, flush=True)
    print(json.dumps({"machine": machine.__dict__, "seconds": seconds, "results": results}, default=str))
    if not args.sections:
        from bench.markdown import render

        command = " ".join([".venv/bin/python -m bench", *(argv if argv is not None else sys.argv[1:])])
        text = render(machine, results, seconds, quick=args.quick, soak_quotes=args.soak_quotes, command=command)
        args.doc.write_text(text)
        print(f"wrote {args.doc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
