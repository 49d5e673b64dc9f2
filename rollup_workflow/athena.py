"""Run rollup statements on Athena: start every table's query of a batch, poll them with backoff, read the rows.

Rows are read with GetQueryResults pages (1,000 rows each; Athena's first row of a SELECT repeats the column
names) and typed from the result metadata: ``bucket`` comes back as ``YYYY-MM-DD HH:MM:SS[.fff]`` text, doubles as
Java's shortest round-trip text, which ``float`` parses to the same bits.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rollup_workflow.errors import AthenaCallFailed, AthenaQueryFailed, AthenaThrottled, AthenaTimeout

THROTTLING = frozenset({"ThrottlingException", "TooManyRequestsException", "Throttling", "RequestLimitExceeded"})
PAGE_ROWS = 1000
_sleep = time.sleep  # tests replace it


@dataclass(frozen=True)
class Query:
    label: str  # what the query is for (the table), in errors and logs
    sql: str


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:500]


def call(what: str, operation: Callable[..., Any], **params: Any) -> Any:
    """One Athena call; its failure as a one-line error of the right class."""
    try:
        return operation(**params)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "ClientError")), _one_line(error.get("Message", ""))
        if code in THROTTLING:
            raise AthenaThrottled(f"Athena throttled {what}: {code}: {message}") from None
        raise AthenaCallFailed(f"Athena refused {what}: {code}: {message}") from None
    except BotoCoreError as exc:
        raise AthenaCallFailed(f"cannot reach Athena for {what}: {_one_line(str(exc))}") from None


def run_queries(client: Any, queries: list[Query], *, workgroup: str, database: str, timeout_seconds: float,
                sleep: Callable[[float], None] | None = None,
                clock: Callable[[], float] = time.monotonic) -> dict[str, list[dict[str, Any]]]:
    """Start every query, wait for all, and return each one's rows by label. Any failure raises (and cancels the
    queries still running, so nothing keeps scanning for a step that failed)."""
    started: dict[str, str] = {}
    try:
        for query in queries:
            response = call(f"starting the {query.label} query", client.start_query_execution,
                            QueryString=query.sql, WorkGroup=workgroup,
                            QueryExecutionContext={"Database": database})
            started[query.label] = response["QueryExecutionId"]
        _wait(client, started, timeout_seconds, sleep or _sleep, clock)
    except Exception:
        _cancel(client, started)
        raise
    return {label: read_rows(client, label, execution_id) for label, execution_id in started.items()}


def _wait(client: Any, started: Mapping[str, str], timeout: float, sleep: Callable[[float], None],
          clock: Callable[[], float]) -> None:
    deadline = clock() + timeout
    pending = dict(started)
    delay = 0.5
    while pending:
        for label, execution_id in list(pending.items()):
            status = call(f"polling the {label} query", client.get_query_execution,
                          QueryExecutionId=execution_id)["QueryExecution"]["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                del pending[label]
            elif state in ("FAILED", "CANCELLED"):
                reason = _one_line(status.get("StateChangeReason") or "no reason given")
                raise AthenaQueryFailed(f"Athena query {execution_id} ({label}) {state.lower()}: {reason}")
        if not pending:
            return
        if clock() + delay > deadline:
            labels = ", ".join(f"{label} {execution_id}" for label, execution_id in pending.items())
            raise AthenaTimeout(f"Athena queries still running after {timeout:.0f} s, cancelled: {labels}")
        sleep(delay)
        delay = min(delay * 2, 5.0)


def _cancel(client: Any, started: Mapping[str, str]) -> None:
    for execution_id in started.values():
        # Best effort: a finished query cannot be stopped, and the step fails anyway.
        with contextlib.suppress(ClientError, BotoCoreError):
            client.stop_query_execution(QueryExecutionId=execution_id)


def _value(text: str | None, athena_type: str) -> Any:
    if text is None:
        return None
    kind = athena_type.lower()
    if kind in ("tinyint", "smallint", "integer", "bigint"):
        return int(text)
    if kind in ("double", "float", "real"):
        return float(text)
    return text


def read_rows(client: Any, label: str, execution_id: str) -> list[dict[str, Any]]:
    pages = client.get_paginator("get_query_results").paginate(
        QueryExecutionId=execution_id, PaginationConfig={"PageSize": PAGE_ROWS})
    rows: list[dict[str, Any]] = []
    columns: list[tuple[str, str]] | None = None
    for page in call(f"reading the {label} query's results", lambda: list(pages)):
        result_set = page["ResultSet"]
        data = result_set.get("Rows", [])
        if columns is None:
            columns = [(c["Name"], c["Type"]) for c in result_set["ResultSetMetadata"]["ColumnInfo"]]
            names = [name for name, _ in columns]
            if data and [cell.get("VarCharValue") for cell in data[0]["Data"]] == names:
                data = data[1:]  # the header row
        for row in data:
            values = [cell.get("VarCharValue") for cell in row["Data"]]
            rows.append({name: _value(v, kind) for (name, kind), v in zip(columns, values, strict=True)})
    return rows
