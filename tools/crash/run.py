"""The crash suite's scenario: ``cryptostream up`` killed, starved of disk and restarted, then accounted for.

One home directory for the whole run. Each session starts ``up`` (a real subprocess, the market simulator
inside it, its clock frozen where the last session left it) and ends one way:

- ``random``: SIGKILL after a random while;
- ``point``: armed with ``CRYPTOSTREAM_CRASH_AT`` (``local.crash_points``), it SIGKILLs itself at a chosen
  request boundary: a PutRecords journaled but not answered, a BatchWriteItem chunk of a batch, LATEST's
  transaction, a watermark's UpdateItem, the run lease taken or given back, an archive object, a checkpoint
  file written but not renamed;
- ``disk-full``: the disk fills up under it (``tools.crash.disk``), then it is stopped (SIGTERM and SIGKILL
  in turn) and the space given back.

While a session runs, the suite moves the market's clock on (so the producer always has new bars; never
more than ``MAX_GAP_BARS`` ahead of the oldest watermark, the reach of one full answer) and samples the
watermarks; it samples them again right before each kill and right after each restart. A last session
runs clean until every bar up to the final clock is in, and ``tools.soak.verify`` accounts for them
against the simulator's ground truth (``tools.crash.accounting``). Then ``up`` must stop cleanly on
SIGTERM and start once more with the same watermarks.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptostream_config.local import load_local_settings
from cryptostream_model.intervals import interval_seconds
from cryptostream_model.serving import get_latest
from tools.crash.accounting import (
    Tally,
    WatermarkSamples,
    first_violation,
    ground_truth_ledger,
    newest_closed,
    summary_line,
)
from tools.crash.disk import FileSizeLimit, TmpfsDisk
from tools.crash.process import LOCAL_CREDENTIALS, UpFailed, UpOptions, UpProcess
from tools.soak.ledger import Ledger
from tools.soak.verify import Verdict, check_archive, verify

# Where a session may be made to kill itself, and how many arrivals it may take at most.
POINTS: dict[str, int] = {
    "PutRecords": 3,  # the producer's batch journaled, its response never sent: published or not?
    "BatchWriteItem": 4,  # a chunk of 25 bars of a consumer batch: the batch half written
    "TransactWriteItems": 2,  # LATEST moved, the checkpoint not
    "UpdateItem": 3,  # a watermark advanced, the producer never told
    "PutItem": 2,  # the run lease taken, never given back
    "DeleteItem": 2,  # the lease given back
    "archive": 2,  # an archive object written, the archiver's checkpoint not
    "checkpoint": 4,  # a reader checkpoint in its temporary file, not renamed
}
MAX_GAP_BARS = 1200  # the clock stays within one full answer (2,000 bars) of the oldest watermark
START_BARS_AGO = 4 * 1440  # the market starts days behind the wall clock: every bar served is closed
TICK = 0.25
DISKS = ("auto", "tmpfs", "rlimit")


@dataclass(frozen=True)
class CrashConfig:
    kills: int = 10
    disk_full: int = 1
    seed: int = 7
    bars_per_second: float = 6.0  # market time per wall second, in bars
    up: UpOptions = field(default_factory=UpOptions)
    disk: str = "auto"  # "tmpfs", "rlimit", or "auto": a tmpfs where it can be mounted, else the file-size limit
    tmpfs_mib: int = 256
    disk_slack: int = 64 * 1024  # room left on the disk: startup fits, a few seconds of journal do not
    start_timeout: float = 120.0
    converge_timeout: float = 180.0

    def validate(self) -> None:
        if self.kills < 1:
            raise ValueError(f"kills must be at least 1, got {self.kills}")
        if self.disk_full < 0:
            raise ValueError(f"disk-full must be 0 or more, got {self.disk_full}")
        if self.disk not in DISKS:
            raise ValueError(f"disk must be one of {', '.join(DISKS)}, got {self.disk!r}")
        if not 0 < self.bars_per_second <= 40:
            raise ValueError(f"bars per second must be in (0, 40], got {self.bars_per_second}")


@dataclass
class CrashReport:
    tally: Tally
    verdict: Verdict
    watermarks: WatermarkSamples
    sessions: int = 0
    disk: str = ""
    bars: int = 0
    wall_seconds: float = 0.0
    start_seconds_median: float = 0.0
    start_seconds_max: float = 0.0
    converge_seconds: float = 0.0
    logs: str = ""

    @property
    def violation(self) -> str | None:
        return first_violation(self.tally, self.verdict, self.watermarks)

    def problems(self) -> list[str]:
        moved = [f"watermark moved back: {line}" for line in self.watermarks.regressions]
        return self.tally.violations + moved + self.verdict.problems

    def summary_line(self) -> str:
        return summary_line(self.tally, self.verdict, self.watermarks)


@dataclass(frozen=True)
class Session:
    kind: str  # "random", "point" or "disk-full"
    crash_at: str | None = None


def plan_sessions(config: CrashConfig, rng: random.Random) -> list[Session]:
    """``kills`` killing sessions (two in three at a chosen point, every point in turn), with the disk-full
    sessions spread among them (never first: the first session sets the first watermarks)."""
    points = list(POINTS)
    rng.shuffle(points)
    sessions: list[Session] = []
    for n in range(config.kills):
        if n % 3:  # two in three at a chosen point, each point in turn; the first session is random
            point = points[(n - 1 - n // 3) % len(points)]
            sessions.append(Session("point", f"{point}:{rng.randint(1, POINTS[point])}"))
        else:
            sessions.append(Session("random"))
    for n in range(config.disk_full):
        sessions.insert(1 + (n + 1) * len(sessions) // (config.disk_full + 1), Session("disk-full"))
    return sessions


class CrashSuite:
    def __init__(self, config: CrashConfig, progress: Callable[[str], None] | None = None) -> None:
        config.validate()
        os.environ.update(LOCAL_CREDENTIALS)
        self.config = config
        self.progress = progress or (lambda _: None)
        self.rng = random.Random(config.seed)
        self.pairs = list(load_local_settings().pairs)
        self.step = interval_seconds(config.up.interval)
        self.tally = Tally()
        self.watermarks = WatermarkSamples()
        now = time.time()
        # mid-bar, days back: the first run's compact answer is fixed by this clock alone
        self.first_clock = (int(now // self.step) - START_BARS_AGO) * self.step + self.step / 2
        self.clock = self.first_clock
        self.logs = Path(tempfile.mkdtemp(prefix="cryptostream-crash-"))
        self.disk: TmpfsDisk | FileSizeLimit | None = None
        self.home = self.logs / "home"
        self.sessions = 0
        self.start_seconds: list[float] = []  # from exec to ready, each start
        self.converge_seconds = 0.0

    # the whole run ---------------------------------------------------------------------------------------
    def run(self) -> CrashReport:
        started = time.monotonic()
        verdict = Verdict()
        try:
            if self.config.disk_full:
                self.disk = self._disk()
                self.home = self.disk.home
            self.home.mkdir(parents=True, exist_ok=True)
            plans = plan_sessions(self.config, self.rng)
            for number, plan in enumerate(plans):
                self.progress(f"session {number + 1}/{len(plans) + 1}: {plan.crash_at or plan.kind}")
                if not self._session(number, plan):
                    break
            else:
                self.progress(f"session {len(plans) + 1}/{len(plans) + 1}: final, until every bar is in")
                verdict = self._final(len(plans))
        except UpFailed as exc:
            self.tally.violations.append(str(exc))
        finally:
            if self.disk is not None:
                self.disk.free()
                self.disk.release()
        report = CrashReport(
            self.tally,
            verdict,
            self.watermarks,
            sessions=self.sessions,
            disk=self.disk.kind if self.disk else "",
            bars=verdict.quotes,
            wall_seconds=round(time.monotonic() - started, 1),
            start_seconds_median=round(statistics.median(self.start_seconds), 1) if self.start_seconds else 0.0,
            start_seconds_max=round(max(self.start_seconds, default=0.0), 1),
            converge_seconds=self.converge_seconds,
            logs=str(self.logs),
        )
        if report.violation is None:
            shutil.rmtree(self.logs, ignore_errors=True)
            report.logs = ""
        return report

    def _disk(self) -> TmpfsDisk | FileSizeLimit:
        if self.config.disk != "rlimit":
            tmpfs = TmpfsDisk.try_mount(self.logs / "disk", self.config.tmpfs_mib)
            if tmpfs is not None:
                return tmpfs
            if self.config.disk == "tmpfs":
                raise UpFailed("cannot mount a tmpfs here (root and CAP_SYS_ADMIN needed); use --disk rlimit")
        return FileSizeLimit(self.home)

    # one session -----------------------------------------------------------------------------------------
    def _start(self, number: int, plan: Session) -> UpProcess | None:
        """Start ``up``; None when it died before it was ready (then accounted for here)."""
        disk = self.disk
        if plan.kind == "disk-full":
            assert disk is not None
            disk.fill(self.config.disk_slack)
        self.sessions += 1
        up = UpProcess(
            self.home,
            self.logs,
            self.config.up,
            clock=self.clock,
            crash_at=plan.crash_at,
            preexec=disk.preexec() if disk else None,
            launcher=disk.launcher() if disk else None,
            name=f"{number:03d}-{(plan.crash_at or plan.kind).replace(':', '-')}",
        )
        if up.wait_ready(self.config.start_timeout):
            self.start_seconds.append(time.monotonic() - up.started)
            if number:
                self.tally.restarts += 1
            self._sample(up, f"restart {number}")
            return up
        if plan.crash_at and up.killed_itself():
            self.tally.kills[plan.crash_at.split(":")[0]] += 1
            return None
        if plan.kind == "disk-full" and disk is not None and disk.full():
            self.tally.disk_full += 1  # refused to start on a full disk: fair, if it said so
            disk.free()
            return None
        raise UpFailed(f"session {number}: up exited before it was ready ({up.last_words()})")

    def _session(self, number: int, plan: Session) -> bool:
        up = self._start(number, plan)
        if up is None:
            return True
        if number == 0:
            self._warm_up(up)
        if plan.kind == "random":
            if not self._drive(up, self.rng.uniform(0.3, 5.0)):
                return self._died(number, up)
            self._kill(up, "random")
        elif plan.kind == "point":
            assert plan.crash_at is not None
            if self._drive(up, 20.0):
                self._kill(up, "random")
                self.tally.points_missed += 1
            elif up.killed_itself():
                self.tally.kills[plan.crash_at.split(":")[0]] += 1
            else:
                return self._died(number, up)
        else:
            self._fill_disk(number, up)
        return True

    def _warm_up(self, up: UpProcess) -> None:
        """No kill before every pair has a watermark: the first run's compact answer is then the first bars."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and up.alive:
            marks = up.watermarks(self.pairs)
            if marks is not None and len(marks) == len(self.pairs):
                return
            time.sleep(TICK)
        raise UpFailed(
            f"the first producer run set no watermark in 60 s ({up.last_words()}; last read: {up.last_error or 'ok'})"
        )

    def _drive(self, up: UpProcess, seconds: float, until: Callable[[], bool] | None = None) -> bool:
        """Move the clock on and sample watermarks for ``seconds``; True if still running (and not ``until``)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and up.alive:
            if until is not None and until():
                return True
            marks = self._sample(up, f"session {self.sessions}")
            if marks and len(marks) == len(self.pairs):
                oldest = min(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() for ts in marks.values())
                target = self.clock + self.config.bars_per_second * self.step * TICK
                self.clock = max(self.clock, min(target, oldest + MAX_GAP_BARS * self.step))
                up.set_clock(self.clock)  # may die under it: the clock only ever moves on from this value
            time.sleep(TICK)
        return up.alive

    def _sample(self, up: UpProcess, moment: str) -> dict[str, str] | None:
        marks = up.watermarks(self.pairs)
        if marks is not None and up.alive:
            self.watermarks.observe(marks, moment)
        return marks

    def _kill(self, up: UpProcess, where: str) -> None:
        self._sample(up, f"before kill {self.tally.kill_count + 1}")
        up.kill()
        self.tally.kills[where] += 1

    def _died(self, number: int, up: UpProcess) -> bool:
        self.tally.violations.append(f"session {number}: up exited on its own ({up.last_words()})")
        return False

    def _fill_disk(self, number: int, up: UpProcess) -> None:
        disk = self.disk
        assert disk is not None
        self._drive(up, 30.0, until=disk.full)
        if disk.full():
            self.tally.disk_full += 1
            self._drive(up, 1.5)  # what the stack does on a full disk: retry, fail, exit
        else:
            self.tally.violations.append(f"session {number}: the disk never filled in 30 s ({disk.kind})")
        if up.alive and self.tally.disk_full % 2:
            self._sample(up, "before stop on a full disk")
            up.stop(timeout=15)
        if up.alive:
            self._kill(up, "random")
        disk.free()

    # the last session --------------------------------------------------------------------------------------
    def _final(self, number: int) -> Verdict:
        """Run clean until every bar is in; stop with SIGTERM; start again and account for everything."""
        last = newest_closed(self.clock, self.step)
        target = datetime.fromtimestamp(last * self.step, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        ledger = ground_truth_ledger(
            self.config.up.seed, self.pairs, self.config.up.interval, self.first_clock, self.clock
        )
        expected = {pair: sum(1 for key in ledger.expected if key[0] == pair) for pair in self.pairs}
        up = self._start(number, Session("final"))
        assert up is not None
        try:
            started = time.monotonic()
            if not self._converge(up, target, expected, ledger):
                self.tally.violations.append(
                    f"the final session did not bring every bar in within {self.config.converge_timeout:g} s "
                    f"(watermarks {up.watermarks(self.pairs)}, target {target})"
                )
            self.converge_seconds = round(time.monotonic() - started, 1)
            if up.stop() != 0:
                self.tally.violations.append(f"up did not stop cleanly on SIGTERM ({up.last_words()})")
        finally:
            up.kill()
        # the accounting is of what a clean restart brings back, not of what was in memory before it
        again = self._start(number + 1, Session("final"))
        assert again is not None
        try:
            after = again.watermarks(self.pairs)
            if after != {pair: target for pair in self.pairs}:
                self.tally.violations.append(f"after a clean restart the watermarks are {after}, not {target}")
            verdict = verify(again.view, ledger, self.pairs)
            if again.stop() != 0:
                self.tally.violations.append(f"up did not stop cleanly on SIGTERM ({again.last_words()})")
            return verdict
        finally:
            again.kill()

    def _converge(self, up: UpProcess, target: str, expected: dict[str, int], ledger: Ledger) -> bool:
        """Wait until every watermark and LATEST is the last bar, every bar is in the table and the archive."""
        deadline = time.monotonic() + self.config.converge_timeout
        while time.monotonic() < deadline and up.alive:
            marks = self._sample(up, "final session")
            if marks == {pair: target for pair in self.pairs} and self._table_complete(up, target, expected):
                scratch = Verdict()
                check_archive(up.view, ledger, scratch)
                if not scratch.missing_in_archive:
                    return True
            time.sleep(1.0)
        return False

    def _table_complete(self, up: UpProcess, target: str, expected: dict[str, int]) -> bool:
        from cryptostream_model.keys import table_pk

        dynamodb, table = up.view.clients.dynamodb, up.view.config.table_name
        for pair in self.pairs:
            latest = get_latest(dynamodb, table, pair, self.config.up.interval, consistent=True)
            if latest is None or latest["ts"] != target:
                return False
            request: dict[str, Any] = {
                "TableName": table,
                "KeyConditionExpression": "pk = :pk AND sk < :letters",
                "ExpressionAttributeValues": {
                    ":pk": {"S": table_pk(pair, self.config.up.interval)},
                    ":letters": {"S": "A"},
                },
                "Select": "COUNT",
                "ConsistentRead": True,
            }
            count = 0
            while True:
                page = dynamodb.query(**request)
                count += page["Count"]
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            if count < expected[pair]:
                return False
        return True
