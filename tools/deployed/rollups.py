"""The deployed rollups state machine, executed in the emulator and checked against the local recompute.

After the pipeline has archived its bars, ``<prefix>-rollups`` runs three times:

1. with half of the archive objects in place (the others still in the emulator's time folders): no watermark yet,
   so it plans from a full listing (a rebuild), draining the change log as it goes;
2. after the other half arrives (each move is a copy, an ``ObjectCreated:Copy`` notification on the change-log
   queue, as a late or replayed object would be): it must plan from the change log, not a listing, and its tables
   are read back from the emulator's S3 and compared, row by row and bit for bit, with ``analytics.rollups`` (the
   local DuckDB rollup) over the same archive objects downloaded from the emulator;
3. with nothing new: it must end at ``UpToDate`` having written no object (the rollups prefix keeps the same object
   versions).

MiniStack's Firehose writes notify the queue too (its internal PUT goes through S3's handler), under keys outside the
archive layout (its ``yyyy/MM/dd/HH/`` folders): the plans count and delete them.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptostream_model.archive import ARCHIVE_PREFIX
from cryptostream_model.rollups import ROLLUP_TABLES, ROLLUPS_PREFIX
from tools.deployed.scenario import wait_for
from tools.deployed.workflows import PROOF_PREFIX, execute

Row = tuple[Any, ...]  # symbol, market, bucket text, open, high, low, close, volume, bars
# MiniStack 1.5.33's Firehose appends ``yyyy/MM/dd/HH/`` to a prefix without a timestamp expression, dynamic
# partitioning or not (services/firehose.py, _evaluate_prefix); AWS Firehose writes ``<evaluated prefix><suffix>``,
# the custom prefix replacing the default one (Firehose developer guide, "Custom Prefixes for Amazon S3 Objects").
_EMULATOR_TIME_FOLDERS = re.compile(
    rf"({re.escape(ARCHIVE_PREFIX)}symbol=[^/]+/market=[^/]+/dt=[^/]+/)\d{{4}}/\d{{2}}/\d{{2}}/\d{{2}}/([^/]+)"
)


@dataclass
class RollupsProof:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows materialized in the emulator
    rerun_writes: int = 0
    moved: int = 0  # archive objects given the keys AWS Firehose writes (the emulator nests them in time folders)
    sources: list[str] = field(default_factory=list)  # what each execution planned from
    logged: int = 0  # archive objects the change log named to the second execution
    outside_layout: int = 0  # notifications the executions deleted as outside the archive layout
    differences: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        hourly, daily = self.rows.get("rollup_1h", 0), self.rows.get("rollup_1d", 0)
        verdict = "equal" if not self.differences else "DIFFER from"
        return (f"rollups: {hourly} hourly rows, {daily} daily rows {verdict} the local recompute; planned from "
                f"{' then '.join(self.sources) or 'nothing'} ({self.logged} objects from the change log, "
                f"{self.outside_layout} notifications outside the archive layout deleted); "
                f"rerun wrote {self.rerun_writes} objects")  # fmt: skip


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def emulator_keys(s3: Any, bucket: str) -> list[str]:
    """The archive objects still under the emulator's time folders (see ``_EMULATOR_TIME_FOLDERS``)."""
    return [key for key in _keys(s3, bucket, ARCHIVE_PREFIX) if _EMULATOR_TIME_FOLDERS.fullmatch(key)]


def move_to_aws_keys(s3: Any, bucket: str, keys: list[str] | None = None) -> int:
    """Give each archive object (``keys``, default all) the key AWS Firehose would have written (see
    ``_EMULATOR_TIME_FOLDERS``).

    The archive layout (``cryptostream_model.archive``) has objects directly under ``dt=``; the rollup planner, like
    the local one, takes only objects in that layout. Returns how many objects moved.
    """
    moved = 0
    for key in emulator_keys(s3, bucket) if keys is None else keys:
        match = _EMULATOR_TIME_FOLDERS.fullmatch(key)
        if match:
            s3.copy_object(Bucket=bucket, Key=match[1] + match[2], CopySource={"Bucket": bucket, "Key": key})
            s3.delete_object(Bucket=bucket, Key=key)
            moved += 1
    return moved


