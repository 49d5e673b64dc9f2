"""The rollup SQL as the cloud workflow runs it: ``rollup_workflow/sql/<table>.sql``, generated from the named
queries so the rollups stay one set of files.

The Lambda carries no SQL parser (boto3 only), so it cannot render ``analytics/queries`` itself. This module renders
``rollup_1h``/``rollup_1d`` for Athena exactly as ``analytics.athena.athena_sql`` does, with three slots the Lambda
fills (``string.Template``): ``${archive_table}`` (the Glue table), ``${source_interval}`` (a string literal) and
``${partitions}`` (the batch's (pair, day) predicate, ANDed into the ``ranked`` scope so Athena prunes to those
partitions). ``python -m analytics.cloud_rollups`` rewrites the files; ``tests/rollup_workflow`` fails when they
differ from a fresh rendering.
"""

from __future__ import annotations

import sys
from pathlib import Path

import sqlglot
from sqlglot import exp

from analytics.named_queries import load_query
from cryptostream_model.rollups import ROLLUP_TABLES

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "rollup_workflow" / "sql"
_TABLE = "__archive_database__.__archive_table__"
_INTERVAL = "__source_interval__"
_PARTITIONS = "__partitions__"
HEADER = ("-- Generated from analytics/queries/{table}.sql by `python -m analytics.cloud_rollups`: do not edit.\n"
          "-- Athena's rendering, which runs unchanged on Trino and DuckDB; rollup_workflow.queries fills the slots.\n")


def athena_rollup_sql(table: str) -> str:
    """The recompute statement of ``table`` as Athena runs it over the deployed archive table (defaults inlined)."""
    from analytics.athena import athena_table_names

    return load_query(table).render(dialect="trino", table_names=athena_table_names(), pretty=True)


def rollup_template(table: str) -> str:
    """The Athena text of ``table``'s rollup with ``${archive_table}``, ``${source_interval}``, ``${partitions}``."""
    query = load_query(table)
    text = query.render({"source_interval": _INTERVAL}, dialect="trino", table_names={"quotes": _TABLE})
    tree = sqlglot.parse_one(text, read="trino")
    ranked = next(cte for cte in tree.find_all(exp.CTE) if cte.alias_or_name == "ranked")
    where = ranked.this.args["where"]
    where.set("this", exp.and_(where.this, exp.column(_PARTITIONS)))
    sql = tree.sql(dialect="trino", pretty=True, comments=False)
    for sentinel, slot in ((_TABLE, "${archive_table}"), (f"'{_INTERVAL}'", "${source_interval}"),
                           (_PARTITIONS, "(${partitions})")):
        if sql.count(sentinel) != 1:
            raise ValueError(f"{table}: expected one {sentinel} in the rendering, found {sql.count(sentinel)}")
        sql = sql.replace(sentinel, slot)
    return HEADER.format(table=table) + sql + "\n"


def write_templates(directory: Path = TEMPLATES_DIR) -> list[Path]:
    written = []
    for table in ROLLUP_TABLES:
        path = directory / f"{table}.sql"
        path.write_text(rollup_template(table), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_templates():
        sys.stdout.write(f"wrote {path}\n")
