"""The rollups state machine's steps run in-process (Plan -> Rollup per batch -> Commit) against a bucket of an
embedded stack or moto, with ``FakeAthena`` answering the handler's Athena client."""

from __future__ import annotations

import os
from typing import Any
from unittest.mock import patch

from tests.rollup_workflow.fake_athena import FakeAthena


def run_steps(s3: Any, bucket: str, *, interval: str, database: str = "cryptostream",
              workgroup: str = "cryptostream") -> dict[str, Any]:
    """One execution of the rollups state machine over ``bucket`` (``s3``: a harness client reaching it)."""
    from rollup_workflow.handler import aws, lambda_handler

    env = {"ARCHIVE_BUCKET": bucket, "ARCHIVE_PREFIX": "quotes/", "ROLLUPS_PREFIX": "rollups/",
           "GLUE_DATABASE": database, "ARCHIVE_TABLE": "quotes", "ATHENA_WORKGROUP": workgroup,
           "SOURCE_INTERVAL": interval}
    with patch.dict(os.environ, env):
        fake = FakeAthena(s3, {f"{database}.quotes": (bucket, "quotes/")}, workgroup=workgroup,
                          output_location="s3://athena-results/results/", polls_before_done=0)
        athena = aws().client("athena")
        fake.install(athena)
        try:
            plan = lambda_handler({"action": "plan"}, None)
            results = [lambda_handler({"action": "rollup", "batch": b}, None) for b in plan["batches"]]
            commit = lambda_handler({"action": "commit", "watermarks": plan["watermarks"], "results": results}, None)
        finally:
            athena.meta.events.unregister("before-call.athena.*", fake._answer)
    return {"plan": plan, "results": results, "commit": commit}
