"""Run a named query on Athena through the project's workgroup: start, poll with backoff, fetch every page.

The same ``analytics/queries/*.sql`` files are rendered for Athena with parameters inlined and the logical
table names mapped to the deployed ones (``athena_table_names``). ``athena_named_queries`` renders them all
for the CDK app, which registers each as an Athena named query, so the console runs exactly what
``cryptostream query --athena`` runs.
Rollups on Athena are materialized tables (``rollup_1h``/``rollup_1d``, kept up to date by the rollups state machine,
``rollup_workflow``): their named queries are the ``queries/_materialized`` variants, which read those tables, so a
dashboard's cost and latency follow the rollup's size, not the archive's. The recompute statements themselves
(``rollup_1h.sql``/``rollup_1d.sql``) run in the workflow, rendered by ``analytics.cloud_rollups``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from analytics.named_queries import MATERIALIZED_DIR, QUERIES_DIR, QueryError, load_materialized_query, query_names
from analytics.settings import AnalyticsSettings, load_analytics_settings

TERMINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")


class AthenaError(QueryError):
    """An Athena query failed, timed out or could not be started (one line for the user)."""


def athena_table_names(settings: AnalyticsSettings | None = None) -> dict[str, str]:
    """Logical table -> Athena name: the Glue tables of the archive and rollups, the serving table through
    the DynamoDB connector's catalog."""
    settings = settings or load_analytics_settings()
    return {
        "quotes": f"{settings.glue_database}.quotes",
        "rollup_1h": f"{settings.glue_database}.rollup_1h",
        "rollup_1d": f"{settings.glue_database}.rollup_1d",
        "serving": f'"{settings.athena_catalog}"."default"."{settings.table_name}"',
    }


def athena_sql(name: str, params: Mapping[str, str] | None = None, settings: AnalyticsSettings | None = None) -> str:
    """The named query as Athena runs it: Trino dialect, parameters inlined, real table names; a rollup reads its
    materialized table (``queries/_materialized``)."""
    query = load_materialized_query(name)
    return query.render(params, dialect="trino", table_names=athena_table_names(settings), pretty=True)


@dataclass(frozen=True)
class AthenaNamedQuery:
    """One named query as the CDK app registers it (``AWS::Athena::NamedQuery``), rendered for a deployment."""

    name: str  # the query file's name without .sql
    description: str  # the file's first ``--`` comment line, else its file name
    sql: str  # ``athena_sql(name)``: defaults inlined, logical tables mapped to the deployment's


def _description(text: str, fallback: str) -> str:
    """The first ``-- comment`` line of a query file, else ``fallback``."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("--") and stripped.strip("- "):
            return stripped.lstrip("- ")[:1024]
        if stripped:
            break
    return fallback


def athena_named_queries(settings: AnalyticsSettings) -> list[AthenaNamedQuery]:
    """Every query in ``analytics/queries`` rendered for Athena with ``settings`` (the deployment's names).

    A query that cannot be rendered is a QueryError naming its file.
    """
    queries = []
    for name in query_names():
        path = MATERIALIZED_DIR / f"{name}.sql"
        path = path if path.is_file() else QUERIES_DIR / f"{name}.sql"
        try:
            sql = athena_sql(name, settings=settings)
        except (QueryError, ValueError) as exc:
            raise QueryError(f"analytics/queries/{path.name} cannot be rendered for Athena: {exc}") from None
        queries.append(AthenaNamedQuery(name, _description(path.read_text(encoding="utf-8"), path.name), sql))
    return queries


def _convert(value: str | None, athena_type: str) -> Any:
    if value is None:
        return None
    kind = athena_type.lower()
    if kind in ("tinyint", "smallint", "integer", "bigint"):
        return int(value)
    if kind in ("double", "float", "real", "decimal"):
        return float(value)
    if kind == "boolean":
        return value == "true"
    if kind == "date":
        return date.fromisoformat(value)
    if kind.startswith("timestamp"):
        return datetime.fromisoformat(value.replace(" UTC", ""))
    return value


def run_athena_query(
    name: str,
    params: Mapping[str, str] | None = None,
    *,
    client: Any = None,
    settings: AnalyticsSettings | None = None,
    timeout_seconds: float = 600.0,
    first_poll_seconds: float = 0.25,
    max_poll_seconds: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[dict[str, Any]]:
    """Run the named query in the workgroup and return every row as a dict (typed from Athena's metadata)."""
    from botocore.exceptions import BotoCoreError, ClientError

    settings = settings or load_analytics_settings()
    sql = athena_sql(name, params, settings)
    if client is None:
        import boto3

        client = boto3.client("athena", endpoint_url=settings.endpoint_url)
    try:
        execution_id = client.start_query_execution(
            QueryString=sql,
            WorkGroup=settings.athena_workgroup,
            QueryExecutionContext={"Database": settings.glue_database},
        )["QueryExecutionId"]
        _wait(client, execution_id, timeout_seconds, first_poll_seconds, max_poll_seconds, sleep, clock)
        return _results(client, execution_id)
    except ClientError as exc:
        error = exc.response["Error"]
        raise AthenaError(f"Athena: {error['Code']}: {error.get('Message', '')}".splitlines()[0]) from None
    except BotoCoreError as exc:
        raise AthenaError(f"cannot reach Athena: {exc}") from None


def _wait(client: Any, execution_id: str, timeout: float, delay: float, max_delay: float,
          sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
    deadline = clock() + timeout
    while True:
        status = client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]
        state = status["State"]
        if state == "SUCCEEDED":
            return
        if state in TERMINAL_STATES:
            reason = status.get("StateChangeReason", "no reason given").splitlines()[0]
            raise AthenaError(f"Athena query {execution_id} {state.lower()}: {reason}")
        if clock() + delay > deadline:
            client.stop_query_execution(QueryExecutionId=execution_id)
            raise AthenaError(f"Athena query {execution_id} still {state.lower()} after {timeout:.0f} s; cancelled")
        sleep(delay)
        delay = min(delay * 2, max_delay)


def _results(client: Any, execution_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    columns: list[tuple[str, str]] | None = None
    for page in client.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id):
        result_set = page["ResultSet"]
        data = result_set.get("Rows", [])
        if columns is None:
            metadata = result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            columns = [(c["Name"], c["Type"]) for c in metadata]
            data = data[1:]  # a SELECT's first row repeats the column names
        for row in data:
            values = [cell.get("VarCharValue") for cell in row["Data"]]
            rows.append({n: _convert(v, t) for (n, t), v in zip(columns, values, strict=True)})
    return rows
