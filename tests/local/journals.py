"""Journals written by hand for the tests that need one moto cannot replay."""

from __future__ import annotations

import json
from pathlib import Path

from local import wal
from local.journal import JOURNAL_FILE, _encode


def write_unreplayable_journal(home: Path, seq: int) -> None:
    """One PutItem into a table that never existed, journaled as having succeeded (status 200)."""
    meta = {
        "k": "req",
        "seq": seq,
        "t": 1_700_000_000,
        "action": "PutItem",
        "method": "POST",
        "path": "/",
        "query": "",
        "headers": {
            "x-amz-target": "DynamoDB_20120810.PutItem",
            "content-type": "application/x-amz-json-1.0",
            "authorization": "AWS4-HMAC-SHA256 Credential=x/20231114/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
        "host": "localhost",
    }
    body = json.dumps({"TableName": "missing", "Item": {"pk": {"S": "x"}}}).encode()
    (home / JOURNAL_FILE).write_bytes(
        wal.encode(_encode(meta, body)) + wal.encode(_encode({"k": "out", "seq": seq, "s": 200}))
    )
