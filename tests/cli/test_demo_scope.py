"""Two demo runs against one external emulator: each summary accounts for its own run only."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from cli.demo import run_demo

pytestmark = pytest.mark.e2e  # three whole demo runs: seconds each


@pytest.fixture
def emulator() -> Iterator[str]:
    """An external endpoint that keeps its state between runs, as LocalStack does."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    requests.post(f"{url}/moto-api/reset", timeout=10)  # moto's backends are process-wide: start empty
    yield url
    requests.post(f"{url}/moto-api/reset", timeout=10)
    server.stop()


def _demo(endpoint: str | None):
    return run_demo(
        pairs=["BTC-USD", "ETH-USD"], interval="5min", hours=2, steps=2, poison=3, chart=False, endpoint=endpoint
    )


def _assert_accounts_for_itself(result) -> None:
    bars = 2 * 2 * 12  # two pairs, two hours of 5-minute bars
    assert result.failed_pairs == {}
    assert result.published == bars
    assert result.produced == bars + 3
    assert result.written == bars - result.duplicates
    assert result.quarantined == 3
    assert result.archived == bars - result.duplicates
    assert result.lost == 0


def test_two_runs_against_one_endpoint_are_counted_apart(emulator):
    first, second = _demo(emulator), _demo(emulator)
    _assert_accounts_for_itself(first)
    _assert_accounts_for_itself(second)  # not the sum of both runs' bars (written 1920 of 968 before)
    assert first.run_id != second.run_id
    assert first.run_id in first.archive_location and second.run_id in second.archive_location
    kinesis = boto3.client(
        "kinesis", endpoint_url=emulator, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    streams = kinesis.list_streams()["StreamNames"]
    assert [name for name in streams if first.run_id in name] and [name for name in streams if second.run_id in name]


def test_the_embedded_stack_run_is_scoped_too():
    result = _demo(None)
    _assert_accounts_for_itself(result)
    assert result.run_id in result.archive_location
