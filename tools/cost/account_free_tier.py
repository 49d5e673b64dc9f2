"""The bill of an account whose AWS always-free allowances this deployment uses alone.

The estimate's total is at list prices: free tiers are shared by everything in an account, so they are
never subtracted from it. A hobbyist's own account often runs nothing else; this is what that account pays.
The allowances are the ``free_tier`` figures of ``prices.json`` (always free, not the 12-month trial), per
price key, in the units the line items count.
"""

from __future__ import annotations

from collections import defaultdict

from tools.cost.model import CostReport

ALWAYS_FREE: dict[str, float] = {
    "lambda.request": 1_000_000,
    "lambda.gb_second": 400_000,
    "dynamodb.storage_gb_month": 25,
    "cloudwatch.metric_month": 10,
    "cloudwatch.alarm_month": 10,
    "cloudwatch.dashboard_month": 3,
    "cloudwatch.logs_ingest_gb": 5,
    "sqs.request": 1_000_000,
    "kms.request": 20_000,
    "xray.trace_recorded": 100_000,
    "stepfunctions.state_transition": 4_000,
}


def free_tier_saving(report: CostReport) -> float:
    """Dollars a month the always-free allowances take off the list-price total (all items of one price share)."""
    quantities: dict[str, float] = defaultdict(float)
    prices = {}
    for item in report.items():
        if item.price.key in ALWAYS_FREE:
            quantities[item.price.key] += item.quantity
            prices[item.price.key] = item.price
    return sum(prices[key].cost(min(quantity, ALWAYS_FREE[key])) for key, quantity in quantities.items())


def free_tier_note(report: CostReport) -> str:
    saving = free_tier_saving(report)
    return (
        f"In an account where nothing else uses AWS's always-free allowances (CloudWatch 10 metrics, 10 alarms, "
        f"3 dashboards, 5 GB logs; Lambda 1M requests and 400,000 GB-s; X-Ray 100,000 traces; KMS 20,000 requests; "
        f"SQS 1M requests; DynamoDB 25 GB; Step Functions 4,000 transitions), this bill is "
        f"${report.total_usd - saving:,.2f} a month "
        f"(${saving:,.2f} less than the list-price total above)."
    )
