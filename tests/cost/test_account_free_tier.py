"""What an account that uses AWS's always-free allowances for this deployment alone pays."""

from __future__ import annotations

import pytest

from tools.cost.account_free_tier import free_tier_saving
from tools.cost.model import estimate
from tools.cost.prices import load_price_book
from tools.cost.workload import Workload


@pytest.fixture(scope="module")
def book():
    return load_price_book()


def test_small_deployment_saving_by_hand(book):
    """Capped items (X-Ray traces, KMS requests, alarms) save their allowance; the rest save what they cost."""
    report = estimate(Workload(pairs=3, interval="spot", shards=1), book)
    q = {name: report.item(service, name).quantity for service, name in (
        ("CloudWatch", "Logs ingestion"), ("Lambda", "Producer duration"), ("Lambda", "Consumer duration"),
        ("Lambda", "Archive transform duration"), ("Lambda", "Producer requests"), ("Lambda", "Consumer requests"),
        ("Lambda", "Archive transform requests"), ("DynamoDB", "Storage"), ("SQS", "Quarantine requests"),
        ("SQS", "Rollups change log requests"),
        ("Lambda", "Rollup duration"), ("Lambda", "Rollup requests"),
        ("Step Functions", "Rollups: state transitions"), ("X-Ray", "Traces recorded"),
    )}  # fmt: skip
    expected = (
        1 * 0.30  # the one metric series, within the 10 free
        + 10 * 0.10  # 10 of the alarms
        + 3.00  # the dashboard
        + q["Logs ingestion"] * 0.50
        + (q["Producer duration"] + q["Consumer duration"] + q["Archive transform duration"] + q["Rollup duration"])
        * 1.66667e-05
        + (q["Producer requests"] + q["Consumer requests"] + q["Archive transform requests"] + q["Rollup requests"])
        * 0.2
        / 1e6
        + min(q["Rollups: state transitions"], 4_000) * 0.025 / 1_000
        + min(q["Traces recorded"], 100_000) * 5.0 / 1e6  # X-Ray: 100,000 traces free
        + 20_000 * 0.03 / 10_000  # KMS requests: over 20,000, 20,000 free
        + (q["Quarantine requests"] + q["Rollups change log requests"]) * 0.4 / 1e6
        + q["Storage"] * 0.25
    )
    assert free_tier_saving(report) == pytest.approx(expected, rel=1e-6)
    # 14.26 with the archive listing; 13.91 before the change log's dead-letter alarm
    assert report.total_usd - free_tier_saving(report) == pytest.approx(14.01, abs=0.01)
