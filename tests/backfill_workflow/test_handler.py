"""The backfill state machine's Lambda: the plan the Map state iterates, and the report that fails on a failed chunk."""

from __future__ import annotations

import pytest

from backfill_workflow.handler import BackfillIncomplete, lambda_handler
from cryptostream_model.backfill import PlanError, plan_backfill

REQUEST = {"source": "alphavantage", "pairs": ["BTC-USD", "ETH-USD"], "interval": "5min",
           "start": "2026-11-01", "end": "2026-11-03", "max_bars_per_run": 300}


def test_plan_is_the_shared_planners_plan_with_each_chunks_interval():
    plan = lambda_handler({"action": "plan", "request": REQUEST}, None)
    assert plan == plan_backfill(REQUEST).to_dict()
    assert {chunk["interval"] for chunk in plan["chunks"]} == {"5min"}
    assert isinstance(plan["pause_seconds"], int)  # a Wait state's SecondsPath


def test_a_bad_request_fails_the_plan_step():
    with pytest.raises(PlanError, match="spot"):
        lambda_handler({"action": "plan", "request": REQUEST | {"interval": "spot"}}, None)


def test_report_adds_up_and_fails_when_a_chunk_failed():
    done = [{"id": "0000-000", "published": 10, "skipped_seen": 2, "failed_pairs": {}},
            {"id": "0001-000", "published": 5, "skipped_seen": 0, "failed_pairs": {}}]
    assert lambda_handler({"action": "report", "backfill_id": "b", "results": done}, None) == {
        "backfill_id": "b", "chunks": 2, "chunks_failed": [], "published": 15, "skipped_seen": 2,
    }
    partial = [*done, {"id": "0002-000", "published": 3, "skipped_seen": 0, "failed_pairs": {"ETH-USD": "x"}},
               {"id": "0003-000", "error": "States.TaskFailed", "cause": "timeout"},
               {"id": "0004-000", "published": 1, "skipped_seen": 0, "failed_pairs": {},
                "deferred_pairs": {"SOL-USD": "daily request budget spent"}}]
    with pytest.raises(BackfillIncomplete, match="3 of 5 chunks failed: 0002-000, 0003-000, 0004-000"):
        lambda_handler({"action": "report", "backfill_id": "b", "results": partial}, None)
