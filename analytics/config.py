"""Names the analytics needs, read from the one configuration (``cdk.json``) with the environment on top."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"
_DEFAULTS = {
    "archive_bucket_name": "cryptostream-archive",
    "table_name": "cryptostream-quotes",
    "glue_database": "cryptostream",
    "athena_workgroup": "cryptostream",
    "athena_catalog_name": "cryptostream-ddb",
    "pairs": ["BTC-USD", "ETH-USD", "SOL-USD"],
}


@dataclass(frozen=True)
class AnalyticsConfig:
    archive_bucket: str
    table_name: str
    glue_database: str
    athena_workgroup: str
    athena_catalog: str
    pairs: tuple[str, ...]
    region: str
    endpoint_url: str | None


@lru_cache(maxsize=1)
def _cdk_context() -> dict[str, object]:
    try:
        return json.loads(_CDK_JSON.read_text())["context"]["cryptostream"]
    except (OSError, ValueError, KeyError):
        return {}  # installed without the repository: fall back to the documented defaults


def load_config() -> AnalyticsConfig:
    """cdk.json values; ``TABLE_NAME``, ``ARCHIVE_BUCKET``, ``AWS_ENDPOINT_URL`` and the region override them."""
    ctx = {**_DEFAULTS, **_cdk_context()}
    return AnalyticsConfig(
        archive_bucket=os.environ.get("ARCHIVE_BUCKET") or str(ctx["archive_bucket_name"]),
        table_name=os.environ.get("TABLE_NAME") or str(ctx["table_name"]),
        glue_database=str(ctx["glue_database"]),
        athena_workgroup=str(ctx["athena_workgroup"]),
        athena_catalog=str(ctx["athena_catalog_name"]),
        pairs=tuple(str(p) for p in ctx["pairs"]),  # type: ignore[union-attr]
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
    )
