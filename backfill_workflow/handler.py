"""Backfill state machine steps that need code: ``plan`` (the request into chunks) and ``report`` (the outcome).

``{"action": "plan", "request": {source, pairs, interval, start, end, ...}}`` returns the plan of
``cryptostream_model.backfill`` (the same planner ``cryptostream backfill`` runs locally): the Map state iterates
its ``chunks``. A request that cannot be planned raises ``PlanError`` (the execution fails at once; retrying it
would not help). ``{"action": "report", "backfill_id": ..., "results": [...]}`` adds up the per-chunk results
and raises ``BackfillIncomplete`` naming the failed chunks, so the execution fails (and its alarm fires) while
each chunk's own result stays in the execution's history; rerunning the same request resumes it.

The outcome as a metric is the state machine's own (AWS/States ``ExecutionsSucceeded`` / ``ExecutionsFailed``,
alarmed on); the report is logged as one structured line. The function calls no AWS API: its role has its log
group and X-Ray only.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger

from cryptostream_model.backfill import PlanError, plan_backfill

logger = Logger(service=os.getenv("POWERTOOLS_SERVICE_NAME", "cryptostream-backfill"))


class BackfillIncomplete(RuntimeError):
    """Some chunks failed; their pairs resume from their marks when the same request runs again."""


def chunk_ok(result: dict[str, Any]) -> bool:
    """A chunk's result from the Map state: ``{id, published, skipped_seen, failed_pairs, deferred_pairs}`` after a
    producer run, ``{id, error, cause}`` when it failed after its retries or was not run (budget spent)."""
    return "error" not in result and not result.get("failed_pairs") and not result.get("deferred_pairs")


def report(backfill_id: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    failed = [str(r.get("id")) for r in results if not chunk_ok(r)]
    summary = {
        "backfill_id": backfill_id,
        "chunks": len(results),
        "chunks_failed": failed,
        "published": sum(int(r.get("published") or 0) for r in results),
        "skipped_seen": sum(int(r.get("skipped_seen") or 0) for r in results),
    }
    logger.info("backfill finished", extra={"summary": summary})
    if failed:
        raise BackfillIncomplete(f"{len(failed)} of {len(results)} chunks failed: {', '.join(failed[:20])}")
    return summary


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    action = event.get("action")
    if action == "plan":
        try:
            plan = plan_backfill(event.get("request") or {})
        except PlanError as exc:
            logger.error("backfill request refused", extra={"error": str(exc)})
            raise
        logger.info("backfill planned", extra={"backfill_id": plan.backfill_id, "chunks": len(plan.chunks)})
        return plan.to_dict()
    if action == "report":
        return report(str(event.get("backfill_id")), list(event.get("results") or []))
    raise ValueError(f"unknown action {action!r}; expected 'plan' or 'report'")
