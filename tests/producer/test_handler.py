"""Producer runs against the market simulator (real alpha_vantage path over HTTP) and moto."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from producer import handler
from producer.errors import ConfigError
from producer.settings import Settings, plan_run
from producer.watermarks import RunLease, WatermarkStore
from tests.producer.conftest import API_KEY, STREAM, TABLE, FakeContext, stream_quotes
from tests.producer.test_publisher import FlakyKinesis


def settings_for(simulator, **overrides) -> Settings:
    values = dict(
        stream_name=STREAM,
        table_name=TABLE,
        pairs=("BTC-USD", "ETH-USD"),
        interval="5min",
        api_key=API_KEY,
        secret_arn=None,
        base_url=simulator.base_url,
        rate_limit_backoff_seconds=0.01,
    )
    return Settings(**{**values, **overrides})


def produce(moto, simulator, event=None, settings=None, context=None, now=None, **kwargs) -> dict:
    """One run; its summary as the Lambda returns it."""
    settings = settings or settings_for(simulator)
    return handler.run(
        plan_run(event or {}, settings),
        settings,
        context or FakeContext(),
        clients=moto,
        now=now or simulator.clock.timestamp,
        sleep=lambda _: None,
        **kwargs,
    ).as_event_result()


def watermarks(moto, pairs=("BTC-USD", "ETH-USD"), interval="5min") -> dict:
    return WatermarkStore(moto.client("dynamodb"), TABLE).get_many(list(pairs), interval)


def test_incremental_runs_publish_each_bar_once(moto, simulator):
    first = produce(moto, simulator)
    assert first["failed_pairs"] == {}
    assert (first["fetched"], first["published"], first["skipped_seen"]) == (200, 200, 0)
    assert first["newest_ts"] == {"BTC-USD": "2026-11-22T09:00:00Z", "ETH-USD": "2026-11-22T09:00:00Z"}
    assert first["kinesis_requests"] == 1 and first["alphavantage_requests"] == 2

    again = produce(moto, simulator)
    assert (again["published"], again["skipped_seen"]) == (0, 200)
    assert again["kinesis_requests"] == 0

    simulator.clock.advance(15 * 60)  # three more 5-minute bars close
    later = produce(moto, simulator)
    assert (later["published"], later["skipped_seen"]) == (6, 194)
    assert watermarks(moto) == {"BTC-USD": "2026-11-22T09:15:00Z", "ETH-USD": "2026-11-22T09:15:00Z"}

    in_stream = stream_quotes(moto.client("kinesis"))
    assert len(in_stream) == 206
    assert len({(q.pair, q.ts) for q in in_stream}) == 206  # no bar twice
    for pair in ("BTC-USD", "ETH-USD"):
        times = [q.ts for q in in_stream if q.pair == pair]
        assert times == sorted(times)  # each pair in ts order on its shard


def test_summary_shape(moto, simulator):
    summary = produce(moto, simulator)
    assert list(summary) == [
        "interval",
        "mode",
        "source",
        "pairs",
        "fetched",
        "published",
        "skipped_seen",
        "skipped_open",
        "out_of_range",
        "invalid_upstream",
        "failed_pairs",
        "deferred_pairs",
        "source_requests",
        "alphavantage_requests",
        "rate_limit_retries",
        "kinesis_requests",
        "kinesis_retries",
        "newest_ts",
        "duration_ms",
    ]  # docs/producer.md, "Summary"; the deployed-app proof reads these
    json.dumps(summary)  # JSON-serialisable, as a Lambda result must be


def test_a_crash_before_the_watermark_save_republishes_never_skips(moto, simulator, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("killed between PutRecords and the watermark save")

    monkeypatch.setattr(WatermarkStore, "advance", crash)
    with pytest.raises(RuntimeError):
        produce(moto, simulator)
    monkeypatch.undo()
    assert watermarks(moto) == {}

    retry = produce(moto, simulator)  # the lease was released; the same bars go out again
    assert retry["published"] == 200
    in_stream = stream_quotes(moto.client("kinesis"))
    copies = Counter((q.pair, q.ts) for q in in_stream)
    assert len(copies) == 200 and set(copies.values()) == {2}  # at least once: duplicates, no gaps
    assert watermarks(moto)["BTC-USD"] == "2026-11-22T09:00:00Z"


class DiesAtWatermarks:
    """The producer's DynamoDB client, except that the run dies when it saves its watermarks."""

    def __init__(self, client) -> None:
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def update_item(self, **kwargs):
        raise RuntimeError("killed between PutRecords and the watermark save")

    transact_write_items = update_item


