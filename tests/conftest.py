"""Suite-wide settings."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

# CI runs a fresh clone with no example database: derandomize there so a landing is never decided
# by a new random draw; locally, examples stay random (and are remembered) to keep finding bugs.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session", autouse=True)
def _private_sql_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Rendered SQL (analytics/rendered.py) is cached per user; the suite keeps its own, also for subprocesses."""
    previous = os.environ.get("CRYPTOSTREAM_CACHE_DIR")
    os.environ["CRYPTOSTREAM_CACHE_DIR"] = str(tmp_path_factory.mktemp("sql-cache"))
    yield
    if previous is None:
        os.environ.pop("CRYPTOSTREAM_CACHE_DIR", None)
    else:
        os.environ["CRYPTOSTREAM_CACHE_DIR"] = previous
