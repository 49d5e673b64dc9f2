"""Month objects' lines: Athena's and the emulator's timestamp texts, exact doubles, merge by day."""

from __future__ import annotations

import pytest

from rollup_workflow import months


@pytest.mark.parametrize("text", ["2026-11-21 20:00:00.000", "2026-11-21 20:00:00", "2026-11-21T20:00:00",
                                  "2026-11-21 20:00:00+00:00", "2026-11-21 20:00:00.000 UTC"])
def test_bucket_texts_of_both_engines_store_alike(text: str) -> None:
    assert months.bucket_text(text) == "2026-11-21 20:00:00.000"


def test_a_bucket_in_another_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="not in UTC"):
        months.bucket_text("2026-11-21 20:00:00+01:00")


def test_lines_read_back_to_the_same_bits_and_merge_replaces_only_recomputed_days() -> None:
    row = {"symbol": "BTC", "market": "USD", "bucket": "2026-11-21 20:00:00.000", "open": 0.1 + 0.2,
           "high": 1e-320, "low": 1e-320, "close": 67000.123456789, "volume": 3.0, "bars": 12}
    other = dict(row, bucket="2026-11-22 00:00:00.000", bars=1)
    body = months.render([other, row])
    assert months.parse(body) == [row, other]  # sorted by bucket, every double exact
    fresh = [dict(other, bars=2)]
    assert months.merged(months.parse(body), fresh, {"2026-11-22"}) == [row, dict(other, bars=2)]
    with pytest.raises(ValueError, match="outside the batch's days"):
        months.merged([], [row], {"2026-11-22"})
