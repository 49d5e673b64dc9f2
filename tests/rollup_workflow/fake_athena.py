"""Athena for tests, answering on one botocore client: it really runs the submitted SQL.

``FakeAthena.install(client)`` hooks the client's ``before-call.athena.*`` event (where botocore's Stubber answers):
the request has been validated and serialized by botocore, the fake reads the JSON body Athena would receive, and
answers with the JSON body Athena sends, parsed by botocore's own JSON parser against the operation's output
shape. So a response the real service could not send does not parse the same, and a failure is a real
``ClientError`` raised by botocore. Calls still pass through ``BaseClient._make_api_call``, so ``tests/iam``'s
recorder sees them.

StartQueryExecution runs the query the way the emulator does (``tests/fixtures/athena_on_duckdb.py``, after
MiniStack 1.5.33): the text unchanged on DuckDB, each known Glue table replaced by ``read_parquet`` over its
objects, downloaded from (moto's) S3 with a harness client. GetQueryExecution reports QUEUED, then RUNNING for
``polls_before_done`` polls, then the outcome; GetQueryResults pages (header row first, values as Athena's text:
timestamps ``YYYY-MM-DD HH:MM:SS.fff``, doubles as Java prints them).

Failure injection: ``fail_next(reason)`` makes the next query FAILED with that reason; ``throttle(operation, n)``
answers the next ``n`` calls of an operation with ThrottlingException.
"""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from botocore import parsers
from botocore.awsrequest import AWSResponse

from tests.fixtures.athena_on_duckdb import ParquetTable, run
from tests.iam.recorder import _running


