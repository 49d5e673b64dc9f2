"""Every setting is checked once, at the edge, before anything starts: one line naming the setting, its
value and what is allowed, exit 2, no traceback; and the local flow needs no AWS region configured."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    """No AWS anything (no region, credentials or endpoint), a fresh home, no debug tracebacks."""
    return {
        "PATH": "/usr/bin:/bin",
        "CRYPTOSTREAM_HOME": str(home),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "COLUMNS": "200",
        **extra,
    }


def cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=cwd,
        timeout=timeout,
    )


def assert_one_line(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for text in expected:
        assert text in lines[0], lines[0]


# (environment variable, bad value, what the one line must say) for the settings the CLI, the local
# stack and the in-process Lambdas read.
BAD_SETTINGS = [
    ("HISTORY_TTL_DAYS", "-5", "whole number of days from 0 to 36500"),
    ("HISTORY_TTL_DAYS", "abc", "whole number of days"),
    ("HISTORY_TTL_DAYS", "7.5", "whole number of days"),
    ("INTERVAL", "7min", "one of 1min, 5min, 15min, 30min, 60min, spot, 1d"),
    ("PAIRS", "BTC", "SYMBOL-MARKET"),
    ("PAIRS", ",,", "at least one SYMBOL-MARKET pair"),
    ("WATERMARK_WRITES", "batch", "one of per_pair, transaction"),
    ("STREAM_NAME", "my stream", "1-128 of a-z A-Z 0-9 _ . -"),
    ("TABLE_NAME", "t", "3-255 of"),
    ("QUARANTINE_QUEUE_NAME", "q/1", "1-67 of"),
    ("ARCHIVE_BUCKET", "My_Bucket", "3-63 of a-z 0-9 . -"),
    ("AWS_REGION", "mars", "an AWS region name"),
    ("AWS_DEFAULT_REGION", "US-EAST-1", "an AWS region name"),
    ("ALPHAVANTAGE_TIMEOUT_SECONDS", "0", "a number of seconds > 0"),
    ("ALPHAVANTAGE_TIMEOUT_SECONDS", "inf", "a number of seconds > 0"),
    ("ALPHAVANTAGE_MAX_RETRIES", "-1", "a whole number from 0 to 10"),
    ("ALPHAVANTAGE_RATE_LIMIT_BACKOFF_SECONDS", "nan", "a number of seconds >= 0"),
    ("ALPHAVANTAGE_RATE_LIMIT_BUDGET_SECONDS", "-2", "a number of seconds >= 0"),
    ("ALPHAVANTAGE_BASE_URL", "localhost:8000", "an http(s) URL"),
    ("PRODUCER_LEASE_SECONDS", "15m", "a whole number of seconds from 1 to 86400"),
    ("KINESIS_MAX_ATTEMPTS", "0", "a whole number from 1 to 20"),
]


@pytest.mark.parametrize(("name", "value", "allowed"), BAD_SETTINGS, ids=[f"{n}={v}" for n, v, _ in BAD_SETTINGS])
def test_the_local_stack_refuses_a_bad_setting_before_it_starts(tmp_path, monkeypatch, name, value, allowed):
    """``LocalStack(...)`` is the edge ``up``, ``demo`` and the soak go through: the settings of the stack
    and of both in-process Lambdas are read there, before anything listens or is written."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as refused:
        LocalStack(tmp_path / "home")
    message = str(refused.value)
    assert message.startswith(f"{name}={value!r} is not allowed: expected"), message
    assert allowed in message and "\n" not in message
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize(("name", "value"), [("HISTORY_TTL_DAYS", "-5"), ("INTERVAL", "7min"), ("AWS_REGION", "mars")])
def test_up_refuses_a_bad_setting_in_one_line_before_the_stack_starts(tmp_path, name, value):
    home = tmp_path / "home"
    done = cli(["up", "--every", "1"], _clean_env(home, **{name: value}), tmp_path, timeout=60)
    assert_one_line(done, f"{name}={value!r} is not allowed: expected")
    assert "local stack up" not in done.stdout  # refused at the door, not after the stack started
    assert not (home / "stack.json").exists()


