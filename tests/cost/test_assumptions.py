"""The cost model's metric series are the ones the handlers publish (each is $0.30 a month)."""

from __future__ import annotations

import re
from pathlib import Path

from tools.cost.workload import Assumptions

ROOT = Path(__file__).resolve().parents[2]


def _series(path: str) -> list[str]:
    return re.findall(r'add_metric\(name="(\w+)"', (ROOT / path).read_text())


def test_each_handler_publishes_the_series_the_model_prices() -> None:
    a = Assumptions()
    assert _series("producer/handler.py") == ["FailedPairs"] and a.producer_metrics == 1
    assert _series("consumer/handler.py") == [] and a.consumer_metrics == 0
    assert _series("archive_transform/handler.py") == [] and a.transform_metrics == 0


def test_the_rollup_schedule_sets_the_rollup_runs() -> None:
    from tools.cost.settings import load_cost_settings, schedule_runs_per_day

    assert schedule_runs_per_day("rate(1 hour)") == 24
    assert schedule_runs_per_day("rate(15 minutes)") == 96
    assert schedule_runs_per_day("rate(2 days)") == 0.5
    assert schedule_runs_per_day("cron(0 * * * ? *)") == 24
    assert schedule_runs_per_day("cron(5 0,12 * * ? *)") == 2
    assert schedule_runs_per_day("cron(0/15 * * * ? *)") == 96
    assert load_cost_settings(ROOT).rollup_runs_per_day == 24  # the repository's cdk.json: rate(1 hour)
