"""Run a named query on the local engine (DuckDB) against the archive and, for federated queries, DynamoDB."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analytics.engine import connect, fetch_dicts, register_quotes, register_rollup
from analytics.federated import latest_items, register_serving
from analytics.location import resolve_archive
from analytics.named_queries import load_query
from analytics.settings import load_analytics_settings


def run_named_query(name: str, params: Mapping[str, str], archive: str | None = None,
                    endpoint: str | None = None, rollups: str | None = None) -> list[dict[str, Any]]:
    """Bind ``params``, transpile the Athena SQL to DuckDB and run it; rows as dicts.

    Raises ``analytics.named_queries.QueryError`` (or a subclass) with a one-line message on bad input.
    """
    query = load_query(name)
    sql = query.render(params, dialect="duckdb")
    settings = load_analytics_settings()
    endpoint = endpoint or settings.endpoint_url
    archive_tables = query.tables & {"quotes", "rollup_1h", "rollup_1d"}
    location = resolve_archive(archive, endpoint, rollups) if archive_tables else None
    con = connect(location.s3 if location else None)
    try:
        if location is not None and "quotes" in query.tables:
            register_quotes(con, location)
        for rollup in sorted(query.tables & {"rollup_1h", "rollup_1d"}):
            register_rollup(con, rollup, location.rollups_root)  # type: ignore[union-attr]
        if "serving" in query.tables:
            register_serving(con, latest_items(settings.table_name, endpoint, settings.pairs, settings.region))
        return fetch_dicts(con, sql)
    finally:
        con.close()
