"""The deployed analyst proof's own logic: the named queries' rows (Athena's answer, typed) against the month objects,
asked with the analyst role's credentials, and the emulator-only inline policy removed afterwards."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from cryptostream_config.deployment import load_deployment_config
from tools.deployed.analyst import prove_analyst_reads
from tools.deployed.rollups import BRIDGE_POLICY

BUCKET = "proof-archive"
ROLE = "cryptostream-analyst"
LINE = {"symbol": "BTC", "market": "USD", "bucket": "2026-12-01 10:00:00.000", "open": 100.0, "high": 102.0,
        "low": 98.5, "close": 99.5, "volume": 7.5, "bars": 3}
COLUMNS = [("symbol", "varchar"), ("market", "varchar"), ("bucket", "timestamp"), ("open", "double"),
           ("high", "double"), ("low", "double"), ("close", "double"), ("volume", "double"), ("bars", "bigint")]
CONFIG = load_deployment_config()  # the repository's cdk.json: its workgroup and database


@pytest.fixture
def aws() -> Any:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        for table in ("rollup_1h", "rollup_1d"):
            s3.put_object(Bucket=BUCKET, Key=f"rollups/{table}/symbol=BTC/market=USD/month=2026-12/part-0.json",
                          Body=json.dumps(LINE).encode() + b"\n")
        iam = boto3.client("iam", region_name="us-east-1")
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}
        arn = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        yield {"s3": s3, "iam": iam, "sts": boto3.client("sts", region_name="us-east-1"), "role_arn": arn}


def athena_answering(rows: list[dict[str, Any]], credentials: dict[str, str]) -> Any:
    """An Athena client whose answers are Athena's shapes (header row first, values as text), one query per table."""
    client = boto3.client("athena", region_name="us-east-1", **credentials)
    stubber = Stubber(client)
    for _ in ("rollup_1h", "rollup_1d"):
        stubber.add_response("start_query_execution", {"QueryExecutionId": "q-1"},
                             {"QueryString": ANY, "WorkGroup": CONFIG.athena_workgroup,
                              "QueryExecutionContext": {"Database": CONFIG.glue_database}})
        stubber.add_response("get_query_execution", {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}},
                             {"QueryExecutionId": "q-1"})
        header = {"Data": [{"VarCharValue": name} for name, _ in COLUMNS]}
        data = [{"Data": [{"VarCharValue": str(row[name])} for name, _ in COLUMNS]} for row in rows]
        stubber.add_response("get_query_results", {"ResultSet": {
            "Rows": [header, *data],
            "ResultSetMetadata": {"ColumnInfo": [{"Name": n, "Type": t} for n, t in COLUMNS]}}})
    stubber.activate()
    return client


def test_the_named_queries_as_the_analyst_equal_the_month_objects(aws: dict[str, Any]) -> None:
    used: list[dict[str, str]] = []

    def make_client(name: str, **credentials: str) -> Any:
        assert name == "athena"
        used.append(credentials)
        return athena_answering([LINE], credentials)

    proof = prove_analyst_reads(sts=aws["sts"], iam=aws["iam"], s3=aws["s3"], make_client=make_client,
                                role_arn=aws["role_arn"], bucket=BUCKET, config=CONFIG, region="us-east-1",
                                endpoint_url="http://127.0.0.1:1")
    assert proof.differences == []
    assert proof.rows == {"rollup_1h": 1, "rollup_1d": 1}
    assert proof.line.startswith(f"analyst: named queries through Athena as {ROLE}: rollup_1h 1 rows")
    assert used and used[0]["aws_session_token"]  # the assumed role's credentials, not the caller's
    assert aws["iam"].list_role_policies(RoleName=ROLE)["PolicyNames"] == []  # the emulator-only bridge is gone


def test_a_value_athena_reads_differently_is_a_difference(aws: dict[str, Any]) -> None:
    proof = prove_analyst_reads(sts=aws["sts"], iam=aws["iam"], s3=aws["s3"],
                                make_client=lambda name, **c: athena_answering([LINE | {"volume": 7.25}], c),
                                role_arn=aws["role_arn"], bucket=BUCKET, config=CONFIG, region="us-east-1",
                                endpoint_url="http://127.0.0.1:1")
    assert len(proof.differences) == 2 and "DIFFER" in proof.line
    assert "1 only in Athena's answer as cryptostream-analyst" in proof.differences[0]
    assert "7.25" in proof.differences[0] and BRIDGE_POLICY not in aws["iam"].list_role_policies(
        RoleName=ROLE)["PolicyNames"]
