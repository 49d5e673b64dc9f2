"""The journal start-up benchmark builds a real journal and measures both ways of starting from it."""

from __future__ import annotations

from bench.journal_startup import fsync_cost, render, startup


def test_startup_replays_the_history_then_starts_from_the_snapshot():
    run = startup(30, distinct_keys=10, tail=5)
    assert run["replay_all"]["replay_s"] > 0 and "compact_s" in run["replay_all"]
    assert "compact_s" not in run["snapshot_only"]  # nothing to replay: nothing to compact
    assert run["snapshot_plus_tail"]["tail_records"] == 5
    cost = fsync_cost(requests=3)
    text = render(
        {
            "startup": [{"history": "overwrites", **run}],
            "replay_ms_per_record": 4.0,
            "one_million_replay_all_s": 4000.0,
            "overwrites_snapshot_s": 0.5,
            "fsync": cost,
            "compact_every_records": 2000,
        }
    )
    assert "| 30 | overwrites (10 keys) |" in text and "about **4,000 s**" in text
