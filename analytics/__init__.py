"""cryptostream analytics: one set of Athena (Trino) SQL run on Athena or locally on DuckDB.

Public entry points: ``run_query`` (a named query on the local engine), ``run_rollups``
(incremental rollups), ``write_chart`` (candlestick PNG) and ``cli.analytics.register``.
Heavy imports (DuckDB, matplotlib) happen inside those functions, not here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_query(name: str, params: dict[str, str] | None = None, archive: str | None = None) -> list[dict[str, Any]]:
    """Run the named query from ``analytics/queries`` on the local engine; rows as dicts."""
    from analytics.local import run_named_query

    return run_named_query(name, params or {}, archive)


def write_chart(pair: str, interval: str, archive: str | None, out_path: str | Path, **kwargs: Any) -> Path:
    """Draw a candlestick chart of one pair's bars from the archive into ``out_path`` (PNG)."""
    from analytics.charts import write_chart as _write_chart

    return _write_chart(pair, interval, archive, out_path, **kwargs)


def run_rollups(archive: str | None = None, full: bool = False, rollups: str | None = None) -> list[Any]:
    """Bring ``rollup_1h``/``rollup_1d`` up to date with the archive (incrementally unless ``full``)."""
    from analytics.rollups import run_rollups as _run_rollups

    return _run_rollups(archive, full=full, rollups=rollups)
