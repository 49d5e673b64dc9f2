"""Shared SQL fragments (``analytics/queries/_fragments``) and the ``-- @include`` directive that pulls them in."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import analytics.named_queries as named_queries
from analytics.named_queries import FRAGMENTS_DIR, QUERIES_DIR, QueryError, expand_includes, load_query, query_names

INCLUDE = re.compile(r"--\s*@include\s+([a-z0-9_]+)")


def _own_text(name: str) -> str:
    return (QUERIES_DIR / f"{name}.sql").read_text()


def test_loaded_queries_are_one_statement_with_no_directive_left() -> None:
    for name in query_names():
        sql = load_query(name).sql
        assert "@include" not in sql and "{{" not in sql, name
        assert load_query(name).render(dialect="trino").count(";") == 0, name


def test_every_archive_query_applies_the_shared_price_rules_before_ranking() -> None:
    # data_quality reads every row on purpose (it counts the invalid ones); the rest analyse valid bars only.
    for name in query_names():
        query = load_query(name)
        if "quotes" not in query.tables or name == "data_quality":
            continue
        assert "q.open BETWEEN -1.7976931348623157E308" in query.sql and "copy_rank" in query.sql, name
        assert query.sql.count("row_number()") == 1, f"{name} ranks copies in its own words, not ranked_quotes"


def test_every_fragment_is_used_and_rollups_share_one_template() -> None:
    used = {match for name in query_names() for match in INCLUDE.findall(_own_text(name))}
    used |= {match for path in FRAGMENTS_DIR.glob("*.sql") for match in INCLUDE.findall(path.read_text())}
    assert used == {path.stem for path in FRAGMENTS_DIR.glob("*.sql")}
    hourly, daily = load_query("rollup_1h").sql, load_query("rollup_1d").sql
    body = slice(hourly.index("WITH params"), None)
    assert hourly[body].replace("'hour'", "'day'") == daily[daily.index("WITH params"):]
    assert load_query("rollup_1h").description.startswith("hourly")  # the header is the query's own, not the fragment's


def test_fragments_ship_as_package_data() -> None:
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert "queries/_fragments/*.sql" in pyproject["tool"]["setuptools"]["package-data"]["analytics"]


@pytest.fixture
def fragments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(named_queries, "FRAGMENTS_DIR", tmp_path)
    (tmp_path / "pick.sql").write_text("-- pick: doc comment, dropped\nSELECT {{col}}\nFROM t\n")
    (tmp_path / "loop.sql").write_text("-- @include loop\n")
    return tmp_path


def test_include_expands_indented_with_arguments(fragments: Path) -> None:
    expanded = expand_includes("WITH x AS (\n  -- @include pick(col=price)\n)")
    assert expanded == "WITH x AS (\n  SELECT price\n  FROM t\n)\n"


@pytest.mark.parametrize("line, message", [
    ("-- @include missing", "no fragment missing.sql"),
    ("-- @include pick", "takes ['col'], got []"),
    ("-- @include pick(col=price, extra=1)", "takes ['col'], got ['col', 'extra']"),
    ("-- @include pick(col=1; DROP TABLE t)", "is not key=word"),
    ("-- @include loop", "nested deeper"),
])
def test_bad_include_is_a_one_line_query_error(fragments: Path, line: str, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)) as caught:
        expand_includes(line, "q.sql")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("q.sql")
