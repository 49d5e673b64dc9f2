"""The house's dependency rules, checked on the source.

What is deployed to Lambda imports downward only: each function (``producer``, ``consumer``,
``archive_transform``) imports its own package, ``cryptostream_runtime`` and ``cryptostream_model``;
``cryptostream_runtime`` imports ``cryptostream_model``; ``cryptostream_model`` imports nothing of the
house. Third-party packages and the standard library are theirs to import, except the test doubles.
So nothing deployed imports ``local/``, ``cli/``, ``tools/``, ``bench/``, ``analytics/``, ``infra/``,
``cryptostream_config/`` or another function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Every top-level package and module of this repository: the house's own names.
FIRST_PARTY = {path.parent.name for path in ROOT.glob("*/__init__.py")} | {path.stem for path in ROOT.glob("*.py")}
# The deployed packages and the only first-party packages each may import.
ALLOWED = {
    "producer": {"producer", "cryptostream_runtime", "cryptostream_model"},
    "consumer": {"consumer", "cryptostream_runtime", "cryptostream_model"},
    "archive_transform": {"archive_transform", "cryptostream_runtime", "cryptostream_model"},
    "cryptostream_runtime": {"cryptostream_runtime", "cryptostream_model"},
    "cryptostream_model": {"cryptostream_model"},
}
# Third-party packages deployed code must not import: test doubles, and (for the pure-stdlib model) the SDK.
THIRD_PARTY_FORBIDDEN = {
    "producer": {"moto"},
    "consumer": {"moto"},
    "archive_transform": {"moto"},
    "cryptostream_runtime": {"moto"},
    "cryptostream_model": {"moto", "boto3", "botocore"},
}


def imported_top_levels(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_rules_know_every_first_party_package() -> None:
    assert set(ALLOWED) <= FIRST_PARTY
    assert {"local", "cli", "tools", "analytics", "infra", "cryptostream_config", "tests"} <= FIRST_PARTY


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_deployed_code_imports_only_downward(package: str) -> None:
    forbidden = (FIRST_PARTY - ALLOWED[package]) | THIRD_PARTY_FORBIDDEN[package]
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_levels(path) & forbidden)
        for path in (ROOT / package).rglob("*.py")
    }
    assert {path: bad for path, bad in offenders.items() if bad} == {}
