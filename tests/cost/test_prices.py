"""The price file: every price sourced and dated, the same items in every region, bad files rejected."""

from __future__ import annotations

import copy
import json
from datetime import date

import pytest

from tools.cost.prices import PRICES_PATH, PriceBookError, load_price_book, parse_price_book


@pytest.fixture(scope="module")
def document():
    return json.loads(PRICES_PATH.read_text())


def test_packaged_book_has_us_east_1_and_another_region():
    book = load_price_book()
    assert "us-east-1" in book.regions
    assert len(book.regions) >= 2


def test_every_price_has_a_source_a_date_and_a_verified_flag(document):
    for region, body in document["regions"].items():
        for key, entry in body["prices"].items():
            assert entry["source"].strip(), f"{region} {key}"
            date.fromisoformat(entry["taken"])
            assert isinstance(entry["verified"], bool), f"{region} {key}"
            if not entry["verified"]:
                assert entry.get("note"), f"{region} {key}: an unverified price must say why"


def test_services_the_command_promises_are_priced():
    prices = load_price_book().region("us-east-1").prices
    for prefix in (
        "kinesis.on_demand",
        "kinesis.provisioned",
        "lambda",
        "dynamodb",
        "firehose",
        "s3",
        "athena",
        "secretsmanager",
        "cloudwatch",
        "sqs",
        "kms",
        "eventbridge",
        "xray",
    ):
        assert any(key.startswith(prefix) for key in prices), prefix


def test_schedules_are_free_and_say_so():
    for region in load_price_book().regions.values():
        price = region["eventbridge.scheduler_invocation"]
        assert price.usd == 0
        assert "14 million" in price.note
        assert "Scheduled rules" in price.note and "free" in price.note


def test_price_cost_is_per_its_unit():
    price = load_price_book().region("us-east-1")["dynamodb.write_request_unit"]
    assert price.cost(2_000_000) == pytest.approx(2 * 0.625)


def test_unknown_region_names_the_known_ones():
    with pytest.raises(PriceBookError, match="unknown region 'mars-1'.*eu-west-1, us-east-1"):
        load_price_book().region("mars-1")


def test_regions_must_price_the_same_items(document):
    broken = copy.deepcopy(document)
    del broken["regions"]["eu-west-1"]["prices"]["sqs.request"]
    with pytest.raises(PriceBookError, match=r"sqs\.request"):
        parse_price_book(broken)


@pytest.mark.parametrize("field", ["source", "taken", "usd"])
def test_entries_missing_a_field_are_rejected(document, field):
    broken = copy.deepcopy(document)
    del broken["regions"]["us-east-1"]["prices"]["lambda.request"][field]
    with pytest.raises(PriceBookError, match=r"lambda\.request"):
        parse_price_book(broken)


def test_a_malformed_file_is_one_error(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text("{not json")
    with pytest.raises(PriceBookError, match="cannot read price file"):
        load_price_book(path)
