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
