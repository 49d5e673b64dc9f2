"""Athena path: the rendered SQL, and start -> poll with backoff -> paged results, through botocore's Stubber
(moto's Athena "succeeds" with no rows, so it cannot show polling, failures or paging)."""

from __future__ import annotations

from datetime import date, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber

from analytics.athena import AthenaError, athena_sql, run_athena_query
from analytics.named_queries import list_queries
from analytics.settings import load_analytics_settings


@pytest.fixture
def athena():
    client = boto3.client("athena", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def execution(state: str, reason: str | None = None) -> dict:
    status = {"State": state} | ({"StateChangeReason": reason} if reason else {})
    return {"QueryExecution": {"QueryExecutionId": "q-1", "Status": status}}


def page(rows: list[list[str | None]], header: bool, token: str | None = None) -> dict:
    columns = [{"Name": n, "Type": t} for n, t in
               (("symbol", "varchar"), ("day", "date"), ("vwap", "double"), ("bars", "bigint"), ("at", "timestamp"))]
    data = [{"Data": [{"VarCharValue": c["Name"]} for c in columns]}] if header else []
    data += [{"Data": [{"VarCharValue": v} if v is not None else {} for v in row]} for row in rows]
    body = {"ResultSet": {"Rows": data, "ResultSetMetadata": {"ColumnInfo": columns}}}
    return body | ({"NextToken": token} if token else {})


def test_named_queries_render_for_athena_with_real_names() -> None:
    settings = load_analytics_settings()
    for query in list_queries():
        sql = athena_sql(query.name)
        assert "params" not in sql and "@param" not in sql
        if "quotes" in query.tables and query.name not in ("rollup_1h", "rollup_1d"):
            assert f"{settings.glue_database}.quotes" in sql
        if "serving" in query.tables:
            assert f'"{settings.athena_catalog}"."default"."{settings.table_name}"' in sql
    for table in ("rollup_1h", "rollup_1d"):  # the materialized tables, never a recompute from the archive
        sql = athena_sql(table)
        assert f"FROM {settings.glue_database}.{table} AS r" in sql and ".quotes" not in sql, table


def test_start_poll_with_backoff_and_fetch_every_page(athena) -> None:
    client, stubber = athena
    settings = load_analytics_settings()
    stubber.add_response("start_query_execution", {"QueryExecutionId": "q-1"}, {
        "QueryString": ANY, "WorkGroup": settings.athena_workgroup,
        "QueryExecutionContext": {"Database": settings.glue_database}})
    for state in ("QUEUED", "RUNNING", "RUNNING", "SUCCEEDED"):
        stubber.add_response("get_query_execution", execution(state), {"QueryExecutionId": "q-1"})
    stubber.add_response("get_query_results",
                         page([["BTC", "2026-11-22", "65098.5", "72", "2026-11-22 05:55:00.000"]], True, "t2"),
                         {"QueryExecutionId": "q-1"})
    stubber.add_response("get_query_results", page([["ETH", "2026-11-22", None, "0", None]], False),
                         {"QueryExecutionId": "q-1", "NextToken": "t2"})
    sleeps: list[float] = []
    rows = run_athena_query("vwap_1d", {"pair": "BTC-USD"}, client=client, sleep=sleeps.append,
                            first_poll_seconds=0.5, max_poll_seconds=1.5)
    assert sleeps == [0.5, 1.0, 1.5]
    assert rows == [
        {"symbol": "BTC", "day": date(2026, 11, 22), "vwap": 65098.5, "bars": 72, "at": datetime(2026, 11, 22, 5, 55)},
        {"symbol": "ETH", "day": date(2026, 11, 22), "vwap": None, "bars": 0, "at": None},
    ]


def test_failed_query_is_one_line_with_athenas_reason(athena) -> None:
    client, stubber = athena
    stubber.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    stubber.add_response("get_query_execution", execution("FAILED", "TABLE_NOT_FOUND: line 1:8: Table x\nmore"))
    with pytest.raises(AthenaError, match="q-1 failed: TABLE_NOT_FOUND: line 1:8: Table x$"):
        run_athena_query("latest", client=client, sleep=lambda _: None)


def test_timeout_cancels_the_query(athena) -> None:
    client, stubber = athena
    stubber.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    stubber.add_response("get_query_execution", execution("RUNNING"))
    stubber.add_response("get_query_execution", execution("RUNNING"))
    stubber.add_response("stop_query_execution", {}, {"QueryExecutionId": "q-1"})
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(AthenaError, match="still running after 1 s; cancelled"):
        run_athena_query("latest", client=client, sleep=sleep, clock=lambda: now[0], timeout_seconds=1,
                         first_poll_seconds=0.6)


def test_api_errors_are_one_line(athena) -> None:
    client, stubber = athena
    stubber.add_client_error("start_query_execution", "InvalidRequestException", "WorkGroup cryptostream is disabled")
    with pytest.raises(AthenaError, match="InvalidRequestException: WorkGroup cryptostream is disabled"):
        run_athena_query("latest", client=client)


def test_runs_against_mocked_athena_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's Athena accepts the query in the workgroup and answers with an empty result set."""
    from moto import mock_aws

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("athena", region_name="us-east-1")
        workgroup = load_analytics_settings().athena_workgroup
        client.create_work_group(Name=workgroup, Configuration={})
        assert run_athena_query("data_quality", {"pair": "BTC-USD"}, client=client, sleep=lambda _: None) == []
        [execution_id] = client.list_query_executions(WorkGroup=workgroup)["QueryExecutionIds"]
        query = client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Query"]
        assert "'BTC-USD'" in query and "cryptostream.quotes" in query
