"""The local engine's session: UTC, no progress bar on stdout, httpfs from the pinned package file."""

from __future__ import annotations

import duckdb

from analytics.engine import connect, httpfs_extension_path


def test_session_is_utc_and_quiet() -> None:
    con = connect()
    assert con.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
    assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
    # A zoned timestamp truncates on the UTC day, as Athena's timestamps do.
    day = con.execute("SELECT date_trunc('day', TIMESTAMPTZ '2026-11-22 00:30:00+02:00')::TIMESTAMP").fetchone()[0]
    assert day.isoformat() == "2026-11-21T00:00:00"


def test_httpfs_extension_matches_the_duckdb_version() -> None:
    path = httpfs_extension_path()
    assert f"v{duckdb.__version__}" in str(path) and path.is_file()
