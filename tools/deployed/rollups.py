"""The deployed rollups state machine, executed in the emulator and checked against the local recompute.

After the pipeline has archived its bars, ``<prefix>-rollups`` runs once: it plans the archive partitions past the
(absent) watermarks, rolls each batch up with the emulator's Athena (the Lambda's rendered SQL on DuckDB over the
Glue table) and writes the month objects. Its tables are then read back from the emulator's S3 and compared, row by
row and bit for bit, with ``analytics.rollups`` (the local DuckDB rollup) over the same archive objects downloaded
from the emulator. A second execution, with nothing new in the archive, must end at ``UpToDate`` having written no
object (the rollups prefix keeps the same object versions).
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
    differences: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        hourly, daily = self.rows.get("rollup_1h", 0), self.rows.get("rollup_1d", 0)
        verdict = "equal" if not self.differences else "DIFFER from"
        return (f"rollups: {hourly} hourly rows, {daily} daily rows {verdict} the local recompute; "
                f"rerun wrote {self.rerun_writes} objects")  # fmt: skip


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def move_to_aws_keys(s3: Any, bucket: str) -> int:
    """Give each archive object the key AWS Firehose would have written (see ``_EMULATOR_TIME_FOLDERS``).

    The archive layout (``cryptostream_model.archive``) has objects directly under ``dt=``; the rollup planner, like
    the local one, takes only objects in that layout. Returns how many objects moved.
    """
    moved = 0
    for key in _keys(s3, bucket, ARCHIVE_PREFIX):
        match = _EMULATOR_TIME_FOLDERS.fullmatch(key)
        if match:
            s3.copy_object(Bucket=bucket, Key=match[1] + match[2], CopySource={"Bucket": bucket, "Key": key})
            s3.delete_object(Bucket=bucket, Key=key)
            moved += 1
    return moved


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


def prove_rollups(stepfunctions: Any, s3: Any, arn: str, bucket: str, *, source_interval: str) -> RollupsProof:
    """Run the rollups twice and check the tables against the local recompute; the differences from what it must do."""
    proof = RollupsProof()
    proof.moved = move_to_aws_keys(s3, bucket)
    wait_for(lambda: idle(stepfunctions, arn), timeout=300, every=3, what="running rollups executions to end")
    scheduled = [e for e in stepfunctions.list_executions(stateMachineArn=arn)["executions"]
                 if not e["name"].startswith(PROOF_PREFIX)]  # fmt: skip
    failed = [f"{e['name']} {e['status']}" for e in scheduled if e["status"] != "SUCCEEDED"]
    if failed:
        proof.differences.append(f"scheduled rollups executions did not succeed: {', '.join(failed)}")
    first = execute(stepfunctions, arn, {}, timeout=300, what="rollups")
    if not first.get("partitions"):
        proof.differences.append(f"the first rollups execution rolled up nothing: {json.dumps(first)[:300]}")
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
    proof.rerun_writes = len(object_versions(s3, bucket, ROLLUPS_PREFIX) - before)
    if proof.rerun_writes:
        proof.differences.append(f"the rerun with nothing new wrote {proof.rerun_writes} objects")
    if (again.get("plan") or {}).get("batches") != [] or "partitions" in again:
        proof.differences.append(f"the rerun did not end at UpToDate: {json.dumps(again)[:300]}")
    return proof
