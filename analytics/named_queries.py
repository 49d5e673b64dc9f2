"""The named queries in ``analytics/queries/*.sql``: load, bind parameters, render for DuckDB or Athena.

Each file is one Trino (Athena) statement (after ``-- @include`` expansion, below) that runs with its defaults.
Parameters live in a one-row CTE ``params`` (``WITH params AS (SELECT 'ALL' AS pair, 20 AS window_bars ...)``)
that the body reads as ``params.<name>`` through ``CROSS JOIN params``. Rendering parses the statement with sqlglot,
replaces every ``params.<name>`` with the bound literal and drops the CTE, so the engines see plain
constants (partition pruning works) and no value is ever spliced into SQL text. Logical table names
(``quotes``, ``serving``, ``rollup_1h``, ``rollup_1d``) are mapped to each engine's real names.

A query may have an Athena variant in ``queries/_materialized/<name>.sql`` that reads a materialized table instead of
recomputing it (``load_materialized_query``; the rollups).

SQL shared by several queries lives in ``queries/_fragments/<name>.sql``. A line ``-- @include <name>`` (or
``-- @include <name>(key=value, ...)``, filling ``{{key}}`` in the fragment) is replaced by the fragment's text
without its leading comment block, indented like the directive, before parsing: every engine still receives one
self-contained statement. Header comments (description, ``@param``, ``@tables``) are read from the query's own file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import sqlglot
from sqlglot import exp

QUERIES_DIR = Path(__file__).resolve().parent / "queries"
FRAGMENTS_DIR = QUERIES_DIR / "_fragments"
# Athena's variant of a query that reads a materialized table instead of recomputing it (rollup_1h, rollup_1d).
MATERIALIZED_DIR = QUERIES_DIR / "_materialized"
PARAMS_CTE = "params"
LOGICAL_TABLES = frozenset({"quotes", "serving", "rollup_1h", "rollup_1d"})
# Trino functions sqlglot 30 passes through unchanged although DuckDB names them differently.
_DUCKDB_FUNCTION_NAMES = {"is_finite": "isfinite"}
_HEADER_PARAM = re.compile(r"^--\s*@param\s+(\w+)\s*:\s*(.*)$")
_HEADER_TABLES = re.compile(r"^--\s*@tables\s*:\s*(.*)$")
_INCLUDE = re.compile(r"^(\s*)--\s*@include\s+([a-z0-9_]+)\s*(?:\((.*)\))?\s*$")
_INCLUDE_ARG = re.compile(r"^\s*([a-z_]+)\s*=\s*([a-z0-9_]+)\s*$")  # words only: nothing else can enter SQL text
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_MAX_INCLUDE_DEPTH = 5


class QueryError(ValueError):
    """A user-facing problem with a named query or its parameters (one line, no traceback)."""


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: str  # string | integer | double | date | timestamp
    default: exp.Expression
    doc: str

    @property
    def default_text(self) -> str:
        return self.default.sql("trino")


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str
    parameters: Mapping[str, Parameter]
    tables: frozenset[str]

    def render(self, params: Mapping[str, str] | None = None, dialect: str = "duckdb",
               table_names: Mapping[str, str] | None = None, pretty: bool = False) -> str:
        """The statement with parameters inlined as literals and logical tables renamed, in ``dialect``."""
        bound = self.bind(params or {})
        tree = sqlglot.parse_one(self.sql, read="trino")
        _inline_params(tree, bound)
        if table_names:
            _rename_tables(tree, table_names)
        if dialect == "duckdb":
            for call in tree.find_all(exp.Anonymous):
                call.set("this", _DUCKDB_FUNCTION_NAMES.get(str(call.this).lower(), call.this))
        return tree.sql(dialect=dialect, pretty=pretty, comments=False)

    def bind(self, params: Mapping[str, str]) -> dict[str, exp.Expression]:
        unknown = sorted(set(params) - set(self.parameters))
        if unknown:
            known = ", ".join(self.parameters) or "none"
            raise QueryError(f"query {self.name!r} has no parameter {unknown[0]!r} (parameters: {known})")
        bound = {name: p.default for name, p in self.parameters.items()}
        for name, raw in params.items():
            bound[name] = _literal(self.parameters[name], raw)
        return bound


def _literal(param: Parameter, raw: str) -> exp.Expression:
    """The user's text as a typed SQL literal, or a one-line QueryError."""
    value = raw.strip()
    try:
        if param.kind == "integer":  # window lengths and durations: zero or negative makes no sense
            number = int(value)
            if number < 1:
                raise ValueError(value)
            return exp.Literal.number(number)
        if param.kind == "double":
            return exp.Literal.number(float(value))
        if param.kind == "date":
            return exp.cast(exp.Literal.string(date.fromisoformat(value).isoformat()), exp.DataType.Type.DATE)
        if param.kind == "timestamp":
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
            return exp.cast(exp.Literal.string(moment.strftime("%Y-%m-%d %H:%M:%S")), exp.DataType.Type.TIMESTAMP)
    except ValueError:
        raise QueryError(f"parameter {param.name!r} expects {_KIND_HINT[param.kind]}, got {raw!r}") from None
    if len(value) > 200:
        raise QueryError(f"parameter {param.name!r} is too long ({len(value)} characters)")
    return exp.Literal.string(value)


