"""The cost model's fixed counts are the stack's: keys, alarms, dashboards, secrets and metric series."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from infra.observability import METRICS_NAMESPACE
from tools.cost.workload import Assumptions

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = ("producer/handler.py", "consumer/handler.py", "archive_transform/handler.py")


def _custom_series(synth) -> set[tuple[str, str]]:
    """(metric name, dimensions) of the custom namespace that the alarms and the dashboard read."""
    found = set()
    for alarm in synth.resources("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("Namespace") == METRICS_NAMESPACE:
            found.add((props["MetricName"], json.dumps(props.get("Dimensions"), sort_keys=True)))
    body = json.dumps(synth.one("AWS::CloudWatch::Dashboard")["DashboardBody"])
    for name in re.findall(rf'\\\\"{METRICS_NAMESPACE}\\\\",\\\\"([A-Za-z]+)\\\\"', body):
        found.add((name, "dashboard"))
    return found


def test_the_cost_model_prices_what_the_stack_deploys(synth) -> None:
    assumptions = Assumptions()
    deployed = {
        "kms_keys": len(synth.resources("AWS::KMS::Key")),
        "alarms": len(synth.resources("AWS::CloudWatch::Alarm")),
        "dashboards": len(synth.resources("AWS::CloudWatch::Dashboard")),
        "secrets": len(synth.resources("AWS::SecretsManager::Secret")),
    }
    assert {name: getattr(assumptions, name) for name in deployed} == deployed


def test_the_cost_model_prices_every_metric_series_the_handlers_publish(synth) -> None:
    """Each EMF series costs $0.30 a month: the handlers publish exactly the series the stack reads (one
    dimension, ``service``), and the model prices that many."""
    published = {
        name
        for path in HANDLERS
        for name in re.findall(r'add_metric\(name="(\w+)"', (ROOT / path).read_text())
    }
    read = _custom_series(synth)
    assert published == {name for name, _ in read}
    alarmed = {name for name, dimensions in read if dimensions != "dashboard"}
    assert alarmed == published, "a series no alarm reads belongs in the logs (docs/cost.md)"
    a = Assumptions()
    assert a.producer_metrics + a.consumer_metrics + a.transform_metrics == len(published)
