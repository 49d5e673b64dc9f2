"""Hypothesis sweep over the command's arguments: every input ends in a result or one error line, never a traceback."""

from __future__ import annotations

import json
import math

import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.cost import register
from cryptostream_model.intervals import INTERVALS

app = typer.Typer()
register(app)


@app.callback()
def main() -> None:
    """Keep `cost` a subcommand."""


runner = CliRunner()
numbers = st.one_of(
    st.integers(min_value=-10, max_value=100_000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "abc", "1e400", "-0", "0x10"]),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pairs=st.integers(min_value=-5, max_value=20_000),
    interval=st.sampled_from([*INTERVALS, "2min", "", "1MIN", "spot "]),
    region=st.sampled_from(["us-east-1", "eu-west-1", "mars-1", ""]),
    shards=st.integers(min_value=-2, max_value=40),
    batch=st.integers(min_value=-1, max_value=20_000),
    athena=numbers,
    retention=st.integers(min_value=-2, max_value=4000),
)
def test_any_arguments_give_a_result_or_one_error_line(pairs, interval, region, shards, batch, athena, retention):
    args = [
        "cost", "--pairs", str(pairs), "--interval", interval, "--region", region, "--shards", str(shards),
        "--consumer-batch", str(batch), f"--athena-gb-per-day={athena}", "--retention-days", str(retention), "--json",
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 2)
    if result.exit_code == 0:
        body = json.loads(result.stdout)
        assert math.isfinite(body["total_monthly_usd"]) and body["total_monthly_usd"] > 0
    elif result.stderr.startswith("error: "):
        assert len(result.stderr.strip().splitlines()) == 1
    else:  # typer's own usage error for a value that is not a number
        assert "Invalid value" in result.stderr