@pytest.mark.parametrize("writes", ["per_pair", "transaction"])
def test_a_crash_at_the_watermark_save_republishes_in_either_write_mode(moto, simulator, writes):
    settings = settings_for(simulator, watermark_writes=writes)
    real = moto.client("dynamodb")
    moto.made["dynamodb"] = DiesAtWatermarks(real)
    with pytest.raises(RuntimeError, match="killed between PutRecords"):
        produce(moto, simulator, settings=settings)
    moto.made["dynamodb"] = real
    assert watermarks(moto) == {}
    assert produce(moto, simulator, settings=settings)["published"] == 200
    copies = Counter((q.pair, q.ts) for q in stream_quotes(moto.client("kinesis")))
    assert len(copies) == 200 and set(copies.values()) == {2}
    assert watermarks(moto) == {"BTC-USD": "2026-11-22T09:00:00Z", "ETH-USD": "2026-11-22T09:00:00Z"}


@pytest.mark.parametrize(
    ("writes", "watermark_writes"), [("per_pair", {"UpdateItem": 3}), ("transaction", {"TransactWriteItems": 1})]
)
def test_dynamodb_requests_per_run_on_the_steady_schedule(moto, simulator, writes, watermark_writes):
    """One new bar per pair per run: N+3 requests per run with per-pair writes, 4 with a transaction."""
    pairs = ("BTC-USD", "ETH-USD", "SOL-USD")
    settings = settings_for(simulator, pairs=pairs, watermark_writes=writes)
    produce(moto, simulator, settings=settings)  # the first run catches up on 100 bars per pair
    calls: Counter[str] = Counter()
    moto.client("dynamodb").meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
    for _ in range(2):
        simulator.clock.advance(5 * 60)
        assert produce(moto, simulator, settings=settings)["published"] == len(pairs)
    lease_and_reads = {"PutItem": 2, "BatchGetItem": 2, "DeleteItem": 2}
    assert calls == Counter({**lease_and_reads, **{op: 2 * count for op, count in watermark_writes.items()}})
    assert sum(calls.values()) / 2 == (len(pairs) + 3 if writes == "per_pair" else 4)
    assert watermarks(moto, pairs) == dict.fromkeys(pairs, "2026-11-22T09:10:00Z")


@pytest.mark.parametrize("writes", ["per_pair", "transaction"])
def test_watermark_stops_at_the_first_record_kinesis_refused(moto, simulator, writes):
    stuck = b'"symbol":"ETH","market":"USD","interval":"5min","ts":"2026-11-22T08:00:00Z"'
    flaky = FlakyKinesis(moto.client("kinesis"), lambda call, data: stuck in data)
    settings = settings_for(simulator, kinesis_max_attempts=3, watermark_writes=writes)
    summary = produce(moto, simulator, settings=settings, kinesis=flaky)
    assert summary["published"] == 199
    assert summary["kinesis_retries"] == 2
    assert "ETH-USD" in summary["failed_pairs"] and "kinesis" in summary["failed_pairs"]["ETH-USD"]
    assert "BTC-USD" not in summary["failed_pairs"]
    assert watermarks(moto) == {"BTC-USD": "2026-11-22T09:00:00Z", "ETH-USD": "2026-11-22T07:55:00Z"}

    healed = produce(moto, simulator)
    assert healed["published"] == 13  # ETH 08:00 … 09:00 again; nothing of BTC
    assert watermarks(moto)["ETH-USD"] == "2026-11-22T09:00:00Z"
    eth = {q.ts for q in stream_quotes(moto.client("kinesis")) if q.pair == "ETH-USD"}
    assert "2026-11-22T08:00:00Z" in eth and len(eth) == 100


def test_a_held_lease_skips_the_run(moto, simulator):
    RunLease(moto.client("dynamodb"), TABLE).acquire("5min", 600, owner="run-elsewhere")
    summary = produce(moto, simulator)
    assert summary == {
        "skipped": "lease held by run-elsewhere", "source": "alphavantage", "interval": "5min", "mode": "incremental"
    }
    assert simulator.stats.get("requests", 0) == 0
    assert stream_quotes(moto.client("kinesis")) == []


def test_the_lease_is_released_after_a_run(moto, simulator):
    produce(moto, simulator)
    key = {"pk": {"S": "PRODUCER#alphavantage#5min"}, "sk": {"S": "LEASE"}}
    item = moto.client("dynamodb").get_item(TableName=TABLE, Key=key)
    assert "Item" not in item


