"""The analyst's view of the deployed rollups: the named queries ``rollup_1h`` and ``rollup_1d``, as the stack
registers them (``analytics.athena.athena_sql``: they read the materialized tables), run through the stack's Athena
workgroup with the credentials of the analyst role (``<prefix>-analyst``, assumed through STS), must return exactly
the rows of the month objects the rollups state machine wrote (which ``tools.deployed.rollups`` compares with the
local recompute). This is what a dashboard reads; the rollups proof alone reads the objects, not the Glue tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from analytics.athena import AthenaError, run_athena_query
from analytics.settings import AnalyticsSettings
from cryptostream_config.deployment import DeploymentConfig
from cryptostream_model.rollups import ROLLUP_TABLES
from tools.deployed.rollups import Row, cloud_rows, compare, role_query_id_bridge


@dataclass
class AnalystProof:
    role: str = ""
    rows: dict[str, int] = field(default_factory=dict)  # named query -> rows Athena returned
    differences: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        counts = ", ".join(f"{name} {count} rows" for name, count in self.rows.items())
        verdict = "equal" if not self.differences else "DIFFER from"
        return f"analyst: named queries through Athena as {self.role}: {counts}, {verdict} the materialized tables"


def assumed_athena(sts: Any, role_arn: str, make_client: Callable[..., Any]) -> Any:
    """An Athena client with the role's temporary credentials (the emulator enforces IAM on them)."""
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="deployed-proof-analyst")["Credentials"]
    return make_client("athena", aws_access_key_id=credentials["AccessKeyId"],
                       aws_secret_access_key=credentials["SecretAccessKey"],
                       aws_session_token=credentials["SessionToken"])  # fmt: skip


def athena_row(result: dict[str, Any]) -> Row:
    """A named query's row in the stored objects' shape (bucket as ``YYYY-MM-DD HH:MM:SS.fff``)."""
    bucket = result["bucket"]
    text = bucket.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if isinstance(bucket, datetime) else str(bucket)
    return (result["symbol"], result["market"], text, result["open"], result["high"], result["low"],
            result["close"], result["volume"], result["bars"])  # fmt: skip


def prove_analyst_reads(*, sts: Any, iam: Any, s3: Any, make_client: Callable[..., Any], role_arn: str,
                        bucket: str, config: DeploymentConfig, region: str, endpoint_url: str) -> AnalystProof:
    """Run each rollup's named query as the analyst and compare it with the table's objects in ``bucket``."""
    settings = AnalyticsSettings.of(config, region=region, endpoint_url=endpoint_url)
    role = role_arn.rsplit("/", 1)[-1]
    proof = AnalystProof(role=role)
    with role_query_id_bridge(iam, role):
        athena = assumed_athena(sts, role_arn, make_client)
        for table in ROLLUP_TABLES:
            try:
                rows = sorted(athena_row(r) for r in run_athena_query(table, client=athena, settings=settings,
                                                                      timeout_seconds=120))
            except AthenaError as error:
                proof.differences.append(f"{table} as {role}: {error}")
                continue
            proof.rows[table] = len(rows)
            if not rows:
                proof.differences.append(f"{table} as {role}: Athena returned no rows")
            proof.differences += compare(table, rows, cloud_rows(s3, bucket, table),
                                         cloud_name=f"Athena's answer as {role}", local_name="the month objects")
    return proof
