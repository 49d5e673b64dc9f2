"""Producer run leases left behind by a local process that died (kill -9, Ctrl-C mid-run).

In AWS a dead run's lease simply expires (15 minutes). Locally the owner of a lease is a process on
this machine (``PRODUCER_LEASE_OWNER`` = ``local.owner.identity()``, set by the local stack), so a
lease whose owner is gone can be released at once instead of silencing every scheduled run until it
expires. The delete is conditional on the owner, so a lease a live run took meanwhile is never touched.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from cryptostream_model import INTERVALS
from cryptostream_model.keys import LEASE_SK, lease_pk
from cryptostream_model.sources import SOURCES
from local import owner


def release_orphaned_leases(dynamodb: Any, table_name: str, intervals: tuple[str, ...] = INTERVALS) -> list[str]:
    """Release every lease (of every source and interval) whose local owner process is gone; one line per lease."""
    released = []
    for source, interval in ((source, interval) for source in SOURCES for interval in intervals):
        key = {"pk": {"S": lease_pk(interval, source)}, "sk": {"S": LEASE_SK}}
        item = dynamodb.get_item(TableName=table_name, Key=key, ConsistentRead=True).get("Item")
        holder = (item or {}).get("owner", {}).get("S")
        if not holder or not owner.is_gone(holder):
            continue
        try:
            dynamodb.delete_item(
                TableName=table_name,
                Key=key,
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": holder}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            continue
        released.append(
            f"released the {source} {interval} producer lease of {holder.split('/', 1)[-1]}: "
            f"its process (pid {owner.pid_of(holder)}) is gone"
        )
    return released