@pytest.mark.parametrize(
    ("env", "args", "expected"),
    [
        ({"HISTORY_TTL_DAYS": "abc"}, ["quote", "BTC-USD"], "HISTORY_TTL_DAYS='abc' is not allowed"),
        ({"INTERVAL": "7min"}, ["demo", "--hours", "1"], "INTERVAL='7min' is not allowed"),
        ({}, ["bars", "BTC-USD", "--start", "-99999999d"], "--start '-99999999d' is not allowed: expected ISO-8601"),
        ({}, ["bars", "BTC-USD", "--end", "-1e300h"], "--end '-1e300h' is not allowed"),
        ({}, ["bars", "BTC-USD", "--start", "0900-01-01"], "from 1970 to 9999"),
        ({}, ["produce", "--full", "--start", "-nand"], "--start '-nand' is not allowed"),
        ({}, ["up", "--every", "0"], "Invalid value for '--every'"),
        ({}, ["demo", "--pairs", "11"], "Invalid value for '--pairs'"),
        ({}, ["quote", "BTC-USD", "--bogus"], "No such option: --bogus"),
    ],
)
def test_bad_input_is_one_line_naming_what_is_wrong(tmp_path, env, args, expected):
    assert_one_line(cli(args, _clean_env(tmp_path / "home", **env), tmp_path), expected)


@pytest.mark.parametrize(
    ("module", "env", "expected"),
    [
        ("producer.handler", {"HISTORY_TTL_DAYS": "-5"}, "HISTORY_TTL_DAYS='-5' is not allowed"),
        ("producer.handler", {"INTERVAL": "7min"}, "INTERVAL='7min' is not allowed"),
        ("consumer.handler", {"HISTORY_TTL_DAYS": "abc"}, "HISTORY_TTL_DAYS='abc' is not allowed"),
        ("consumer.handler", {"AWS_REGION": "nowhere"}, "AWS_REGION='nowhere' is not allowed"),
    ],
)
def test_a_deployed_function_with_a_bad_setting_fails_its_cold_start(tmp_path, module, env, expected):
    """In Lambda (AWS_LAMBDA_FUNCTION_NAME set) the handler module refuses at import: nothing is fetched,
    published or consumed, and the init error names the variable."""
    lambda_env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "AWS_LAMBDA_FUNCTION_NAME": "cryptostream-test",
        "STREAM_NAME": "quotes",
        "TABLE_NAME": "quotes",
        "QUARANTINE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/q",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    code = f"import {module}"
    good = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=lambda_env, cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    bad = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**lambda_env, **env}, cwd=tmp_path
    )
    assert bad.returncode != 0
    assert expected in bad.stderr
    assert expected in bad.stdout  # the function's own log line (Powertools JSON on stdout) names it too


@pytest.fixture(scope="module")
def running_stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with LocalStack(home, seed=7) as stack:
        stack.simulator.clock.set(NOW)
        yield stack


def test_produce_against_the_local_stack_needs_no_region_configured(running_stack, tmp_path):
    """A clean machine has no AWS region: the local flow defaults it (us-east-1) instead of NoRegionError."""
    running_stack.simulator.clock.set(NOW + timedelta(minutes=3))
    env = _clean_env(running_stack.data_dir)
    done = cli(["produce", "--interval", "1min", "--pair", "BTC-USD", "--json"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "NoRegionError" not in done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["published"] > 0


def test_produce_refuses_a_bad_setting_in_one_line(running_stack, tmp_path):
    env = _clean_env(running_stack.data_dir, ALPHAVANTAGE_TIMEOUT_SECONDS="-1")
    assert_one_line(cli(["produce", "--interval", "1min"], env, tmp_path), "ALPHAVANTAGE_TIMEOUT_SECONDS='-1'")