def queued(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


# MiniStack 1.5.33 authorizes an Athena call on the workgroup named in its request body, else on "*"
# (core/iam_actions.py): GetQueryExecution, GetQueryResults and StopQueryExecution carry only the query id, so a
# role granted them on its workgroup (what AWS authorizes them on: the query's workgroup) is denied there.
QUERY_ID_ACTIONS = ("athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution")
BRIDGE_POLICY = "ministack-athena-query-id-calls"


@contextmanager
def athena_query_id_bridge(iam: Any, lambda_client: Any, function: str) -> Iterator[str]:
    """``role_query_id_bridge`` for the function's role."""
    role = lambda_client.get_function_configuration(FunctionName=function)["Role"].rsplit("/", 1)[-1]
    with role_query_id_bridge(iam, role):
        yield role


@contextmanager
def role_query_id_bridge(iam: Any, role: str) -> Iterator[str]:
    """While inside: the role may also make the query-id calls on "*" (an inline policy the proof adds in the
    emulator only, removed again so ``cdk destroy`` deletes the role as deployed). The template is unchanged."""
    document = {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": list(QUERY_ID_ACTIONS), "Resource": "*"}]}  # fmt: skip
    iam.put_role_policy(RoleName=role, PolicyName=BRIDGE_POLICY, PolicyDocument=json.dumps(document))
    try:
        yield role
    finally:
        iam.delete_role_policy(RoleName=role, PolicyName=BRIDGE_POLICY)


def object_versions(s3: Any, bucket: str, prefix: str) -> set[tuple[str, str]]:
    """Every (key, version) under ``prefix``: the archive bucket is versioned, so any write adds one."""
    versions = set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        versions |= {(v["Key"], str(v.get("VersionId"))) for v in page.get("Versions", [])}
    return versions


def cloud_rows(s3: Any, bucket: str, table: str) -> list[Row]:
    """The materialized table: every month object's JSON lines, sorted."""
    rows: list[Row] = []
    for key in _keys(s3, bucket, f"{ROLLUPS_PREFIX}{table}/"):
        if key.endswith("/part-0.json"):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
            rows += [_row(json.loads(line)) for line in body.splitlines() if line.strip()]
    return sorted(rows)


def _row(line: dict[str, Any]) -> Row:
    return (line["symbol"], line["market"], line["bucket"], line["open"], line["high"], line["low"], line["close"],
            line["volume"], line["bars"])  # fmt: skip


def download_archive(s3: Any, bucket: str, root: Path) -> int:
    """The emulator's archive objects under ``root/quotes/`` with their keys; returns how many."""
    keys = _keys(s3, bucket, ARCHIVE_PREFIX)
    for key in keys:
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return len(keys)


def local_rows(root: Path, source_interval: str) -> dict[str, list[Row]]:
    """``analytics.rollups`` (DuckDB) over the archive under ``root``: a full recompute, buckets as stored in S3."""
    import duckdb

    from analytics.rollups import run_rollups

    run_rollups(str(root), full=True, rollups=str(root / "rollups"), source_interval=source_interval)
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    tables = {}
    for table in ROLLUP_TABLES:
        if not any((root / "rollups" / table).rglob("*.parquet")):
            tables[table] = []
            continue
        fetched = con.execute(
            "SELECT symbol, market, bucket, open, high, low, close, volume, bars FROM read_parquet("
            f"'{root}/rollups/{table}/symbol=*/market=*/month=*/*.parquet', hive_partitioning=true, "
            "hive_types_autocast=false)"
        ).fetchall()
        tables[table] = sorted((row[0], row[1], row[2].strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], *row[3:])
                               for row in fetched)  # fmt: skip
    return tables


def compare(table: str, cloud: list[Row], local: list[Row], *, cloud_name: str = "the emulator",
            local_name: str = "the local recompute") -> list[str]:
    """What differs between the emulator's table and the local recompute (empty when equal to the bit)."""
    if cloud == local:
        return []
    only_cloud = sorted(set(cloud) - set(local))
    only_local = sorted(set(local) - set(cloud))
    example = f"; e.g. in {cloud_name} {only_cloud[0]}" if only_cloud else ""
    example += f"; e.g. in {local_name} {only_local[0]}" if only_local else ""
    return [f"{table}: {len(cloud)} rows in {cloud_name}, {len(local)} in {local_name}, "
            f"{len(only_cloud)} only in {cloud_name}, {len(only_local)} only in {local_name}{example}"]  # fmt: skip


def idle(stepfunctions: Any, arn: str) -> bool:
    """No execution of the state machine is running (one the schedule started at creation, say)."""
    return not stepfunctions.list_executions(stateMachineArn=arn, statusFilter="RUNNING").get("executions")


def outside_layout(stepfunctions: Any, execution_arn: str) -> int:
    """The notifications an execution's plan deleted as outside the archive layout (UpToDate: the plan is in the
    output; else the commit's summary carries the counts)."""
    output = json.loads(stepfunctions.describe_execution(executionArn=execution_arn).get("output") or "{}")
    counts = (output.get("plan") or {}).get("changes") or output.get("change_log") or {}
    return int(counts.get("outside_layout") or 0)


def prove_rollups(stepfunctions: Any, s3: Any, sqs: Any, arn: str, bucket: str, queue_url: str, *,
                  source_interval: str) -> RollupsProof:
    """Run the rollups three times (module docstring); the differences from what they must do."""
    proof = RollupsProof()
    wait_for(lambda: idle(stepfunctions, arn), timeout=300, every=3, what="running rollups executions to end")
    scheduled = [e for e in stepfunctions.list_executions(stateMachineArn=arn)["executions"]
                 if not e["name"].startswith(PROOF_PREFIX)]  # fmt: skip
    failed = [f"{e['name']} {e['status']}" for e in scheduled if e["status"] != "SUCCEEDED"]
    if failed:
        proof.differences.append(f"scheduled rollups executions did not succeed: {', '.join(failed)}")
    for execution in scheduled:  # they drained what Firehose wrote until then (its time folders: outside the layout)
        if execution["status"] == "SUCCEEDED":
            proof.outside_layout += outside_layout(stepfunctions, execution["executionArn"])
    waiting = emulator_keys(s3, bucket)
    if len(waiting) < 2:
        proof.differences.append(f"{len(waiting)} archive objects: too few to split between two executions")
        return proof
    proof.moved = move_to_aws_keys(s3, bucket, waiting[::2])
    first = execute(stepfunctions, arn, {}, timeout=300, what="rollups")
    proof.sources.append(str(first.get("source")))
    proof.outside_layout += int((first.get("change_log") or {}).get("outside_layout") or 0)
    if not first.get("partitions") or first.get("source") != "full_listing":
        proof.differences.append(
            f"the first rollups execution did not rebuild from a listing: {json.dumps(first)[:300]}")
    late = waiting[1::2]
    proof.moved += move_to_aws_keys(s3, bucket, late)
    # S3 delivers its notifications asynchronously: wait for one per object moved before the execution drains them.
    wait_for(lambda: queued(sqs, queue_url) >= len(late), timeout=60, every=1,
             what=f"{len(late)} ObjectCreated notifications on the change-log queue")  # fmt: skip
    second = execute(stepfunctions, arn, {}, timeout=300, what="rollups")
    proof.sources.append(str(second.get("source")))
    log = second.get("change_log") or {}
    proof.logged = int(log.get("objects") or 0)
    proof.outside_layout += int(log.get("outside_layout") or 0)
    if second.get("source") != "change_log" or not second.get("partitions") or proof.logged < len(late):
        proof.differences.append(f"the second rollups execution did not plan the {len(late)} moved objects from the "
                                 f"change log: {json.dumps(second)[:300]}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="rollups-proof-") as scratch:
        root = Path(scratch)
        if download_archive(s3, bucket, root) == 0:
            proof.differences.append("the emulator's archive is empty: nothing to roll up")
            return proof
        local = local_rows(root, source_interval)
    for table in ROLLUP_TABLES:
        cloud = cloud_rows(s3, bucket, table)
        proof.rows[table] = len(cloud)
        if not cloud:
            proof.differences.append(f"{table}: no rows materialized in the emulator")
        proof.differences += compare(table, cloud, local[table])
    before = object_versions(s3, bucket, ROLLUPS_PREFIX)
    again = execute(stepfunctions, arn, {}, timeout=300, what="rollups")
    proof.sources.append(str((again.get("plan") or {}).get("source")))
    proof.rerun_writes = len(object_versions(s3, bucket, ROLLUPS_PREFIX) - before)
    if proof.rerun_writes:
        proof.differences.append(f"the rerun with nothing new wrote {proof.rerun_writes} objects")
    if (again.get("plan") or {}).get("batches") != [] or "partitions" in again:
        proof.differences.append(f"the rerun did not end at UpToDate: {json.dumps(again)[:300]}")
    return proof