def test_one_failing_pair_does_not_stop_the_others(moto, simulator):
    summary = produce(moto, simulator, event={"pairs": ["BTC-USD", "NOPE-USD", "ETH-USD"]})
    assert list(summary["failed_pairs"]) == ["NOPE-USD"]
    assert summary["failed_pairs"]["NOPE-USD"].startswith("invalid_symbol: CRYPTO_INTRADAY")
    assert summary["published"] == 200
    assert summary["newest_ts"]["NOPE-USD"] is None


def test_premium_endpoint_fails_the_run_once_and_points_at_spot(moto, simulator):
    simulator.faults.update(premium_intraday=True)
    summary = produce(moto, simulator, event={"pairs": ["BTC-USD", "ETH-USD", "SOL-USD"]})
    assert set(summary["failed_pairs"]) == {"BTC-USD", "ETH-USD", "SOL-USD"}
    assert all("INTERVAL=spot" in reason for reason in summary["failed_pairs"].values())
    assert summary["alphavantage_requests"] == 1  # the other pairs would fail alike: no quota spent on them
    assert summary["published"] == 0

    spot = produce(moto, simulator, event={"interval": "spot"})  # the free alternative works
    assert spot["failed_pairs"] == {} and spot["published"] == 2
    quotes = stream_quotes(moto.client("kinesis"))
    assert {q.interval for q in quotes} == {"spot"}
    assert all(q.bid is not None and q.bid <= q.close <= q.ask for q in quotes)
    assert {q.ts for q in quotes} == {"2026-11-22T09:07:30Z"}


def test_short_rate_limits_are_retried_within_the_run(moto, simulator):
    simulator.faults.update(throttle_every_n=2, throttle_kind="burst")
    summary = produce(moto, simulator)
    assert summary["failed_pairs"] == {}
    assert summary["rate_limit_retries"] == 1
    assert summary["published"] == 200
    assert simulator.stats["throttled"] == 1


def test_rate_limit_retries_stop_at_the_invocations_deadline(moto, simulator):
    simulator.faults.update(throttle_every_n=1, throttle_kind="note")
    settings = settings_for(simulator, rate_limit_backoff_seconds=5.0)
    summary = produce(moto, simulator, settings=settings, context=FakeContext(remaining_ms=12_000))
    assert set(summary["failed_pairs"]) == {"BTC-USD", "ETH-USD"}
    assert all(reason.startswith("rate_limited") for reason in summary["failed_pairs"].values())
    assert summary["alphavantage_requests"] == 2  # one try each: no time left for a 2.5-5 s wait


def test_the_daily_quota_is_not_retried(moto, simulator):
    simulator.faults.update(daily_quota=1)
    summary = produce(moto, simulator)
    assert summary["published"] == 100  # BTC used the last request of the day
    assert "daily quota" in summary["failed_pairs"]["ETH-USD"]
    assert summary["alphavantage_requests"] == 2 and summary["rate_limit_retries"] == 0


def test_bars_still_open_are_held_back(moto, simulator):
    # Alpha Vantage includes the bar in progress; here the producer's clock says 09:00's bar closes at 09:05.
    summary = produce(moto, simulator, now=lambda: datetime(2026, 11, 22, 9, 4, 59, tzinfo=UTC).timestamp())
    assert summary["skipped_open"] == 2 and summary["published"] == 198
    assert summary["newest_ts"]["BTC-USD"] == "2026-11-22T08:55:00Z"


def test_a_long_gap_is_filled_with_full_output_not_skipped(moto, simulator):
    WatermarkStore(moto.client("dynamodb"), TABLE).advance("BTC-USD", "5min", "2026-11-21T09:00:00Z")
    summary = produce(moto, simulator, event={"pairs": ["BTC-USD"]})
    assert summary["published"] == 288  # a day of 5-minute bars; a compact answer has only 100
    times = sorted(q.ts for q in stream_quotes(moto.client("kinesis")))
    assert times[0] == "2026-11-21T09:05:00Z" and times[-1] == "2026-11-22T09:00:00Z"


def test_full_mode_backfills_a_range_without_moving_the_watermark_back(moto, simulator):
    produce(moto, simulator)
    event = {"mode": "full", "start": "2026-11-21T12:00:00Z", "end": "2026-11-22T00:00:00Z"}
    summary = produce(moto, simulator, event=event)
    assert summary["published"] == 2 * 145
    assert watermarks(moto) == {"BTC-USD": "2026-11-22T09:00:00Z", "ETH-USD": "2026-11-22T09:00:00Z"}


