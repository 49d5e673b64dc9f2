"""``cryptostream cost`` through typer's test runner, on a local app (the main CLI calls register(app))."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.cost import register

REPO_CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    application = typer.Typer()
    register(application)

    @application.callback()
    def main() -> None:
        """Keep `cost` a subcommand, as in the main CLI."""

    return application


@pytest.fixture
def runner(tmp_path, monkeypatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # no cdk.json here unless a test writes one
    return CliRunner()


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_table_output_names_every_service_the_total_and_what_dominates(app, runner):
    result = runner.invoke(app, ["cost", "--pairs", "10", "--interval", "1min", "--shards", "0"])
    assert result.exit_code == 0, result.output
    for title in (
        "Kinesis Data Streams:",
        "Lambda:",
        "DynamoDB:",
        "Data Firehose:",
        "S3:",
        "Athena:",
        "Secrets Manager:",
        "CloudWatch:",
        "SQS:",
        "KMS:",
        "EventBridge:",
        "X-Ray:",
        "Total",
    ):
        assert title in result.stdout
    assert "Kinesis on-demand stream-hours are" in result.stdout
    assert "--shards 1" in result.stdout
    assert "5 KB" in result.stdout


def test_json_is_one_object_whose_services_add_up(app, runner):
    body = _json(runner.invoke(app, ["cost", "--pairs", "100", "--interval", "1min", "--json"]))
    assert body["inputs"]["pairs"] == 100
    assert body["inputs"]["capacity_mode"] == "provisioned"  # cdk.json's default: one shard
    assert body["total_monthly_usd"] == pytest.approx(sum(s["monthly_usd"] for s in body["services"]), abs=1e-4)
    for service in body["services"]:
        assert service["monthly_usd"] == pytest.approx(sum(i["monthly_usd"] for i in service["items"]), abs=1e-5)
    assert body["dominant"]["sentence"]


def test_without_pairs_and_interval_it_prices_the_deployment_in_cdk_json(app, runner):
    body = _json(runner.invoke(app, ["cost", "--json"]))
    assert (body["inputs"]["pairs"], body["inputs"]["interval"], body["inputs"]["shards"]) == (3, "spot", 1)
    assert body["volumes"]["producer_runs"] == pytest.approx(730 * 60)  # spot-1min, the busiest schedule


def test_market_data_is_priced_beside_the_aws_total(app, runner, tmp_path):
    body = _json(runner.invoke(app, ["cost", "--json"]))
    (alpha,) = body["market_data"]
    assert alpha["plan"] == "premium, 75 requests/min" and alpha["monthly_usd"] == 49.99
    assert alpha["requests_per_day"] == (288 + 1440 + 1) * 3
    assert "CRYPTO_INTRADAY (5min) is premium" in alpha["reason"]
    assert body["total_monthly_usd"] == pytest.approx(sum(s["monthly_usd"] for s in body["services"]), abs=1e-4)
    assert any(note.startswith("Market data, beside the AWS total") for note in body["notes"])

    document = json.loads(REPO_CDK_JSON.read_text())
    profile = json.loads((REPO_CDK_JSON.parent / "profiles" / "free-tier.json").read_text())
    document["context"]["cryptostream"].update(profile)
    (tmp_path / "cdk.json").write_text(json.dumps(document))
    body = _json(runner.invoke(app, ["cost", "--json"]))
    assert body["market_data"] == [
        {"source": "alphavantage", "plan": "free key", "monthly_usd": 0.0, "requests_per_day": 21,
         "reason": "free_tier: 21 of 25 requests a day"}
    ]  # fmt: skip
    assert (body["inputs"]["interval"], body["volumes"]["producer_runs"]) == ("spot", pytest.approx(730 / 4))


def test_an_exchange_source_has_no_subscription(app, runner, tmp_path):
    document = json.loads(REPO_CDK_JSON.read_text())
    document["context"]["cryptostream"]["schedules"] = [
        {"name": "bars-1min", "interval": "1min", "rate_minutes": 1, "source": "coinbase",
         "payload": {"mode": "incremental", "interval": "1min", "source": "coinbase"}}
    ]  # fmt: skip
    (tmp_path / "cdk.json").write_text(json.dumps(document))
    body = _json(runner.invoke(app, ["cost", "--json"]))
    assert [(m["source"], m["monthly_usd"]) for m in body["market_data"]] == [("coinbase", 0.0)]


def test_the_stream_mode_break_even_is_stated(app, runner):
    body = _json(runner.invoke(app, ["cost", "--json"]))
    assert (
        "Stream mode break-even: an on-demand stream-hour costs 2.67 shard-hours, so a provisioned stream is cheaper "
        "whenever 2 shards carry the peak (up to 2,000 records/s); a peak that needs 3 shards is cheaper on-demand "
        "below 26 million records a month, provisioned above." in body["notes"]
    )


def test_options_reach_the_model(app, runner):
    args = "cost --pairs 5 --interval 5min --region eu-west-1 --shards 2 --consumer-batch 100"
    body = _json(runner.invoke(app, [*args.split(), "--athena-gb-per-day", "0", "--retention-days", "7", "--json"]))
    assert body["inputs"] == body["inputs"] | {
        "region": "eu-west-1",
        "shards": 2,
        "capacity_mode": "provisioned",
        "consumer_batch": 100,
        "athena_gb_per_day": 0.0,
        "retention_days": 7,
    }
    assert body["region_name"] == "Europe (Ireland)"
    kinesis = next(s for s in body["services"] if s["service"] == "Kinesis Data Streams")
    assert kinesis["items"][0]["quantity"] == pytest.approx(2 * 730)


def test_cdk_json_in_the_current_directory_sets_the_defaults(app, runner, tmp_path):
    document = json.loads(REPO_CDK_JSON.read_text())
    document["context"]["cryptostream"]["stream_shards"] = 3
    document["context"]["cryptostream"]["history_ttl_days"] = 14
    (tmp_path / "cdk.json").write_text(json.dumps(document))
    body = _json(runner.invoke(app, ["cost", "--pairs", "10", "--interval", "1min", "--json"]))
    assert body["inputs"]["shards"] == 3
    assert body["inputs"]["retention_days"] == 14
    # an explicit option still wins
    body = _json(runner.invoke(app, ["cost", "--pairs", "10", "--interval", "1min", "--shards", "0", "--json"]))
    assert body["inputs"]["shards"] == 0


def test_the_repository_cdk_json_matches_the_built_in_defaults(app, runner, tmp_path):
    without = _json(runner.invoke(app, ["cost", "--pairs", "10", "--interval", "1min", "--json"]))
    shutil.copy(REPO_CDK_JSON, tmp_path / "cdk.json")
    with_repo = _json(runner.invoke(app, ["cost", "--pairs", "10", "--interval", "1min", "--json"]))
    assert with_repo["total_monthly_usd"] == pytest.approx(without["total_monthly_usd"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pairs", "0", "--interval", "1min"], "--pairs must be at least 1"),
        (["--pairs", "-4", "--interval", "1min"], "--pairs must be at least 1"),
        (["--pairs", "3", "--interval", "2min"], "unknown interval '2min'"),
        (["--pairs", "3", "--interval", "1min", "--region", "mars-1"], "unknown region 'mars-1'"),
        (["--pairs", "3", "--interval", "1min", "--shards", "-1"], "--shards must be 0"),
        (["--pairs", "3", "--interval", "1min", "--consumer-batch", "0"], "--consumer-batch must be 1..10000"),
        (["--pairs", "3", "--interval", "1min", "--consumer-batch", "20000"], "--consumer-batch must be 1..10000"),
        (
            ["--pairs", "3", "--interval", "1min", "--athena-gb-per-day", "-1"],
            "--athena-gb-per-day must be 0..1,000,000",
        ),
        (
            ["--pairs", "3", "--interval", "1min", "--athena-gb-per-day", "nan"],
            "--athena-gb-per-day must be 0..1,000,000",
        ),
        (
            ["--pairs", "3", "--interval", "1min", "--athena-gb-per-day", "1e300"],
            "--athena-gb-per-day must be 0..1,000,000",
        ),
        (["--pairs", "3", "--interval", "1min", "--retention-days", "0"], "--retention-days must be at least 1"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(app, runner, args, message):
    result = runner.invoke(app, ["cost", *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_broken_cdk_json_is_one_error(app, runner, tmp_path):
    (tmp_path / "cdk.json").write_text("{broken")
    result = runner.invoke(app, ["cost", "--pairs", "3", "--interval", "1min"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot read")
    assert "Traceback" not in result.output


def test_non_numeric_pairs_is_a_usage_error_without_traceback(app, runner):
    result = runner.invoke(app, ["cost", "--pairs", "many", "--interval", "1min"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "--pairs" in result.stderr


def test_markdown_has_a_row_per_item_and_the_same_total_as_json(app, runner):
    args = ["cost", "--pairs", "10", "--interval", "1min"]
    body = _json(runner.invoke(app, [*args, "--json"]))
    result = runner.invoke(app, [*args, "--markdown"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    items = sum(len(s["items"]) for s in body["services"])
    # header + one row per item + a subtotal per service + the total
    assert len(rows) == 1 + items + len(body["services"]) + 1
    assert f"**${body['total_monthly_usd']:,.2f}**" in rows[-1]
    assert body["dominant"]["sentence"] in result.stdout
