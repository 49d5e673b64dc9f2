"""The consumer a first version would be: decode, validate, one PutItem per record.

The comparison point for the real consumer: same decoding and validation (the shared contract's
``parse_record``) and the same history item, but no batching, no dedupe, no LATEST item, no
Powertools. Poison is skipped (the real consumer quarantines it), so the naive one does less work.
"""

from __future__ import annotations

import base64
from typing import Any

from consumer.items import bar_item, iso_millis
from cryptostream_model.keys import table_pk
from cryptostream_model.record import PoisonRecord, parse_record


def naive_handler(event: dict[str, Any], dynamodb: Any, table: str, history_ttl_days: int = 30) -> int:
    """Write every valid record of a Lambda Kinesis event with its own PutItem; returns requests made."""
    requests = 0
    for record in event["Records"]:
        kinesis = record["kinesis"]
        try:
            quote = parse_record(base64.b64decode(kinesis["data"]))
        except PoisonRecord:
            continue
        pk = table_pk(f"{quote.symbol}-{quote.market}", quote.interval)
        item = bar_item(quote, pk, iso_millis(float(kinesis["approximateArrivalTimestamp"])), history_ttl_days)
        dynamodb.put_item(TableName=table, Item=item)
        requests += 1
    return requests
