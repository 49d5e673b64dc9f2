"""Bad-input sweep of the producer's events (EventBridge schedule or a person with the CLI).

Any event either becomes a sound run plan or is refused with ``ConfigError`` carrying one line;
no other exception escapes, so Lambda logs one readable error instead of a traceback.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptostream_model.intervals import INTERVALS
from cryptostream_model.record import parse_pair
from producer.errors import ConfigError
from producer.handler import lambda_handler
from producer.settings import MODES, Settings, plan_run

SETTINGS = Settings(
    stream_name="cryptostream-quotes",
    table_name="cryptostream-quotes",
    pairs=("BTC-USD",),
    interval="5min",
    api_key="key",
    secret_arn=None,
)
anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
moments = st.one_of(
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.dates().map(str),
    st.sampled_from(["2026-11-22T09:05:00Z", "2026-02-30", "yesterday", "-6h", "2026-11-22T25:00", "", "Z"]),
    anything,
)
pair_values = st.one_of(
    st.sampled_from(
        ["BTC-USD", "btc-usd", "ETH-EUR,SOL-USD", " , ", "BTC", "BTC-", "-USD", "B@C-USD", "X" * 40 + "-USD"]
    ),
    st.lists(st.text(max_size=12), max_size=4),
    anything,
)
events = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "mode": st.one_of(st.sampled_from(MODES), anything),
            "interval": st.one_of(st.sampled_from(INTERVALS), anything),
            "pairs": pair_values,
            "start": moments,
            "end": moments,
        },
    ),
    anything,
)


@settings(max_examples=300, deadline=None)
@given(events)
def test_any_event_is_a_sound_plan_or_one_line_config_error(event):
    try:
        plan = plan_run(event, SETTINGS)
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert plan.mode in MODES and plan.interval in INTERVALS and plan.pairs
    assert all(parse_pair(pair) == tuple(pair.split("-")) for pair in plan.pairs)
    if plan.start and plan.end:
        assert plan.start <= plan.end
    if plan.mode == "incremental":
        assert plan.start is None and plan.end is None


@settings(max_examples=40, deadline=None)
@given(events.filter(lambda event: _refused(event)))
def test_handler_refuses_bad_events_before_touching_aws(monkeypatch_env, event):
    with pytest.raises(ConfigError):
        lambda_handler(event, None)


def _refused(event: object) -> bool:
    try:
        plan_run(event, SETTINGS)
    except ConfigError:
        return True
    return False


@pytest.fixture(scope="module")
def monkeypatch_env():
    patch = pytest.MonkeyPatch()
    patch.setenv("STREAM_NAME", "cryptostream-quotes")
    patch.setenv("TABLE_NAME", "cryptostream-quotes")
    patch.setenv("PAIRS", "BTC-USD")
    patch.setenv("ALPHAVANTAGE_API_KEY", "key")
    patch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: a call to AWS would fail loudly
    patch.setenv("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    yield
    patch.undo()
