"""The committed Zeppelin note runs exactly the Flink SQL files that tests/flink runs on PyFlink."""

from __future__ import annotations

import json

from analytics.flink import NOTEBOOK_PATH, notebook_text, paragraph_statements, statements, with_options


def test_committed_notebook_is_generated_from_the_sql_files() -> None:
    assert NOTEBOOK_PATH.read_text() == notebook_text(), "run `python -m analytics.flink` after editing the SQL"


def test_notebook_paragraphs_equal_the_files() -> None:
    note = json.loads(NOTEBOOK_PATH.read_text())
    files = [path.read_text().rstrip("\n") for path in sorted(NOTEBOOK_PATH.parent.parent.glob("flink/[0-9]*.sql"))]
    assert paragraph_statements(note) == files
    assert [p["text"].split("\n", 1)[0] for p in note["paragraphs"]] == [
        "%flink.ssql", "%flink.ssql(type=update)", "%flink.ssql(type=update)", "%flink.ssql(type=update)"]


def test_source_table_reads_kinesis_json_with_an_event_time_watermark() -> None:
    source = statements()[0]
    assert source.is_ddl
    for fragment in ("'connector' = 'kinesis'", "'stream' = 'cryptostream-quotes'", "'format' = 'json'",
                     "WATERMARK FOR `event_time` AS `event_time` - INTERVAL '5' SECOND", "TO_TIMESTAMP(`ts`"):
        assert fragment in source.sql
    kinds = " ".join(s.body for s in statements()[1:])
    assert "TUMBLE(" in kinds and "HOP(" in kinds and "MATCH_RECOGNIZE" in kinds


def test_with_options_swaps_only_the_with_clause() -> None:
    source = statements()[0].body
    swapped = with_options(source, {"connector": "filesystem", "path": "/tmp/x", "format": "json"})
    assert swapped.split(") WITH (")[0] == source.split(") WITH (")[0]
    assert "'connector' = 'filesystem'" in swapped and "kinesis" not in swapped
