"""Record validation: every poison reason, the valid shapes, and equivalence with the reference implementation."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cryptostream_model.record import MAX_RECORD_BYTES, PoisonRecord, Quote, parse_record, quote_from_dict
from tests.model import reference_record

VALID: dict[str, Any] = {
    "v": 1,
    "source": "alphavantage",
    "symbol": "BTC",
    "market": "USD",
    "interval": "5min",
    "ts": "2026-11-22T09:05:00Z",
    "open": "67000.1",
    "high": "67010",
    "low": "66990.5",
    "close": "67001",
    "volume": "12.5",
    "bid": "67000.9",
    "ask": "67001.1",
    "fetched_at": "2026-11-22T09:10:02Z",
}


def body(**changes: Any) -> bytes:
    record = {**VALID, **changes}
    return json.dumps({name: value for name, value in record.items() if value is not ...}).encode()


def reason_of(data: bytes | str) -> str:
    with pytest.raises(PoisonRecord) as caught:
        parse_record(data)
    return caught.value.reason


def test_valid_record_parses_to_exact_decimals() -> None:
    quote = parse_record(body())
    assert quote == Quote(
        symbol="BTC",
        market="USD",
        interval="5min",
        ts="2026-11-22T09:05:00Z",
        open=Decimal("67000.1"),
        high=Decimal("67010"),
        low=Decimal("66990.5"),
        close=Decimal("67001"),
        volume=Decimal("12.5"),
        fetched_at="2026-11-22T09:10:02Z",
        bid=Decimal("67000.9"),
        ask=Decimal("67001.1"),
    )
    assert quote.pk == "BTC-USD#5min"
    assert parse_record(quote.to_json()) == quote


def test_numbers_integer_volume_and_missing_optional_fields_are_accepted() -> None:
    quote = parse_record(body(open=67000.1, volume=12, bid=..., ask=..., fetched_at=...))
    assert (quote.open, quote.volume, quote.bid, quote.ask) == (Decimal("67000.1"), Decimal(12), None, None)
    assert quote.fetched_at == quote.ts  # defaults to the bar time


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"x" * (MAX_RECORD_BYTES + 1), "oversized: 4097 bytes > 4096"),
        (b"{not json", "not_json: "),
        (b"\xff\xfe\x00garbage", "not_json: "),
        (b"[1, 2]", "not_an_object: list"),
        (body(open=..., volume=None), "missing_field: open,volume"),
        (body(v=2), "unsupported_version: 2"),
        (body(interval="2min"), "unknown_interval: '2min'"),
        (body(interval=5), "unknown_interval: '5'"),
        (body(symbol="btc"), "bad_symbol: 'btc'"),
        (body(symbol="BTC\n"), "bad_symbol: 'BTC\\n'"),
        (body(market="US-D"), "bad_market: 'US-D'"),
        (body(source=""), "bad_source"),
        (body(ts="2026-11-22 09:05:00"), "bad_timestamp: ts='2026-11-22 09:05:00'"),
        (body(ts="2026-13-22T09:05:00Z"), "bad_timestamp: ts='2026-13-22T09:05:00Z'"),
        (body(fetched_at="yesterday"), "bad_timestamp: fetched_at='yesterday'"),
        (body(high="abc"), "bad_number: high='abc'"),
        (body(low=True), "bad_number: low is bool"),
        (body(close=[1]), "bad_number: close is list"),
        (body(volume="NaN"), "non_finite: volume='NaN'"),
        (
            b'{"v":1,"source":"a","symbol":"B","market":"U","interval":"5min","ts":"2026-11-22T09:05:00Z",'
            b'"open":Infinity,"high":"2","low":"1","close":"1","volume":"1"}',
            "non_finite: open=inf",
        ),
        (body(open="0", low="0"), "non_positive: open=0"),
        (body(low="-1"), "non_positive: low=-1"),
        (body(volume="-0.5"), "negative_volume: -0.5"),
        (body(high="66000", low="66990.5"), "high_below_low: high=66000 low=66990.5"),
        (body(open="70000"), "open_outside_range: open=70000 not in [66990.5, 67010]"),
        (body(close="1"), "close_outside_range: close=1 not in [66990.5, 67010]"),
        (body(bid="0"), "non_positive: bid/ask"),
        (body(bid="67002", ask="67001.1"), "crossed_quote: bid=67002 > ask=67001.1"),
        (body(interval="spot"), "bad_spot: a spot snapshot has one price"),
    ],
)
def test_every_poison_reason(data: bytes, reason: str) -> None:
    assert reason_of(data).startswith(reason)
    assert reason_of(data) == reference_reason(data)


def reference_reason(data: bytes | str) -> str:
    with pytest.raises(PoisonRecord) as caught:
        reference_record.parse_record(data)
    return caught.value.reason


def test_non_utf8_encodings_behave_as_before() -> None:
    utf16 = json.dumps(VALID).encode("utf-16")
    with_bom = b"\xef\xbb\xbf" + body()
    for data in (utf16, with_bom):
        assert parse_record(data) == reference_record.parse_record(data)


# Field values mixing the valid, the odd and the wrong, to compare the two implementations broadly.
_price = st.one_of(
    st.sampled_from(["67000.1", "67010", "66990.5", "1", "0", "-1", "6.7e4", "67_000", " 67001 ", "NaN", "sNaN"]),
    st.sampled_from(["inf", "-Infinity", "abc", "", "0.00000001", "67001.1", "67000.9", "99999"]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-5, max_value=10**6),
    st.none(),
    st.booleans(),
    st.just([1]),
)
_ts = st.one_of(
    st.sampled_from(
        ["2026-11-22T09:05:00Z", "2026-11-22T09:10:02Z", "2026-02-30T00:00:00Z", "2026-11-22T09:05+01Z", "", None]
    ),
    st.text(max_size=22),
)
_fields = {
    "v": st.sampled_from([1, 2, "1", None, True, 1.0]),
    "source": st.sampled_from(["alphavantage", "", None, 3]),
    "symbol": st.sampled_from(["BTC", "ETH", "btc", "BTC\n", "", "A" * 13, None, 7]),
    "market": st.sampled_from(["USD", "EUR", "U$D", None]),
    "interval": st.sampled_from(["1min", "5min", "60min", "spot", "1d", "2h", None, 5, ["5min"]]),
    "ts": _ts,
    "fetched_at": _ts,
    "open": _price,
    "high": _price,
    "low": _price,
    "close": _price,
    "volume": _price,
    "bid": _price,
    "ask": _price,
}


def outcome(parse: Any, record: Any) -> Any:
    try:
        return parse(record)
    except PoisonRecord as poison:
        return ("poison", poison.reason)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.fixed_dictionaries({}, optional=_fields))
def test_same_verdict_as_reference_implementation(record: dict[str, Any]) -> None:
    assert outcome(quote_from_dict, record) == outcome(reference_record.quote_from_dict, record)


_DELETE = object()


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A valid record with one to three fields replaced by odd values or removed: deep enough to reach
    every check, in every order."""
    record = dict(VALID)
    for name in draw(st.lists(st.sampled_from(sorted(_fields)), min_size=1, max_size=3, unique=True)):
        value = draw(st.one_of(_fields[name], st.just(_DELETE)))
        if value is _DELETE:
            record.pop(name, None)
        else:
            record[name] = value
    return record


@settings(max_examples=1500, deadline=None)
@given(near_valid())
def test_same_verdict_on_near_valid_records(record: dict[str, Any]) -> None:
    assert outcome(quote_from_dict, record) == outcome(reference_record.quote_from_dict, record)


def test_zero_volume_is_valid() -> None:
    assert parse_record(body(volume="0")).volume == 0
