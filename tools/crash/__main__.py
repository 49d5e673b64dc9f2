"""``python -m tools.crash --kills 12 --disk-full 2``: the crash suite (``make crash-short``, part of ``make soak``).

Prints its figures, then at most one line naming the first violation, then as the last line
``crash: N kills, F disk-full, L lost, D duplicated in DynamoDB, watermarks never moved back``;
exits 1 on any violation, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console

from tools.crash.process import UpOptions
from tools.crash.run import DISKS, CrashConfig, CrashReport, CrashSuite

_ALSO = 8  # further problems listed before the violation line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.crash", description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=12, help="sessions ended by SIGKILL (default 12)")
    parser.add_argument("--disk-full", type=int, default=1, help="sessions whose disk fills up (default 1)")
    parser.add_argument(
        "--disk",
        choices=DISKS,
        default="auto",
        help="how the disk fills: a small tmpfs (needs root), RLIMIT_FSIZE, or auto (tmpfs where it mounts)",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the market, the kill moments and points")
    parser.add_argument("--bars-per-second", type=float, default=6.0, help="market bars per wall second (6)")
    parser.add_argument(
        "--lease-seconds",
        type=int,
        default=None,
        help="PRODUCER_LEASE_SECONDS for up (default: the producer's own, 900 s)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser


def _figures(report: CrashReport) -> dict[str, object]:
    tally, verdict = report.tally, report.verdict
    return {
        "kills": tally.kill_count,
        "kills_by_point": dict(sorted(tally.kills.items())),
        "points_missed": tally.points_missed,
        "disk_full": tally.disk_full,
        "disk": report.disk or "(none)",
        "sessions": report.sessions,
        "restarts": tally.restarts,
        "bars_served": verdict.quotes,
        "archive_objects": verdict.archive_objects,
        "watermark_samples": report.watermarks.samples,
        "start_seconds_median": report.start_seconds_median,
        "start_seconds_max": report.start_seconds_max,
        "final_converge_seconds": report.converge_seconds,
        "wall_seconds": report.wall_seconds,
        **({"logs": report.logs} if report.logs else {}),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    options = UpOptions(seed=args.seed, lease_seconds=args.lease_seconds)
    config = CrashConfig(
        kills=args.kills,
        disk_full=args.disk_full,
        disk=args.disk,
        seed=args.seed,
        bars_per_second=args.bars_per_second,
        up=options,
    )
    try:
        config.validate()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    console = Console(width=None if sys.stdout.isatty() else 110)
    with console.status("crash suite") as status:
        report = CrashSuite(config, progress=lambda text: status.update(f"crash suite: {text}")).run()
    figures = _figures(report)
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            console.print(f"  {name.replace('_', ' ')}: {value}", highlight=False)
    violation = report.violation
    if violation:
        others = [problem for problem in report.problems() if problem != violation]
        for problem in others[:_ALSO]:
            console.print(f"  also: {problem}", highlight=False, soft_wrap=True)
        if len(others) > _ALSO:
            console.print(f"  and {len(others) - _ALSO} more (logs: {report.logs})", highlight=False)
        print(f"violation: {violation}", flush=True)
    print(report.summary_line(), flush=True)
    return 1 if violation else 0


if __name__ == "__main__":
    raise SystemExit(main())