_KIND_HINT = {
    "integer": "a positive integer",
    "double": "a number",
    "date": "a date YYYY-MM-DD",
    "timestamp": "a UTC time such as 2026-11-22T09:05:00Z",
    "string": "text",
}


def _kind_of(default: exp.Expression) -> str:
    if isinstance(default, exp.Cast):
        target = default.to.this
        if target == exp.DataType.Type.DATE:
            return "date"
        if target in (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.DATETIME):
            return "timestamp"
        if target in (exp.DataType.Type.DOUBLE, exp.DataType.Type.DECIMAL):
            return "double"
        if target in (exp.DataType.Type.INT, exp.DataType.Type.BIGINT):
            return "integer"
        return "string"
    literal = default.this if isinstance(default, exp.Neg) else default
    if isinstance(literal, exp.Literal) and not literal.is_string:
        return "double" if any(c in literal.this for c in ".eE") else "integer"
    return "string"


def _params_cte(tree: exp.Expression) -> exp.CTE | None:
    for cte in tree.find_all(exp.CTE):
        if cte.alias_or_name == PARAMS_CTE:
            return cte
    return None


def _inline_params(tree: exp.Expression, bound: Mapping[str, exp.Expression]) -> None:
    cte = _params_cte(tree)
    if cte is None:
        return
    for column in list(tree.find_all(exp.Column)):
        if column.table == PARAMS_CTE:
            column.replace(bound[column.name].copy())
    for join in list(tree.find_all(exp.Join)):
        if isinstance(join.this, exp.Table) and join.this.name == PARAMS_CTE:
            join.pop()
    with_ = cte.parent
    cte.pop()
    if isinstance(with_, exp.With) and not with_.expressions:
        with_.pop()


def _rename_tables(tree: exp.Expression, table_names: Mapping[str, str]) -> None:
    cte_names = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        if table.db or table.name in cte_names or table.name not in table_names:
            continue
        target = exp.to_table(table_names[table.name], dialect="trino")
        for part in ("this", "db", "catalog"):
            table.set(part, target.args.get(part))


def _include_args(where: str, raw: str | None) -> dict[str, str]:
    args: dict[str, str] = {}
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        match = _INCLUDE_ARG.match(part)
        if match is None:
            raise QueryError(f"{where}: @include argument {part.strip()!r} is not key=word")
        args[match.group(1)] = match.group(2)
    return args