def test_full_mode_never_jumps_the_watermark_over_a_gap(moto, simulator):
    store = WatermarkStore(moto.client("dynamodb"), TABLE)
    store.advance("BTC-USD", "5min", "2026-11-22T06:00:00Z")
    produce(moto, simulator, event={"mode": "full", "start": "2026-11-22T08:00:00Z", "pairs": ["BTC-USD"]})
    assert watermarks(moto, ["BTC-USD"]) == {"BTC-USD": "2026-11-22T06:00:00Z"}  # 06:05-07:55 never published
    produce(moto, simulator, event={"mode": "full", "start": "2026-11-22T05:00:00Z", "pairs": ["BTC-USD"]})
    assert watermarks(moto, ["BTC-USD"]) == {"BTC-USD": "2026-11-22T09:00:00Z"}


class RacedAtWatermarks(DiesAtWatermarks):
    """Another writer moves ETH-USD's watermark ahead just before this run saves its own."""

    def _race(self) -> None:
        WatermarkStore(self._client, TABLE).advance("ETH-USD", "5min", "2026-11-22T10:00:00Z")

    def update_item(self, **kwargs):
        self._race()
        return self._client.update_item(**kwargs)

    def transact_write_items(self, **kwargs):
        self._race()
        return self._client.transact_write_items(**kwargs)


@pytest.mark.parametrize("writes", ["per_pair", "transaction"])
def test_a_watermark_moved_ahead_meanwhile_is_not_moved_back(moto, simulator, writes):
    real = moto.client("dynamodb")
    moto.made["dynamodb"] = RacedAtWatermarks(real)
    summary = produce(moto, simulator, settings=settings_for(simulator, watermark_writes=writes))
    moto.made["dynamodb"] = real
    assert summary["failed_pairs"] == {} and summary["published"] == 200
    assert watermarks(moto) == {"BTC-USD": "2026-11-22T09:00:00Z", "ETH-USD": "2026-11-22T10:00:00Z"}


@pytest.mark.parametrize("daily_format", ["current", "legacy"])
def test_daily_bars_in_both_row_forms(moto, simulator, daily_format):
    simulator.faults.update(daily_format=daily_format)
    summary = produce(moto, simulator, event={"interval": "1d", "pairs": ["BTC-EUR"]})
    assert summary["failed_pairs"] == {} and summary["invalid_upstream"] == 0
    assert summary["published"] == simulator.daily_bars
    assert summary["newest_ts"] == {"BTC-EUR": "2026-11-21T00:00:00Z"}


def test_both_daily_forms_carry_the_same_market_prices(moto, simulator):
    from producer.alpha_client import AlphaVantageClient
    from producer.bodies import parse_series

    client = AlphaVantageClient(API_KEY, base_url=simulator.base_url)
    closes = {}
    for daily_format in ("current", "legacy"):
        simulator.faults.update(daily_format=daily_format)
        series, meta = client.daily("ETH", "EUR")
        parsed = parse_series(
            series, meta, symbol="ETH", market="EUR", interval="1d", fetched_at="2026-11-22T00:00:00Z"
        )
        closes[daily_format] = [q.close for q in parsed.quotes]
    assert closes["current"] == closes["legacy"]


def test_api_key_from_secrets_manager(moto, simulator):
    secrets = moto.client("secretsmanager")
    arn = secrets.create_secret(Name="av-key", SecretString=json.dumps({"api_key": API_KEY}))["ARN"]
    settings = settings_for(simulator, api_key=None, secret_arn=arn)
    assert produce(moto, simulator, settings=settings)["published"] == 200
    plain = secrets.create_secret(Name="av-key-plain", SecretString=API_KEY)["ARN"]
    settings = settings_for(simulator, api_key=None, secret_arn=plain, interval="spot")
    assert produce(moto, simulator, settings=settings)["published"] == 2


def test_a_missing_key_fails_every_pair_with_one_clear_reason(moto, simulator):
    settings = settings_for(simulator, api_key=None, secret_arn=None)
    summary = produce(moto, simulator, settings=settings)
    assert set(summary["failed_pairs"].values()) == {
        "auth_error: no Alpha Vantage API key: set ALPHAVANTAGE_API_KEY or ALPHAVANTAGE_SECRET_ARN"
    }
    assert simulator.stats.get("requests", 0) == 0


def test_the_api_key_never_reaches_logs_or_results(moto, simulator, capsys):
    simulator.faults.update(latency_ms=300)
    settings = settings_for(simulator, timeout_seconds=0.05, max_retries=1)
    summary = produce(moto, simulator, settings=settings)
    simulator.faults.update(latency_ms=0, invalid_key=True)
    summary2 = produce(moto, simulator)
    captured = capsys.readouterr()
    assert all(reason.startswith("upstream_unavailable") for reason in summary["failed_pairs"].values())
    assert all(reason.startswith("auth_error") for reason in summary2["failed_pairs"].values())
    for text in (captured.out, captured.err, json.dumps(summary), json.dumps(summary2)):
        assert API_KEY not in text


