"""After ``cdk destroy``: which of the stack's fixed-name resources still exist (a redeploy on AWS would clash)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def _exists(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if "NotFound" in code or "NonExistent" in code or code in ("404", "NoSuchBucket"):
            return False
        raise
    return True


def leftovers(clients: Any, *, stream: str, table: str, queues: list[str], buckets: list[str],
              schedule_group: str, functions: list[str]) -> list[str]:  # fmt: skip
    """Names of what survived; empty when the destroy removed everything it should."""
    found = []
    checks = [
        (f"stream {stream}", clients("kinesis").describe_stream_summary, {"StreamName": stream}),
        (f"table {table}", clients("dynamodb").describe_table, {"TableName": table}),
        (f"schedule group {schedule_group}", clients("scheduler").get_schedule_group, {"Name": schedule_group}),
    ]
    checks += [(f"queue {q}", clients("sqs").get_queue_url, {"QueueName": q}) for q in queues]
    checks += [(f"bucket {b}", clients("s3").head_bucket, {"Bucket": b}) for b in buckets]
    checks += [(f"function {f}", clients("lambda").get_function, {"FunctionName": f}) for f in functions]
    for label, call, kwargs in checks:
        if _exists(call, **kwargs):
            found.append(label)
    return found
