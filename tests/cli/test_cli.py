"""The command line against a running local stack, and its one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from cli.main import app
from cryptostream_model.record import format_ts
from local.poison import poison_records
from local.stack import LocalStack

runner = CliRunner()
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    patch = pytest.MonkeyPatch()
    patch.setenv("CRYPTOSTREAM_HOME", str(home))
    with LocalStack(home, seed=5) as running:
        running.simulator.clock.set(NOW)
        running.produce({"mode": "incremental", "interval": "1min", "pairs": ["BTC-USD", "ETH-USD"]})
        running.clients.kinesis.put_records(
            StreamName=running.config.stream_name,
            Records=[{"Data": d, "PartitionKey": "BTC-USD"} for d in poison_records(3, "1min", NOW)],
        )
        running.pump(flush=True)
        yield running
    patch.undo()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_quote_reads_the_latest_bar(stack):
    result = run("quote", "btc-usd", "--interval", "1min", "--json")
    assert result.exit_code == 0, result.output
    quote = json.loads(result.output)
    assert quote["ts"] == format_ts(NOW - timedelta(minutes=1))
    assert float(quote["low"]) <= float(quote["close"]) <= float(quote["high"])


def test_bars_reads_a_range(stack):
    result = run(
        "bars",
        "ETH-USD",
        "--interval",
        "1min",
        "--start",
        format_ts(NOW - timedelta(minutes=10)),
        "--end",
        format_ts(NOW),
        "--json",
    )
    assert result.exit_code == 0, result.output
    bars = json.loads(result.output)
    assert [b["ts"] for b in bars] == [format_ts(NOW - timedelta(minutes=m)) for m in range(10, 0, -1)]


def test_dlq_lists_then_redrives_quarantined_records(stack):
    listed = run("dlq", "list", "--json")
    assert listed.exit_code == 0, listed.output
    reasons = sorted(row["reason"].split(":")[0] for row in json.loads(listed.output))
    assert reasons == ["high_below_low", "non_positive", "not_json"]
    redriven = run("dlq", "redrive", "--json")
    assert json.loads(redriven.output)["redriven"] == 3
    stack.pump(flush=True)  # still poison: back in quarantine, never in the table
    assert len(json.loads(run("dlq", "list", "--json").output)) == 3


def test_produce_runs_the_producer_against_the_running_stack(stack):
    stack.simulator.clock.set(NOW + timedelta(minutes=5))
    result = run("produce", "--interval", "1min", "--pair", "BTC-USD", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["published"] == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["quote", "BTCUSD"], "invalid pair"),
        (["quote", "BTC-USD", "--interval", "7min"], "unknown interval"),
        (["bars", "BTC-USD", "--start", "yesterday"], "--start 'yesterday' is not allowed"),
        (["bars", "BTC-USD", "--start", "2026-11-22", "--end", "2026-11-21"], "is after"),
        (["quote", "BTC-USD", "--endpoint", "http://127.0.0.1:9"], "cannot reach endpoint"),
        (["quote", "BTC-USD", "--endpoint", "not a url"], "invalid endpoint"),
        (["demo", "--interval", "spot"], "intraday"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path):
    env = {"CRYPTOSTREAM_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true"}
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_no_stack_and_no_credentials_is_one_line(tmp_path):
    env = {
        "CRYPTOSTREAM_HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "quote", "BTC-USD"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert "no local stack is running" in done.stderr and "Traceback" not in done.stderr
