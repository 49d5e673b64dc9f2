"""Region switch, on-demand vs provisioned, and the sentence saying what dominates the bill."""

from __future__ import annotations

import pytest

from tools.cost.advice import dominant, notes
from tools.cost.model import estimate
from tools.cost.prices import load_price_book
from tools.cost.workload import Assumptions, Workload


@pytest.fixture(scope="module")
def book():
    return load_price_book()


def test_region_switch_prices_every_item_from_that_region(book):
    workload = Workload(pairs=10, interval="1min")
    virginia = estimate(workload, book)
    ireland = estimate(Workload(pairs=10, interval="1min", region="eu-west-1"), book)
    assert ireland.region_name == "Europe (Ireland)"
    eu_prices = book.region("eu-west-1")
    for item in ireland.items():
        assert item.price is eu_prices[item.price.key]
    # same volumes, different prices
    assert [i.quantity for i in ireland.items()] == [i.quantity for i in virginia.items()]
    assert ireland.item("Kinesis Data Streams", "On-demand stream-hours").monthly_usd == pytest.approx(730 * 0.044)
    assert ireland.item("CloudWatch", "Logs ingestion").monthly_usd == pytest.approx(
        virginia.item("CloudWatch", "Logs ingestion").quantity * 0.57
    )
    assert ireland.total_usd > virginia.total_usd


def test_provisioned_stream_prices_shard_hours_and_put_units(book):
    report = estimate(Workload(pairs=10, interval="1min", shards=1), book)
    kinesis = next(s for s in report.services if s.service == "Kinesis Data Streams")
    assert [i.name for i in kinesis.items] == ["Shard-hours", "PUT payload units"]
    assert report.item("Kinesis Data Streams", "Shard-hours").monthly_usd == pytest.approx(730 * 0.015)
    # 438,000 records of 350 B: one 25 KB payload unit each
    assert report.item("Kinesis Data Streams", "PUT payload units").quantity == pytest.approx(438_000)
    assert report.item("Kinesis Data Streams", "PUT payload units").monthly_usd == pytest.approx(0.438 * 0.014)
    # one shard: one consumer invocation per run instead of one per busy on-demand shard
    assert report.volumes.consumer_invocations == pytest.approx(43_800)


def test_on_demand_stream_prices_stream_hours_and_data(book):
    report = estimate(Workload(pairs=10, interval="1min", shards=0), book)
    kinesis = next(s for s in report.services if s.service == "Kinesis Data Streams")
    assert [i.name for i in kinesis.items] == ["On-demand stream-hours", "Data ingested", "Data retrieved"]
    assert report.volumes.consumer_invocations == pytest.approx(43_800 * 4)


def test_small_on_demand_bill_is_dominated_by_stream_hours_and_one_shard_saves(book):
    on_demand = estimate(Workload(pairs=10, interval="1min"), book)
    one_shard = estimate(Workload(pairs=10, interval="1min", shards=1), book)
    verdict = dominant(on_demand, book)
    assert verdict.item == "On-demand stream-hours"
    assert verdict.share == pytest.approx(29.20 / on_demand.total_usd)
    assert verdict.alternative_usd == pytest.approx(one_shard.total_usd)
    saving = on_demand.total_usd - one_shard.total_usd
    assert saving > 15
    assert f"(--shards 1) costs ${saving:,.2f} less" in verdict.sentence
    assert f"are {verdict.share:.0%} of the bill" in verdict.sentence


def test_over_provisioned_stream_is_told_how_many_shards_it_needs(book):
    report = estimate(Workload(pairs=10, interval="1min", shards=4), book)
    verdict = dominant(report, book)
    assert verdict.item == "Shard-hours"
    assert "--shards 1 saves" in verdict.sentence
    assert verdict.alternative_usd == pytest.approx(
        estimate(Workload(pairs=10, interval="1min", shards=1), book).total_usd
    )


def test_under_provisioned_stream_warns_of_throttling(book):
    report = estimate(Workload(pairs=2500, interval="5min", shards=1), book)
    assert any("throttled" in w and "--shards 3" in w for w in report.warnings)


def test_large_bills_name_dynamodb_writes(book):
    report = estimate(Workload(pairs=2000, interval="1min", shards=2, rollup_runs_per_day=0), book)
    verdict = dominant(report, book)
    assert verdict.service == "DynamoDB"
    assert "LATEST" in verdict.sentence


def test_hourly_rollups_over_many_small_objects_lead_large_bills(book):
    """The rollup queries read the changed days' small objects again (the plan no longer lists the archive: it
    reads the change log)."""
    report = estimate(Workload(pairs=100, interval="1min", shards=1, firehose_buffer_seconds=300), book)
    verdict = dominant(report, book)
    assert (verdict.service, verdict.item) == ("S3", "GET requests: rollups")
    assert "firehose_buffer_seconds 900" in verdict.sentence
    assert report.item("S3", "LIST requests: rollups").monthly_usd < 1.0


def test_slow_producer_runs_are_flagged(book):
    report = estimate(Workload(pairs=400, interval="1min"), book)
    assert any("runs would overlap" in w for w in report.warnings)
    assert estimate(Workload(pairs=10, interval="1min"), book).warnings == ()


def test_notes_state_the_firehose_rounding_and_unverified_prices(book):
    report = estimate(Workload(pairs=10, interval="1min"), book)
    remarks = notes(report)
    assert any("5 KB" in n and "14.6x" in n for n in remarks)
    unverified = [p.key for p in report.unverified_prices()]
    assert "firehose.format_conversion_gb" in unverified
    assert any(all(key in n for key in unverified) for n in remarks)
    # an all-unverified region says so for more prices
    ireland = estimate(Workload(pairs=10, interval="1min", region="eu-west-1"), book)
    assert len(ireland.unverified_prices()) > len(unverified)


def test_a_small_provisioned_bill_is_led_by_its_one_shard(book):
    report = estimate(Workload(pairs=10, interval="1min", shards=1), book)
    verdict = dominant(report, book)
    assert (verdict.service, verdict.item) == ("Kinesis Data Streams", "Shard-hours")
    assert "it is already the cheapest mode that carries the load" in verdict.sentence


def test_fixed_monitoring_charges_are_named_when_they_lead(book):
    report = estimate(Workload(pairs=10, interval="1min", shards=1), book, Assumptions(consumer_metrics=40))
    verdict = dominant(report, book)
    assert verdict.service == "CloudWatch"
    assert "41 EMF custom metrics, 15 alarms, 1 dashboard are fixed monthly charges" in verdict.sentence


def test_the_rollup_plan_reads_the_change_log_not_the_archive(book):
    """1,000 pairs make 35 million archive objects by month 12: the plan used to list them all each run (past
    Lambda's timeout); it drains the hour's notifications instead (~4,000) and lists only the rollups prefix."""
    report = estimate(Workload(pairs=1000, interval="5min", shards=1), book)
    assert not any("rollup" in w for w in report.warnings)
    assert report.volumes.change_log_messages_per_run == pytest.approx(4000)
    assert report.volumes.rollup_objects_listed_per_run == 1000 * 12 * 2 + 3
    receives = report.item("SQS", "Rollups change log requests")
    assert receives.quantity == pytest.approx(report.volumes.firehose_objects + report.volumes.rollup_runs * 801)
    # A plan drains at most 20,000 messages: more in an hour is flagged (the rest waits for later runs).
    busy = estimate(Workload(pairs=6000, interval="1min", shards=6, firehose_buffer_seconds=60), book)
    assert any("change-log messages, over the 20,000 a plan drains" in w for w in busy.warnings)
