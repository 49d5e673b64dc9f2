"""Firehose transformation Lambda: ``archive_transform.handler.lambda_handler``.

Valid quotes -> ``Ok`` with canonical JSON and partition keys for ``!{partitionKeyFromLambda:...}``;
poison -> ``ProcessingFailed``, which Firehose writes under the error output prefix with the raw data.
"""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import KinesisFirehoseEvent, event_source
from aws_lambda_powertools.utilities.data_classes.kinesis_firehose_event import (
    KinesisFirehoseDataTransformationRecord,
    KinesisFirehoseDataTransformationRecordMetadata,
    KinesisFirehoseDataTransformationResponse,
)

from archive_transform.transform import judge

logger = Logger(service="cryptostream-archive-transform")


@event_source(data_class=KinesisFirehoseEvent)
def lambda_handler(event: KinesisFirehoseEvent, context: Any) -> dict[str, Any]:
    response = KinesisFirehoseDataTransformationResponse()
    failed = total = 0
    for record in event.records:
        total += 1
        verdict = judge(base64.b64decode(record.data))
        if verdict.ok:
            response.add_record(
                KinesisFirehoseDataTransformationRecord(
                    record_id=record.record_id,
                    result="Ok",
                    data=base64.b64encode(verdict.canonical_json()).decode("ascii"),
                    metadata=KinesisFirehoseDataTransformationRecordMetadata(partition_keys=verdict.partition_keys()),
                )
            )
        else:
            failed += 1
            response.add_record(
                KinesisFirehoseDataTransformationRecord(
                    record_id=record.record_id, result="ProcessingFailed", data=record.data
                )
            )
    # No metric series ($0.30 a month each): Firehose's own SucceedProcessing.Records and
    # DataReadFromKinesisStream.Records (free) show what was archived and what was not; the counts of each call
    # are in this log line, for Logs Insights (docs/cost.md).
    if failed:
        logger.warning("records kept out of the archive", extra={"failed": failed, "records": total})
    else:
        logger.info("records transformed", extra={"failed": 0, "records": total})
    return response.asdict()
