from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.archive.builder import FixtureArchive, build_fixture_archive


@pytest.fixture(scope="session")
def fixture_archive(tmp_path_factory: pytest.TempPathFactory) -> FixtureArchive:
    """The fixture archive, written once per session (tests must not modify it)."""
    return build_fixture_archive(tmp_path_factory.mktemp("archive"))


@pytest.fixture
def fresh_archive(tmp_path: Path) -> FixtureArchive:
    """A private copy for tests that add objects or write rollups."""
    return build_fixture_archive(tmp_path / "archive")


@pytest.fixture(autouse=True)
def private_sql_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendered SQL is cached per test session, never in the user's cache directory."""
    from analytics.rendered import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path_factory.getbasetemp() / "sql-cache"))