def test_lambda_handler_rejects_a_bad_event_with_one_line(monkeypatch):
    monkeypatch.setenv("STREAM_NAME", STREAM)
    monkeypatch.setenv("TABLE_NAME", TABLE)
    with pytest.raises(ConfigError, match="unknown interval 'hourly'"):
        handler.lambda_handler({"interval": "hourly"}, FakeContext())


def test_metrics_are_emitted_as_emf(moto, simulator, capsys, monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    settings = {"STREAM_NAME": STREAM, "TABLE_NAME": TABLE, "PAIRS": "BTC-USD,ETH-USD", "INTERVAL": "5min",
                "ALPHAVANTAGE_API_KEY": API_KEY, "ALPHAVANTAGE_BASE_URL": simulator.base_url}  # fmt: skip
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    handler.lambda_handler({}, FakeContext())  # flushed once, when the handler returns
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (blob,) = [b for b in blobs if "FailedPairs" in b]
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "cryptostream"
    values = {name: blob[name] if not isinstance(blob[name], list) else blob[name][0] for name in blob}
    assert values["FailedPairs"] == 0
    # one series, one dimension, for the alarm: the other counts (published, ...) per interval are in the run's
    # "producer run finished" log line (Logs Insights on the dashboard)
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    assert [m["Name"] for m in directive["Metrics"]] == ["FailedPairs"]
    assert directive["Dimensions"] == [["service"]]


def test_an_unexpected_error_in_one_pair_costs_only_that_pair(moto, simulator, monkeypatch):
    from producer.sources import alpha_vantage as fetching

    real = fetching.parse_series

    def broken_for_eth(series, meta, **kwargs):
        if kwargs["symbol"] == "ETH":
            raise ZeroDivisionError("a bug that only ETH's bars trigger")
        return real(series, meta, **kwargs)

    monkeypatch.setattr(fetching, "parse_series", broken_for_eth)
    summary = produce(moto, simulator)
    assert summary["failed_pairs"] == {
        "ETH-USD": "internal_error: ZeroDivisionError: a bug that only ETH's bars trigger"
    }
    assert summary["published"] == 100


def test_a_resumed_backfill_chunk_publishes_only_what_kinesis_did_not_accept(moto, simulator):
    event = {"mode": "full", "start": "2026-11-22T06:00:00Z", "end": "2026-11-22T09:00:00Z",
             "backfill": "0123abcd/0000-000"}
    stuck = b'"symbol":"ETH","market":"USD","interval":"5min","ts":"2026-11-22T08:00:00Z"'
    flaky = FlakyKinesis(moto.client("kinesis"), lambda call, data: stuck in data)
    first = produce(moto, simulator, event=event, settings=settings_for(simulator, kinesis_max_attempts=2),
                    kinesis=flaky)
    assert first["published"] == 2 * 37 - 1 and "ETH-USD" in first["failed_pairs"]

    resumed = produce(moto, simulator, event=event)
    assert resumed["failed_pairs"] == {}
    assert resumed["published"] == 13  # ETH 08:00 … 09:00; nothing Kinesis accepted before
    assert resumed["skipped_seen"] == 37 + 24
    again = produce(moto, simulator, event=event)
    assert again["published"] == 0
    in_stream = Counter((q.pair, q.ts) for q in stream_quotes(moto.client("kinesis")))
    assert len(in_stream) == 2 * 37  # every bar of the chunk
    # twice only past the first refused record (the mark covers the contiguous accepted prefix, as a watermark)
    assert {key for key, count in in_stream.items() if count > 1} == {
        ("ETH-USD", f"2026-11-22T{h:02d}:{m:02d}:00Z") for h in (8,) for m in range(5, 60, 5)
    } | {("ETH-USD", "2026-11-22T09:00:00Z")}

    other_chunk = produce(moto, simulator, event=event | {"backfill": "0123abcd/0001-000"})
    assert other_chunk["published"] == 2 * 37  # marks belong to one chunk of one backfill


def test_a_backfill_key_needs_full_mode_and_a_plain_shape(simulator):
    settings = settings_for(simulator)
    with pytest.raises(ConfigError, match="mode 'full' only"):
        plan_run({"backfill": "abc/0000-000"}, settings)
    with pytest.raises(ConfigError, match="backfill must be"):
        plan_run({"mode": "full", "backfill": "ABC#1"}, settings)
    assert plan_run({"mode": "full", "backfill": "abc/0000-000"}, settings).backfill == "abc/0000-000"
