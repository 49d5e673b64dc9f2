"""What an estimate means: which setting dominates the bill, what changing it saves, and effects to know."""

from __future__ import annotations

from dataclasses import dataclass, replace

from tools.cost.model import KINESIS_RECORDS_PER_SHARD_SECOND, CostReport, LineItem, estimate, shards_needed
from tools.cost.prices import PriceBook
from tools.cost.workload import MAX_FIREHOSE_BUFFER_SECONDS, Workload

EXCLUDED = (
    "Not priced: the Flink Studio notebook (KPU-hours, only while it runs), the Glue Data Catalog (within its free "
    "tier), the Athena DynamoDB connector's Lambda (only during federated queries), data transfer (nothing leaves "
    "the region); market data is listed beside the AWS total."
)
MAX_LISTED_UNVERIFIED = 8
FIXED_SERVICES = ("CloudWatch", "KMS", "Secrets Manager")
FIXED_ITEMS = ("EMF custom metrics", "Alarms", "Dashboard", "Customer managed keys", "Secrets")
FREE_TIERS = (
    "List prices: free tiers (Lambda 1M requests + 400,000 GB-s, SQS 1M requests, KMS 20,000 requests, CloudWatch "
    "10 metrics / 10 alarms / 3 dashboards / 5 GB logs, DynamoDB 25 GB, X-Ray 100,000 traces, Step Functions 4,000 "
    "state transitions) are not subtracted; the account shares them."
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The line item that dominates the bill and a sentence saying what to change."""

    service: str
    item: str
    share: float
    sentence: str
    alternative_usd: float | None = None


def _lower_first(name: str) -> str:
    """``Alarms`` -> ``alarms`` but ``EMF custom metrics`` stays."""
    return name[0].lower() + name[1:] if name[1:2].islower() else name


def quantity_text(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _money(usd: float) -> str:
    return f"${usd:,.2f}"


def _alternative(report: CostReport, book: PriceBook, **changes: object) -> CostReport:
    return estimate(replace(report.workload, **changes), book, report.assumptions)


def _on_demand_verdict(report: CostReport, book: PriceBook, top: LineItem, share: float) -> Verdict:
    shards = shards_needed(report.workload, report.assumptions)
    alt = _alternative(report, book, shards=shards)
    saving = report.total_usd - alt.total_usd
    head = f"Kinesis on-demand stream-hours are {share:.0%} of the bill (--shards 0)"
    if saving <= 0:
        sentence = f"{head}; a {shards}-shard provisioned stream would not be cheaper at this volume."
    else:
        sentence = (
            f"{head}: with up to {shards * KINESIS_RECORDS_PER_SHARD_SECOND:,} pairs, a {shards}-shard provisioned "
            f"stream (--shards {shards}) costs {_money(saving)} less a month ({_money(alt.total_usd)} instead of "
            f"{_money(report.total_usd)})."
        )
    return Verdict(top.service, top.name, share, sentence, alt.total_usd)


def _shard_verdict(report: CostReport, book: PriceBook, top: LineItem, share: float) -> Verdict:
    w = report.workload
    needed = shards_needed(w, report.assumptions)
    head = f"Kinesis shard-hours are {share:.0%} of the bill (--shards {w.shards})"
    if w.shards > needed:
        alt = _alternative(report, book, shards=needed)
        return Verdict(
            top.service,
            top.name,
            share,
            f"{head}: {needed} shard(s) carry this load; --shards {needed} saves "
            f"{_money(report.total_usd - alt.total_usd)} a month.",
            alt.total_usd,
        )
    alt = _alternative(report, book, shards=0)
    if alt.total_usd < report.total_usd:
        return Verdict(
            top.service,
            top.name,
            share,
            f"{head}: an on-demand stream (--shards 0) would cost "
            f"{_money(report.total_usd - alt.total_usd)} less a month.",
            alt.total_usd,
        )
    return Verdict(
        top.service,
        top.name,
        share,
        f"{head}: the stream's fixed hourly price dominates at this volume; it is already the cheapest "
        "mode that carries the load.",
    )


def _buffer_verdict(report: CostReport, book: PriceBook, top: LineItem, share: float, why: str) -> Verdict:
    w = report.workload
    head = f"{top.service} {top.name.lower()} are {share:.0%} of the bill: {why}"
    if w.firehose_buffer_seconds >= MAX_FIREHOSE_BUFFER_SECONDS:
        return Verdict(top.service, top.name, share, f"{head}; compacting the archive would cut them.")
    alt = _alternative(report, book, firehose_buffer_seconds=MAX_FIREHOSE_BUFFER_SECONDS)
    return Verdict(
        top.service,
        top.name,
        share,
        f"{head}; firehose_buffer_seconds {MAX_FIREHOSE_BUFFER_SECONDS} in cdk.json (now "
        f"{w.firehose_buffer_seconds}) would save {_money(report.total_usd - alt.total_usd)} a month.",
        alt.total_usd,
    )


def dominant(report: CostReport, book: PriceBook) -> Verdict:
    """The costliest service and its largest line item, as a sentence naming the setting behind it."""
    total = report.total_usd
    service = max(report.services, key=lambda s: s.monthly_usd)
    top = max(service.items, key=lambda item: item.monthly_usd)
    share = top.monthly_usd / total if total else 0.0
    service_share = service.monthly_usd / total if total else 0.0
    w = report.workload
    if top.name == "On-demand stream-hours":
        return _on_demand_verdict(report, book, top, share)
    if top.name == "Shard-hours":
        return _shard_verdict(report, book, top, share)
    if top.name in ("Dynamic partitioning: objects", "PUT requests", "LIST requests: rollups", "GET requests: rollups"):
        why = f"Firehose writes one small object per pair every {w.firehose_buffer_seconds} s"
        return _buffer_verdict(report, book, top, share, why)
    if service.service == "Data Firehose":
        sentence = (
            f"Firehose is {service_share:.0%} of the bill: {top.note}, so it is priced on that multiple of "
            "the real volume."
        )
        return Verdict(service.service, top.name, service_share, sentence)
    if service.service == "DynamoDB":
        sentence = (
            f"DynamoDB is {service_share:.0%} of the bill, mostly writes: each bar of {w.pairs} pairs at "
            f"--interval {w.interval} is written once and moves its pair's LATEST item (2 WRU, "
            "transactional) and index entry (1 WRU); cost scales with pairs / interval."
        )
        return Verdict(service.service, top.name, service_share, sentence)
    if top.name == "Producer duration":
        sentence = (
            f"Producer duration is {share:.0%} of the bill: one Alpha Vantage call per pair per run "
            f"({report.volumes.runs:,.0f} runs a month at --interval {w.interval})."
        )
        return Verdict(service.service, top.name, share, sentence)
    if service.service in FIXED_SERVICES:
        fixed = ", ".join(
            f"{quantity_text(i.quantity)} {_lower_first(i.name)}" for i in service.items if i.name in FIXED_ITEMS
        )
        sentence = (
            f"{service.service} is {service_share:.0%} of the bill: {fixed} are fixed monthly charges of the "
            "deployment, whatever the pairs and interval; at this volume the data path itself costs little."
        )
        return Verdict(service.service, top.name, service_share, sentence)
    sentence = f"{service.service} is {service_share:.0%} of the bill, led by {top.name}."
    return Verdict(service.service, top.name, service_share, sentence)


def notes(report: CostReport) -> list[str]:
    """Effects worth knowing whatever dominates, and what the estimate leaves out."""
    found: list[str] = []
    ingest = report.item("Data Firehose", "Ingestion")
    conversion = report.item("Data Firehose", "Parquet conversion")
    found.append(
        f"Firehose rounds every record up to 5 KB: {ingest.note}, so ingestion + Parquet conversion cost "
        f"{_money(ingest.monthly_usd + conversion.monthly_usd)} instead of "
        f"{_money((ingest.monthly_usd + conversion.monthly_usd) * report.assumptions.record_bytes / 5120)}."
    )
    ddb = next(s for s in report.services if s.service == "DynamoDB")
    writes = [i for i in ddb.items if i.name.startswith("Writes")]
    latest = sum(i.monthly_usd for i in writes if "LATEST" in i.name or "index" in i.name)
    all_writes = sum(i.monthly_usd for i in writes)
    if all_writes:
        found.append(
            f"LATEST moves (transactional, 2 WRU) and their index copy are {latest / all_writes:.0%} of "
            "DynamoDB write cost."
        )
    unverified = report.unverified_prices()
    if unverified:
        listed = unverified if len(unverified) <= MAX_LISTED_UNVERIFIED else []
        keys = ", ".join(price.key for price in listed) or f"most of {report.region_name}'s prices"
        found.append(
            f"{len(unverified)} prices used are best-known figures not confirmed from a stored source "
            f"(verified=false in prices.json): {keys}."
        )
    found.append(
        "Only the --interval schedule (default: cdk.json's busiest) is modelled; cdk.json's other schedules add "
        "their own runs."
    )
    found.append(FREE_TIERS)
    found.append(EXCLUDED)
    return found


def describe(workload: Workload) -> str:
    mode = "on-demand" if workload.on_demand else f"{workload.shards} provisioned shard(s)"
    return f"{workload.pairs} pairs at {workload.interval} in {workload.region}, {mode} stream"
