"""Named queries rendered for an engine, cached on disk and in the process, keyed by everything the text depends on.

Rendering parses the Trino statement with sqlglot and writes it in the engine's dialect: about 0.1 s of CPU, most
of it sqlglot loading its Trino and DuckDB dialects on first use, half of an incremental rollup's 0.2 s. The text
depends only on the query file and the fragments it includes (the expanded text), the bound parameters, the target
dialect and table names, the renderer (``named_queries.py``) and sqlglot's version; the key is a SHA-256 over
exactly those, so editing any of them renders again, and the SQL run is always what ``NamedQuery.render`` gives
for the files as they are. Entries are written beside their name and renamed (a reader sees a whole entry or
none); an entry that does not read back with its own key, or a cache that cannot be written, only costs the
rendering. The directory is ``$CRYPTOSTREAM_CACHE_DIR``, else ``$XDG_CACHE_HOME/cryptostream/sql``, else
``~/.cache/cryptostream/sql``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import sqlglot

from analytics import named_queries

CACHE_ENV = "CRYPTOSTREAM_CACHE_DIR"
_FORMAT = 1  # bump when the entry layout changes
_memo: dict[str, str] = {}


def cache_dir() -> Path:
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cryptostream" / "sql"


@cache
def _renderer_digest() -> str:
    return hashlib.sha256(Path(named_queries.__file__).read_bytes()).hexdigest()


def cache_key(name: str, params: Mapping[str, str], dialect: str, table_names: Mapping[str, str]) -> str | None:
    """The entry's key, or None when the query file cannot be read (rendering then raises the usual error)."""
    path = named_queries.QUERIES_DIR / f"{name}.sql"
    try:
        text = named_queries.expand_includes(path.read_text(encoding="utf-8"), path.name)
    except (OSError, named_queries.QueryError):
        return None
    material = json.dumps(
        [_FORMAT, name, text, sorted(params.items()), dialect, sorted(table_names.items()), _renderer_digest(),
         sqlglot.__version__],
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode()).hexdigest()


def rendered_sql(name: str, params: Mapping[str, str] | None = None, dialect: str = "duckdb",
                 table_names: Mapping[str, str] | None = None) -> str:
    """``load_query(name).render(params, dialect, table_names)``, from the cache when it holds this exact text."""
    params, table_names = dict(params or {}), dict(table_names or {})
    key = cache_key(name, params, dialect, table_names)
    if key is None:
        return _render(name, params, dialect, table_names)
    if key in _memo:
        return _memo[key]
    entry = cache_dir() / f"{name}-{key[:40]}.json"
    sql = _read_entry(entry, key)
    if sql is None:
        sql = _render(name, params, dialect, table_names)
        if cache_key(name, params, dialect, table_names) != key:
            return sql  # the files changed while rendering: keep nothing under a key that may not be this text
        _write_entry(entry, key, sql)
    _memo[key] = sql
    return sql


def _render(name: str, params: Mapping[str, str], dialect: str, table_names: Mapping[str, str]) -> str:
    # The files as they are now, not ``load_query``'s memo of them: the entry is keyed by the text just read.
    query = named_queries.load_query.__wrapped__(name)
    return query.render(params, dialect=dialect, table_names=table_names)


def _read_entry(path: Path, key: str) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("sql"), str):
        return None
    return data["sql"]


def _write_entry(path: Path, key: str, sql: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, staged = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                json.dump({"key": key, "sql": sql}, stream)
            os.replace(staged, path)
        except BaseException:
            Path(staged).unlink(missing_ok=True)
            raise
    except OSError:
        pass  # a read-only or full disk: the next run renders again
