"""``python -m tools.soak --quotes 100000``: the fault-injection soak (``make soak``).

Prints its figures, then as the last line ``soak: N quotes, L lost, D duplicated, Q quarantined,
F faults injected``; exits 1 when anything was lost, duplicated or wrong, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from tools.soak.faults import FaultRates
from tools.soak.run import MAX_PAIRS, SoakConfig, run_soak


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--quotes", type=int, default=100_000, help="distinct valid quotes to stream (default 100000)")
    parser.add_argument("--pairs", type=int, default=20, help=f"pairs (1-{MAX_PAIRS}, default 20)")
    parser.add_argument("--interval", default="1min", help="intraday bar interval (default 1min)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the market and of the fault dice")
    parser.add_argument("--no-faults", action="store_true", help="the same run without injected faults (a baseline)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON before the last line")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 110)
    config = SoakConfig(
        quotes=args.quotes,
        pairs=args.pairs,
        interval=args.interval,
        seed=args.seed,
        rates=FaultRates.none() if args.no_faults else FaultRates(),
    )
    try:
        config.validate()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with console.status("soaking") as status:
        report = run_soak(config, progress=lambda done, total: status.update(f"soaking: producer run {done}/{total}"))
    if args.json:
        print(report.as_json())
    else:
        from tools.soak.render import render

        render(report, console)
    print(report.summary_line(), flush=True)
    return 0 if report.verdict.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
