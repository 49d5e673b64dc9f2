"""End to end with exchange sources on the embedded stack: `cryptostream demo --source coinbase`, and three
sources sharing the pairs of one interval, each bar in the table carrying its source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from cli.demo import count_bars, demo_settings, run_demo, share_pairs, stream_market
from cli.main import app
from cryptostream_model.keys import table_pk
from cryptostream_model.record import format_ts
from local.stack import LocalStack

pytestmark = pytest.mark.e2e
END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_demo_with_coinbase_accounts_for_every_record() -> None:
    result = run_demo(pairs=["BTC-USD", "ETH-EUR"], interval="5min", hours=4, steps=2, poison=3, chart=False,
                      sources=["coinbase"])  # fmt: skip
    assert result.sources == {"coinbase": ["BTC-USD", "ETH-EUR"]}
    assert result.failed_pairs == {} and result.lost == 0
    assert result.published == result.published_by_source["coinbase"] >= 2 * 47  # 4 h of 5min bars, closed ones
    assert result.written == result.published and result.quarantined == 3


def test_cli_demo_source_flag() -> None:
    outcome = CliRunner().invoke(app, ["demo", "--pairs", "1", "--hours", "1", "--steps", "1", "--poison", "0",
                                       "--no-chart", "--source", "kraken", "--json"])  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    assert '"sources":{"kraken":["BTC-USD"]}' in outcome.output
    refused = CliRunner().invoke(app, ["demo", "--interval", "30min", "--source", "coinbase", "--no-chart"])
    assert refused.exit_code != 0


def test_three_sources_share_one_interval_and_each_bar_names_its_source(tmp_path) -> None:
    pairs = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "ADA-USD", "LTC-USD"]
    shares = share_pairs(pairs, ["alphavantage", "coinbase", "kraken"], "1min")
    assert shares == {"alphavantage": ["BTC-USD", "XRP-USD"], "coinbase": ["ETH-USD", "ADA-USD"],
                      "kraken": ["SOL-USD", "LTC-USD"]}  # fmt: skip
    start = END - timedelta(hours=2)
    with LocalStack(tmp_path, seed=5, config=demo_settings(shares, "1min"), archive_buffer_seconds=3600) as stack:
        streamed = stream_market(stack, shares, "1min", start, END, steps=2)
        assert streamed.failed_pairs == {}
        assert streamed.published == count_bars(stack, pairs, "1min") == len(pairs) * 120
        dynamodb = stack.clients.dynamodb
        for source, owned in shares.items():
            assert streamed.published_by_source[source] == len(owned) * 120
            for pair in owned:
                item = dynamodb.get_item(
                    TableName=stack.config.table_name,
                    Key={"pk": {"S": table_pk(pair, "1min")}, "sk": {"S": format_ts(END - timedelta(minutes=1))}},
                )["Item"]
                assert item["source"]["S"] == source
        # a run of one source for another's pair is refused in one line, nothing published
        with pytest.raises(ValueError, match="source kraken does not publish BTC-USD 1min: alphavantage does"):
            stack.produce({"source": "kraken", "interval": "1min", "pairs": ["BTC-USD"]})
