"""The Alpha Vantage key never reaches a log line or stderr, third-party loggers and error bodies included."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from local.stack import LOCAL_API_KEY, LocalStack
from producer import redaction
from producer.bodies import classify
from producer.errors import AlphaVantageError

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
KEY = "SK7Q2XW9ZETA4KEY"  # distinctive: no other text here contains it


@pytest.mark.parametrize(
    "text",
    [
        f"GET /query?function=CRYPTO_INTRADAY&symbol=BTC&apikey={KEY}&datatype=json HTTP/1.1",
        f"https://www.alphavantage.co/query?apikey={KEY}",
        f"url=https%3A%2F%2Fwww.alphavantage.co%2Fquery%3Fapikey%3D{KEY}%26symbol%3DBTC",
        f'{{"api_key": "{KEY}"}}',
        f'b\'{{"SecretString":"{{\\\\"api_key\\\\": \\\\"{KEY}\\\\"}}"}}\'',
        f"We have detected your API key as {KEY} and our standard API rate limit is 25 requests per day.",
    ],
)
def test_redact_masks_the_key_in_every_shape_it_travels(text):
    assert KEY not in redaction.redact(text)
    assert "***" in redaction.redact(text)


def test_a_registered_secret_is_masked_wherever_it_appears():
    secret = "Zq8-registered+key/1"
    redaction.register_secret(secret)
    for text in (f"echo {secret} back", "quoted Zq8-registered%2Bkey%2F1", "plus Zq8-registered%2Bkey%2F1"):
        assert "registered" not in redaction.redact(text), text
    redaction.register_secret("demo")  # Alpha Vantage's demo key: masking it would mask the word everywhere
    assert redaction.redact("the demo key") == "the demo key"


def test_records_are_redacted_in_message_args_extras_and_exceptions():
    redaction.install()
    logger = logging.getLogger("tests.redaction.sample")
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):  # added after install(): the record factory alone must cover it
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        logger.debug('%s "%s %s"', "https://x:443", "GET", f"/query?apikey={KEY}&x=1")
        try:
            raise ValueError(f"upstream said /query?apikey={KEY}")
        except ValueError:
            logger.exception("failed")
        record = logging.LogRecord("n", logging.INFO, "f", 1, "plain", (), None)
        record.reason = f"body echoed apikey={KEY}"
        record.detail = {"url": f"/query?apikey={KEY}", "n": 1}
        redaction.RedactingFilter().filter(record)
    finally:
        logger.removeHandler(handler)
    formatted = [logging.Formatter().format(r) for r in seen]
    assert all(KEY not in line for line in formatted), formatted
    assert "apikey=***" in formatted[0] and "apikey=***" in formatted[1]
    assert KEY not in record.reason and KEY not in json.dumps(record.detail)


def test_an_error_body_that_echoes_the_url_is_redacted_before_it_is_raised():
    body = {"Error Message": f"Invalid API call: /query?function=CRYPTO_INTRADAY&apikey={KEY} was refused."}
    with pytest.raises(AlphaVantageError) as raised:
        classify(body, "CRYPTO_INTRADAY")
    assert KEY not in str(raised.value) and "apikey=***" in str(raised.value)


# A failing producer run through the CLI, DEBUG logging on every logger (urllib3, requests, botocore,
# Powertools), against the simulator answering every request with an error body that echoes the URL.
_DEBUG_EVERYWHERE = """
import logging, sys
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
for name in ("urllib3", "requests", "botocore", "boto3", "producer", "aws_lambda_powertools"):
    logging.getLogger(name).setLevel(logging.DEBUG)
from cli.main import main
sys.argv = ["cryptostream", *sys.argv[1:]]
main()
"""


@pytest.fixture(scope="module")
def echoing_stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with LocalStack(home, seed=3) as stack:
        stack.simulator.clock.set(NOW)
        stack.simulator.faults.update(echo_url=True)
        yield stack


@pytest.mark.parametrize("key_from", ["environment", "secret"])
def test_a_failing_run_with_debug_logging_everywhere_never_shows_the_key(echoing_stack, tmp_path, key_from):
    key = KEY if key_from == "environment" else LOCAL_API_KEY  # the local stack's secret holds LOCAL_API_KEY
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "CRYPTOSTREAM_HOME": str(echoing_stack.data_dir),
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "POWERTOOLS_DEBUG": "true",
        "COLUMNS": "200",
    }
    if key_from == "environment":
        env["ALPHAVANTAGE_API_KEY"] = KEY
    before = echoing_stack.simulator.stats.get("requests", 0)
    done = subprocess.run(
        [sys.executable, "-c", _DEBUG_EVERYWHERE, "produce", "--interval", "1min", "--pair", "BTC-USD"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output  # every pair failed: nothing published
    assert echoing_stack.simulator.stats.get("requests", 0) > before  # the simulator was asked, and echoed the URL
    assert key not in output, [line for line in output.splitlines() if key in line]
    # the leaks this guards against were there to leak: urllib3's request line and the echoed body
    assert "urllib3.connectionpool DEBUG" in done.stderr and "apikey=***" in done.stderr
    assert "Invalid API call: /query?" in output
    if key_from == "secret":
        assert "GetSecretValue" in done.stderr  # botocore logged the secret's request and answer