def java_double(value: float) -> str:
    """``Double.toString``: plain between 1e-3 and 1e7, else ``d.dddE±n``; shortest round-trip digits."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if str(value).startswith("-") else "0.0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + int(exponent)  # position of the decimal point in ``text``
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        if point <= 0:
            plain = "0." + "0" * -point + text
        elif point >= len(text):
            plain = text + "0" * (point - len(text)) + ".0"
        else:
            plain = text[:point] + "." + text[point:]
    else:
        plain = f"{text[0]}.{text[1:] or '0'}E{point - 1}"
    return ("-" if sign else "") + plain


def athena_text(value: Any, athena_type: str) -> str | None:
    if value is None:
        return None
    if athena_type == "double":
        return java_double(float(value))
    if athena_type == "timestamp" and isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass
class Execution:
    query_id: str
    sql: str
    workgroup: str
    database: str
    state: str = "QUEUED"
    reason: str = ""
    polls: int = 0
    columns: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)


class FakeAthena:
    def __init__(self, s3: Any, tables: dict[str, tuple[str, str]], *, workgroup: str, output_location: str,
                 polls_before_done: int = 1) -> None:
        """``tables``: ``{"database.table": (bucket, prefix)}`` of Parquet tables partitioned symbol/market/dt."""
        self.s3 = s3
        self.tables = tables
        self.workgroup = workgroup
        self.output_location = output_location
        self.polls_before_done = polls_before_done
        self.executions: dict[str, Execution] = {}
        self.calls: list[str] = []
        self._fail_next: list[str] = []
        self._throttle: dict[str, int] = {}
        self._parser = parsers.create_parser("json")

    # --- test controls ---------------------------------------------------------------------------------------------
    def fail_next(self, reason: str) -> None:
        self._fail_next.append(reason)

    def throttle(self, operation: str, times: int = 1) -> None:
        self._throttle[operation] = self._throttle.get(operation, 0) + times

    @property
    def queries(self) -> list[str]:
        return [e.sql for e in self.executions.values()]

    def install(self, client: Any) -> Any:
        client.meta.events.register("before-call.athena.*", self._answer)
        return client

    # --- the service -----------------------------------------------------------------------------------------------
    def _answer(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        operation = model.name
        self.calls.append(operation)
        request = json.loads(params.get("body") or b"{}")
        if self._throttle.get(operation):
            self._throttle[operation] -= 1
            return self._reply(model, 400, {"__type": "ThrottlingException", "message": "Rate exceeded"})
        snake = re.sub(r"(?<!^)([A-Z])", r"_\1", operation).lower()
        handler = getattr(self, f"_{snake}", None)
        if handler is None:
            raise NotImplementedError(f"FakeAthena does not answer {operation}")
        status, body = handler(request)
        return self._reply(model, status, body)

    def _reply(self, model: Any, status: int, body: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
        raw = json.dumps(body).encode()
        headers = {"x-amzn-requestid": str(uuid.uuid4()), "content-type": "application/x-amz-json-1.1"}
        parsed = self._parser.parse({"status_code": status, "headers": headers, "body": raw}, model.output_shape)
        return AWSResponse("https://athena.us-east-1.amazonaws.com/", status, headers, None), parsed

    @staticmethod
    def _invalid(message: str) -> tuple[int, dict[str, Any]]:
        return 400, {"__type": "InvalidRequestException", "Message": message}

    def _start_query_execution(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if request.get("WorkGroup") != self.workgroup:
            return self._invalid(f"WorkGroup {request.get('WorkGroup')} is not found.")
        execution = Execution(str(uuid.uuid4()), request["QueryString"], request["WorkGroup"],
                              request.get("QueryExecutionContext", {}).get("Database", "default"))
        self.executions[execution.query_id] = execution
        if self._fail_next:
            execution.state, execution.reason = "FAILED", self._fail_next.pop(0)
            return 200, {"QueryExecutionId": execution.query_id}
        try:
            result = run(execution.sql, self._relations(execution.sql))
        except Exception as exc:  # what the engine says becomes the execution's StateChangeReason
            execution.state, execution.reason = "FAILED", f"{type(exc).__name__}: {exc}"
        else:
            execution.columns, execution.types, execution.rows = result.columns, result.types, result.rows
            execution.state = "SUCCEEDED"
        return 200, {"QueryExecutionId": execution.query_id}

    def _relations(self, sql: str) -> dict[str, ParquetTable]:
        """The known tables the query names, over their objects as they are now. The reads are the service's,
        not the caller's: the IAM recorder does not attribute them to the running handler (what Athena needs
        from the caller's role is modelled in tests/iam/needs.py from the StartQueryExecution call)."""
        token = _running.set(None)
        try:
            return self._download(sql)
        finally:
            _running.reset(token)

    def _download(self, sql: str) -> dict[str, ParquetTable]:
        relations = {}
        for name, (bucket, prefix) in self.tables.items():
            if not re.search(rf"(?i)\b{re.escape(name)}\b", sql):
                continue
            directory = Path(tempfile.mkdtemp(prefix="fake-athena-"))
            files = []
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    relative = item["Key"][len(prefix):]
                    if any(part.startswith(("_", ".")) for part in relative.split("/")):
                        continue  # Athena skips hidden files
                    path = directory / relative
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(self.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
                    files.append(str(path))
            relations[name] = ParquetTable(sorted(files))
        return relations

    def _execution(self, request: dict[str, Any]) -> Execution | None:
        return self.executions.get(request.get("QueryExecutionId", ""))

    def _get_query_execution(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        execution = self._execution(request)
        if execution is None:
            return self._invalid(f"QueryExecution {request.get('QueryExecutionId')} was not found")
        execution.polls += 1
        if execution.polls == 1:
            state = "QUEUED"
        elif execution.polls <= 1 + self.polls_before_done:
            state = "RUNNING"
        else:
            state = execution.state
        status: dict[str, Any] = {"State": state, "SubmissionDateTime": 1764700000.0}
        if state in ("FAILED", "CANCELLED"):
            status["StateChangeReason"] = execution.reason
            status["AthenaError"] = {"ErrorCategory": 2, "ErrorType": 1301, "Retryable": False,
                                     "ErrorMessage": execution.reason}
        return 200, {"QueryExecution": {
            "QueryExecutionId": execution.query_id, "Query": execution.sql, "StatementType": "DML",
            "ResultConfiguration": {"OutputLocation": f"{self.output_location}{execution.query_id}.csv"},
            "QueryExecutionContext": {"Database": execution.database, "Catalog": "awsdatacatalog"},
            "Status": status, "WorkGroup": execution.workgroup,
            "EngineVersion": {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"},
            "Statistics": {"EngineExecutionTimeInMillis": 120, "DataScannedInBytes": 4096},
        }}

    def _stop_query_execution(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        execution = self._execution(request)
        if execution is not None and execution.polls <= self.polls_before_done:  # still queued or running
            execution.state, execution.reason = "CANCELLED", "Query cancelled by user"
        return 200, {}

    def _get_query_results(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        execution = self._execution(request)
        if execution is None:
            return self._invalid(f"QueryExecution {request.get('QueryExecutionId')} was not found")
        if execution.state != "SUCCEEDED" or execution.polls <= 1 + self.polls_before_done:
            state = execution.state if execution.polls > 1 + self.polls_before_done else "RUNNING"
            return self._invalid(f"Query has not yet finished. Current state: {state}")
        size = int(request.get("MaxResults", 1000))
        if not 1 <= size <= 1000:
            return self._invalid("MaxResults must be between 1 and 1000")
        start = int(request.get("NextToken") or 0)
        page = execution.rows[start:start + size]
        rows = [{"Data": [{"VarCharValue": name} for name in execution.columns]}] if start == 0 else []
        rows += [{"Data": [{} if (text := athena_text(v, t)) is None else {"VarCharValue": text}
                           for v, t in zip(row, execution.types, strict=True)]} for row in page]
        body: dict[str, Any] = {"UpdateCount": 0, "ResultSet": {"Rows": rows, "ResultSetMetadata": {"ColumnInfo": [
            {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name, "Label": name, "Type": kind,
             "Precision": 17 if kind == "double" else 0, "Scale": 0, "Nullable": "UNKNOWN",
             "CaseSensitive": kind == "varchar"}
            for name, kind in zip(execution.columns, execution.types, strict=True)]}}}
        if start + size < len(execution.rows):
            body["NextToken"] = str(start + size)
        return 200, body