def _fragment(where: str, name: str, args: Mapping[str, str]) -> str:
    """The fragment's SQL (its leading comment block dropped) with ``{{key}}`` filled from ``args``."""
    path = FRAGMENTS_DIR / f"{name}.sql"
    if not path.is_file():
        raise QueryError(f"{where}: @include {name}: no fragment {name}.sql in {FRAGMENTS_DIR.name}/")
    lines = path.read_text().splitlines()
    while lines and lines[0].lstrip().startswith("--") and not _INCLUDE.match(lines[0]):
        lines.pop(0)
    text = "\n".join(lines)
    wanted = set(_PLACEHOLDER.findall(text))
    if wanted != set(args):
        raise QueryError(f"{where}: @include {name} takes {sorted(wanted) or 'no arguments'}, got {sorted(args)}")
    return _PLACEHOLDER.sub(lambda m: args[m.group(1)], text)


def expand_includes(text: str, where: str = "query", depth: int = 0) -> str:
    """``text`` with every ``-- @include`` line replaced by its fragment, recursively."""
    if depth > _MAX_INCLUDE_DEPTH:
        raise QueryError(f"{where}: @include nested deeper than {_MAX_INCLUDE_DEPTH} (a cycle?)")
    out: list[str] = []
    for line in text.splitlines():
        match = _INCLUDE.match(line)
        if match is None:
            out.append(line)
            continue
        indent, name, raw_args = match.groups()
        body = expand_includes(_fragment(where, name, _include_args(where, raw_args)), f"{where} > {name}", depth + 1)
        out.extend(indent + piece if piece.strip() else piece for piece in body.splitlines())
    return "\n".join(out) + "\n"


def _parse_file(path: Path) -> NamedQuery:
    own_text = path.read_text()
    text = expand_includes(own_text, path.name)
    header = [line.strip() for line in own_text.splitlines() if line.strip().startswith("--")]
    description = header[0].lstrip("- ").split(":", 1)[-1].strip() if header else ""
    docs = {m.group(1): m.group(2) for m in map(_HEADER_PARAM.match, header) if m}
    table_lines = [m.group(1) for m in map(_HEADER_TABLES.match, header) if m]
    statements = [s for s in sqlglot.parse(text, read="trino") if s is not None]
    if len(statements) != 1:
        raise QueryError(f"{path.name} must hold exactly one statement, found {len(statements)}")
    tree = statements[0]
    parameters: dict[str, Parameter] = {}
    cte = _params_cte(tree)
    if cte is not None:
        for projection in cte.this.expressions:
            default = projection.this if isinstance(projection, exp.Alias) else projection
            name = projection.alias_or_name
            parameters[name] = Parameter(name, _kind_of(default), default.copy(), docs.get(name, ""))
    cte_names = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    tables = frozenset(t.name for t in tree.find_all(exp.Table) if t.name not in cte_names and not t.db)
    declared = {name.strip() for line in table_lines for name in line.split(",")}
    if declared and declared != tables:
        raise QueryError(f"{path.name}: @tables says {sorted(declared)}, the statement reads {sorted(tables)}")
    return NamedQuery(path.stem, description, text, parameters, tables)


@cache
def load_query(name: str) -> NamedQuery:
    """The named query; QueryError naming the available ones when there is no such query."""
    path = QUERIES_DIR / f"{name}.sql"
    if not re.fullmatch(r"[a-z0-9_]+", name) or not path.is_file():
        raise QueryError(f"unknown query {name!r}; available: {', '.join(query_names())}")
    return _parse_file(path)


@cache
def load_materialized_query(name: str) -> NamedQuery:
    """The query as Athena runs it in AWS: its ``_materialized/<name>.sql`` variant (reading the materialized
    table) when there is one, else the query itself."""
    path = MATERIALIZED_DIR / f"{name}.sql"
    if re.fullmatch(r"[a-z0-9_]+", name) and path.is_file():
        return _parse_file(path)
    return load_query(name)


def query_names() -> list[str]:
    return sorted(p.stem for p in QUERIES_DIR.glob("*.sql"))


def list_queries() -> list[NamedQuery]:
    return [load_query(name) for name in query_names()]
