"""The rendered-SQL cache: a hit is the text ``NamedQuery.render`` gives, needs no sqlglot parse, and any change to
the query, a fragment it includes, the parameters or the renderer renders again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analytics import named_queries, rendered
from analytics.rendered import rendered_sql

PARAMS = {"source_interval": "5min"}
TABLES = {"quotes": "rollup_input"}


@pytest.fixture
def queries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the query files, read by the renderer and the cache alike, and a private cache."""
    root = tmp_path / "queries"
    shutil.copytree(named_queries.QUERIES_DIR, root)
    monkeypatch.setattr(named_queries, "QUERIES_DIR", root)
    monkeypatch.setattr(named_queries, "FRAGMENTS_DIR", root / "_fragments")
    monkeypatch.setattr(rendered, "_memo", {})
    monkeypatch.setenv(rendered.CACHE_ENV, str(tmp_path / "cache"))
    named_queries.load_query.cache_clear()
    yield root
    named_queries.load_query.cache_clear()


def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a new process: nothing memoized, and rendering fails the test if it is reached."""
    monkeypatch.setattr(rendered, "_memo", {})
    named_queries.load_query.cache_clear()

    def no_render(*_args: object, **_kwargs: object) -> str:
        raise AssertionError("rendered instead of read from the cache")

    monkeypatch.setattr(rendered, "_render", no_render)


def render_now(name: str = "rollup_1h") -> str:
    named_queries.load_query.cache_clear()
    return named_queries.load_query(name).render(PARAMS, dialect="duckdb", table_names=TABLES)


def test_a_hit_is_the_rendered_text_without_rendering(queries: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = rendered_sql("rollup_1h", PARAMS, "duckdb", TABLES)
    assert first == render_now()
    assert len(list(rendered.cache_dir().glob("rollup_1h-*.json"))) == 1
    fresh_process(monkeypatch)
    assert rendered_sql("rollup_1h", PARAMS, "duckdb", TABLES) == first


def test_editing_an_included_fragment_renders_again(queries: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = rendered_sql("rollup_1d", PARAMS, "duckdb", TABLES)
    fragment = queries / "_fragments" / "rollup.sql"
    fragment.write_text(fragment.read_text().replace("count(*) AS bars", "count(*) + 0 AS bars"))
    after = rendered_sql("rollup_1d", PARAMS, "duckdb", TABLES)
    assert after != before and "+ 0" in after
    assert after == render_now("rollup_1d")
    assert len(list(rendered.cache_dir().glob("rollup_1d-*.json"))) == 2  # the old entry is simply never asked for


def test_editing_the_query_file_or_changing_a_parameter_renders_again(queries: Path) -> None:
    before = rendered_sql("rollup_1h", PARAMS, "duckdb", TABLES)
    other_interval = rendered_sql("rollup_1h", {"source_interval": "1min"}, "duckdb", TABLES)
    assert other_interval != before and "'1min'" in other_interval
    path = queries / "rollup_1h.sql"
    path.write_text(path.read_text().replace("@include rollup(unit=hour)", "@include rollup(unit=day)"))
    assert rendered_sql("rollup_1h", PARAMS, "duckdb", TABLES) == render_now("rollup_1h") != before


def test_a_new_renderer_renders_again(queries: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered_sql("rollup_1h", PARAMS, "duckdb", TABLES)
    key = rendered.cache_key("rollup_1h", PARAMS, "duckdb", TABLES)
    monkeypatch.setattr(rendered, "_renderer_digest", lambda: "another named_queries.py")
    assert rendered.cache_key("rollup_1h", PARAMS, "duckdb", TABLES) != key


def test_a_damaged_entry_is_rendered_and_replaced(queries: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = rendered_sql("rollup_1h", PARAMS, "duckdb", TABLES)
    [entry] = rendered.cache_dir().glob("rollup_1h-*.json")
    for damage in ("{not json", '{"key": "someone else", "sql": "SELECT 1"}'):
        entry.write_text(damage)
        monkeypatch.setattr(rendered, "_memo", {})
        assert rendered_sql("rollup_1h", PARAMS, "duckdb", TABLES) == good
    fresh_process(monkeypatch)
    assert rendered_sql("rollup_1h", PARAMS, "duckdb", TABLES) == good  # rewritten whole


def test_an_unwritable_cache_only_costs_the_rendering(queries: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv(rendered.CACHE_ENV, str(blocker / "sql"))
    assert rendered_sql("rollup_1h", PARAMS, "duckdb", TABLES) == render_now()


def test_unknown_query_is_the_usual_one_line_error(queries: Path) -> None:
    with pytest.raises(named_queries.QueryError, match="unknown query 'nope'"):
        rendered_sql("nope", {}, "duckdb", {})


def test_the_cache_directory_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(rendered.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert rendered.cache_dir() == tmp_path / "cryptostream" / "sql"
    monkeypatch.setenv(rendered.CACHE_ENV, str(tmp_path / "mine"))
    assert rendered.cache_dir() == tmp_path / "mine"
