"""Compaction against the deployed archive: ``cryptostream compact``'s code run on the emulator's bucket (through its
S3 API, TLS with the emulator's certificate, KMS-encrypted bucket, versioning on), as an operator would from a
workstation. Every partition must end with one object holding the same rows, and the rollups state machine, run
again, must recompute the compacted days (their new objects reach it through the change log) and write nothing:
the month objects it would write are the bytes already there.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock

from analytics.compaction import compact
from cryptostream_model.archive import ARCHIVE_PREFIX
from cryptostream_model.rollups import ROLLUP_TABLES, ROLLUPS_PREFIX
from tools.deployed.hops import read_archive
from tools.deployed.rollups import _keys, cloud_rows, compare, download_archive, local_rows, object_versions, queued
from tools.deployed.scenario import wait_for
from tools.deployed.workflows import execute

EVERY_DAY = date(9999, 12, 31)  # the proof's archive is hours old: compact every day (the schedules are paused)


@dataclass
class CompactionProof:
    objects_before: int = 0
    objects_after: int = 0
    partitions: int = 0
    rows: int = 0
    recomputed: int = 0  # partitions the rollups execution after compaction recomputed
    rollup_writes: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        return (f"compaction: {self.objects_before} archive objects into {self.objects_after} ({self.partitions} "
                f"partitions, {self.rows} rows); the rollups then recomputed {self.recomputed} partitions and wrote "
                f"{self.rollup_writes} month objects")  # fmt: skip


def _partitions(keys: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in keys:
        counts[key.rsplit("/", 1)[0]] = counts.get(key.rsplit("/", 1)[0], 0) + 1
    return counts


def prove_compaction(stepfunctions: Any, s3: Any, sqs: Any, arn: str, bucket: str, queue_url: str, *,
                     environment: dict[str, str], source_interval: str) -> CompactionProof:
    proof = CompactionProof()
    before = [k for k in _keys(s3, bucket, ARCHIVE_PREFIX) if not k.endswith("/")]
    proof.objects_before = len(before)
    crowded = sum(1 for count in _partitions(before).values() if count > 1)
    if not crowded:
        proof.differences.append("no archive partition holds two objects: nothing for compaction to prove")
        return proof
    rows_before = read_archive(s3, bucket, ARCHIVE_PREFIX).rows  # every row per bar: none lost, none doubled
    rollups_before = {table: cloud_rows(s3, bucket, table) for table in ROLLUP_TABLES}
    credentials = {name: environment[name] for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
                                                        "AWS_CA_BUNDLE")}  # fmt: skip
    with mock.patch.dict(os.environ, credentials):
        report = compact(f"s3://{bucket}", endpoint=environment["AWS_ENDPOINT_URL"], before=EVERY_DAY)
    proof.partitions, proof.rows = report.partitions, report.rows
    after = [k for k in _keys(s3, bucket, ARCHIVE_PREFIX) if not k.endswith("/")]
    proof.objects_after = len(after)
    if read_archive(s3, bucket, ARCHIVE_PREFIX).rows != rows_before:
        proof.differences.append("the archive's rows per bar differ after compaction (a row lost or doubled)")
    if report.refused:
        proof.differences.append(f"compaction refused: {report.refused[0]}")
    if report.partitions != crowded or any(count != 1 for count in _partitions(after).values()):
        proof.differences.append(f"compaction left {_partitions(after)} objects per partition "
                                 f"(compacted {report.partitions} of {crowded} partitions with several)")  # fmt: skip
    def month_versions() -> set[tuple[str, str]]:  # not the watermarks and the change log's pending file
        return {v for v in object_versions(s3, bucket, ROLLUPS_PREFIX) if v[0].endswith("/part-0.json")}

    versions = month_versions()
    # S3 delivers notifications asynchronously: one per compacted object before the execution drains them.
    wait_for(lambda: queued(sqs, queue_url) >= report.partitions, timeout=60, every=1,
             what=f"{report.partitions} notifications of the compacted objects on the change-log queue")
    result = execute(stepfunctions, arn, {}, timeout=300, what="rollups after compaction")
    if result.get("source") != "change_log":
        proof.differences.append(f"the rollups after compaction planned from {result.get('source')!r}, not the "
                                 "change log")
    proof.recomputed = int(result.get("partitions") or 0)  # the commit step's summary
    if proof.recomputed < report.partitions:
        proof.differences.append(f"the rollups after compaction recomputed {proof.recomputed} partitions, not the "
                                 f"{report.partitions} compacted: their new objects did not reach the plan")
    proof.rollup_writes = len(month_versions() - versions)
    if proof.rollup_writes:
        proof.differences.append(f"the rollups after compaction wrote {proof.rollup_writes} month objects; the "
                                 "rows are the same, so the bytes should be")
    with tempfile.TemporaryDirectory(prefix="compaction-proof-") as scratch:
        download_archive(s3, bucket, Path(scratch))
        local = local_rows(Path(scratch), source_interval)
    for table in ROLLUP_TABLES:
        cloud = cloud_rows(s3, bucket, table)
        proof.differences += compare(table, cloud, local[table], local_name="the local recompute after compaction")
        proof.differences += compare(table, cloud, rollups_before[table], local_name="the table before compaction")
    return proof
