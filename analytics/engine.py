"""The local engine: DuckDB reading the archive (local directory or S3 through httpfs) with the Athena SQL.

DuckDB cannot download extensions offline, so httpfs is loaded from the ``duckdb-extension-httpfs`` package
file pinned next to ``duckdb``. Sessions run in UTC so ``date_trunc`` and dates agree with Athena.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from analytics.location import ArchiveError, ArchiveLocation, S3Access

# The archive as Athena's Glue table sees it: file columns plus the hive partition columns as strings.
# Timestamps are cast to naive UTC TIMESTAMP, Athena's ``timestamp`` type, whether files hold them zoned or not.
_QUOTES_SELECT = """
SELECT CAST(v AS INTEGER) AS v, source, "interval", CAST(ts AS TIMESTAMP) AS ts,
       open, high, low, close, volume, bid, ask, CAST(fetched_at AS TIMESTAMP) AS fetched_at,
       symbol, market, dt
FROM read_parquet({files}, hive_partitioning = true, hive_types_autocast = false, union_by_name = {union_by_name})
"""
QUOTES_COLUMNS = ("v", "source", "interval", "ts", "open", "high", "low", "close", "volume", "bid", "ask", "fetched_at",
                  "symbol", "market", "dt")  # the view's, in order


@cache
def httpfs_extension_path() -> Path:
    import duckdb_extension_httpfs

    package = Path(duckdb_extension_httpfs.__file__).resolve().parent
    path = package / "extensions" / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
    if not path.is_file():
        raise ArchiveError(f"httpfs extension for DuckDB {duckdb.__version__} not found at {path}")
    return path


def connect(s3: S3Access | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB session in UTC, with S3 access configured when ``s3`` is given."""
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")  # it writes to stdout and would corrupt --json/--csv output
    if s3 is not None:
        con.execute(f"LOAD '{httpfs_extension_path()}'")
        options = {"KEY_ID": s3.key_id, "SECRET": s3.secret, "REGION": s3.region}
        if s3.session_token:
            options["SESSION_TOKEN"] = s3.session_token
        if s3.endpoint_host:
            options |= {"ENDPOINT": s3.endpoint_host, "URL_STYLE": "path"}
        clauses = ", ".join(f"{key} {_quote(value)}" for key, value in options.items())
        con.execute(f"CREATE OR REPLACE SECRET archive_s3 (TYPE s3, PROVIDER config, {clauses}, USE_SSL {s3.use_ssl})")
        if s3.ca_bundle:  # as the AWS SDKs honour AWS_CA_BUNDLE
            con.execute(f"SET ca_cert_file = {_quote(s3.ca_bundle)}")
    return con


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def quotes_select(location: ArchiveLocation, objects: Iterable[str] | None = None, *,
                  union_by_name: bool = True) -> str:
    """The SELECT behind the ``quotes`` view, over the whole archive or over the given object URIs only.
    ``union_by_name`` reads every object's schema before the scan, so objects written under older versions of the
    record (fewer columns) still read; without it, DuckDB takes the first object's schema and fails on an object
    lacking one of the columns the query reads (a caller that can fall back saves that pass)."""
    listed = None if objects is None else "[" + ", ".join(_quote(uri) for uri in objects) + "]"
    return _QUOTES_SELECT.format(files=listed or _quote(location.quotes_glob),
                                 union_by_name=str(union_by_name).lower())


def register_quotes(con: duckdb.DuckDBPyConnection, location: ArchiveLocation,
                    objects: Iterable[str] | None = None) -> None:
    """Create the ``quotes`` view over the whole archive, or over the given object URIs only."""
    try:
        con.execute(f"CREATE OR REPLACE VIEW quotes AS {quotes_select(location, objects)}")
    except duckdb.IOException as exc:
        if "No files found" in str(exc):
            raise ArchiveError(f"no archive files under {location.quotes_root}") from None
        raise ArchiveError(f"cannot read the archive at {location.quotes_root}: {str(exc).splitlines()[0]}") from None


def register_rollup(con: duckdb.DuckDBPyConnection, name: str, root: str) -> None:
    """Create a view ``name`` over a rollup table written by ``analytics.rollups``: its columns, and the partition
    keys symbol, market and month, as the Glue table of the same name has them."""
    glob = _quote(f"{root}/{name}/symbol=*/market=*/month=*/*.parquet")
    try:
        con.execute(
            f"CREATE OR REPLACE VIEW {name} AS SELECT * "
            f"FROM read_parquet({glob}, hive_partitioning = true, hive_types_autocast = false)"
        )
    except duckdb.IOException:
        raise ArchiveError(f"rollup table {name} not found under {root}; run `cryptostream rollup` first") from None


def fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    """Run one statement; rows as dicts keyed by column name."""
    try:
        cursor = con.execute(sql)
    except duckdb.IOException as exc:
        raise ArchiveError(f"cannot read the archive: {str(exc).splitlines()[0]}") from None
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
