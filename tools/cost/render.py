"""Present a cost report: rich tables (one per service) or one JSON object."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from tools.cost.advice import Verdict, describe
from tools.cost.model import CostReport, LineItem
from tools.cost.prices import Price

_PER_LABELS = {1: "", 1_000: "1K ", 10_000: "10K ", 1_000_000: "1M "}


def money(usd: float) -> str:
    """Dollars with cents; sub-cent amounts keep four decimals so they do not read as zero."""
    if usd == 0 or usd >= 0.01:
        return f"${usd:,.2f}"
    return f"${usd:.4f}"


def quantity(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value == int(value):
        return f"{value:.0f}"
    return f"{value:.4g}"


def _usd_rate(usd: float) -> str:
    """A rate without scientific notation and with at least cents: $0.0000166667, $0.20, $3.00."""
    digits = f"{usd:.10f}".rstrip("0")
    whole, _, fraction = digits.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def unit_price(price: Price) -> str:
    """``$0.625 / 1M write request unit``; a trailing ``*`` marks a figure no stored source confirmed."""
    label = _PER_LABELS.get(int(price.per), f"{price.per:,.0f} ")
    mark = "" if price.verified else " *"
    return f"{_usd_rate(price.usd)} / {label}{price.unit}{mark}"


def _service_table(service: str, items: tuple[LineItem, ...], subtotal: float) -> Table:
    table = Table(title=f"{service}: {money(subtotal)} / month", title_justify="left", expand=False)
    table.add_column("Item")
    table.add_column("Quantity", justify="right")
    table.add_column("Unit")
    table.add_column("Unit price")
    table.add_column("Monthly", justify="right")
    for item in items:
        name = f"{item.name}\n[dim]{item.note}[/dim]" if item.note else item.name
        table.add_row(name, quantity(item.quantity), item.unit, unit_price(item.price), money(item.monthly_usd))
    return table


def print_report(console: Console, report: CostReport, verdict: Verdict, notes: list[str]) -> None:
    console.print(
        f"[bold]Monthly AWS cost[/bold]: {describe(report.workload)} ({report.region_name}); "
        f"{report.volumes.records:,.0f} records a month; prices taken {report.prices_taken}"
    )
    for service in report.services:
        console.print(_service_table(service.service, service.items, service.monthly_usd))
    summary = Table(title="Total", title_justify="left")
    summary.add_column("Service")
    summary.add_column("Monthly", justify="right")
    summary.add_column("Share", justify="right")
    total = report.total_usd
    for service in sorted(report.services, key=lambda s: s.monthly_usd, reverse=True):
        share = service.monthly_usd / total if total else 0.0
        summary.add_row(service.service, money(service.monthly_usd), f"{share:.0%}")
    summary.add_row("[bold]Total[/bold]", f"[bold]{money(total)}[/bold]", "100%")
    console.print(summary)
    console.print(f"[bold]{verdict.sentence}[/bold]")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    for note in notes:
        console.print(f"- {note}")
    console.print("* price not confirmed from a stored source (see tools/cost/prices.json)")


def _item_dict(item: LineItem) -> dict[str, Any]:
    return {
        "name": item.name,
        "quantity": round(item.quantity, 6),
        "unit": item.unit,
        "unit_price_usd": item.price.usd,
        "price_per": item.price.per,
        "price_unit": item.price.unit,
        "price_key": item.price.key,
        "price_verified": item.price.verified,
        "monthly_usd": round(item.monthly_usd, 6),
        "note": item.note,
    }


def report_dict(report: CostReport, verdict: Verdict, notes: list[str]) -> dict[str, Any]:
    w = report.workload
    return {
        "inputs": {
            "pairs": w.pairs,
            "interval": w.interval,
            "region": w.region,
            "shards": w.shards,
            "capacity_mode": "on-demand" if w.on_demand else "provisioned",
            "consumer_batch": w.consumer_batch,
            "athena_gb_per_day": w.athena_gb_per_day,
            "athena_queries_per_day": w.athena_queries_per_day,
            "retention_days": w.retention_days,
            "firehose_buffer_seconds": w.firehose_buffer_seconds,
        },
        "volumes": {
            "producer_runs": round(report.volumes.runs, 3),
            "records": round(report.volumes.records, 3),
            "consumer_invocations": round(report.volumes.consumer_invocations, 3),
            "firehose_objects": round(report.volumes.firehose_objects, 3),
        },
        "assumptions": report.assumptions.as_dict(),
        "region_name": report.region_name,
        "prices_taken": report.prices_taken,
        "services": [
            {"service": s.service, "monthly_usd": round(s.monthly_usd, 6), "items": [_item_dict(i) for i in s.items]}
            for s in report.services
        ],
        "total_monthly_usd": round(report.total_usd, 6),
        "dominant": {
            "service": verdict.service,
            "item": verdict.item,
            "share": round(verdict.share, 4),
            "sentence": verdict.sentence,
            "alternative_monthly_usd": None if verdict.alternative_usd is None else round(verdict.alternative_usd, 6),
        },
        "warnings": list(report.warnings),
        "notes": notes,
    }


def report_markdown(report: CostReport, verdict: Verdict, notes: list[str]) -> str:
    """The same report as one Markdown table (for docs and pull requests)."""
    lines = [
        f"**{describe(report.workload)}** ({report.region_name}): {report.volumes.records:,.0f} records a month, "
        f"prices taken {report.prices_taken}.",
        "",
        "| Service | Item | Quantity | Unit | Unit price | Monthly |",
        "|---|---|--:|---|---|--:|",
    ]
    for service in report.services:
        for item in service.items:
            price = unit_price(item.price).replace("*", "\\*")
            lines.append(
                f"| {service.service} | {item.name} | {quantity(item.quantity)} | {item.unit} | {price} | "
                f"{money(item.monthly_usd)} |"
            )
        lines.append(f"| **{service.service}** | | | | | **{money(service.monthly_usd)}** |")
    lines.append(f"| **Total** | | | | | **{money(report.total_usd)}** |")
    lines += ["", f"**{verdict.sentence}**", ""]
    lines += [f"- warning: {warning}" for warning in report.warnings]
    lines += [f"- {note}" for note in notes]
    lines.append(
        "- \\* price not confirmed from a stored source (`verified: false` in `tools/cost/prices.json`)"
    )
    return "\n".join(lines)
