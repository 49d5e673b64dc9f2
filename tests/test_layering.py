"""The house's dependency rules, checked on the source: Lambda code never imports the local stack,
and producer and consumer never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "producer": {"cryptostream", "consumer", "tests", "moto", "analytics", "infra", "archive_transform"},
    "consumer": {"cryptostream", "producer", "tests", "moto", "analytics", "infra", "archive_transform"},
    "archive_transform": {"cryptostream", "producer", "consumer", "tests", "moto", "analytics", "infra"},
    "cryptostream_model": {"cryptostream", "producer", "consumer", "tests", "moto", "boto3", "analytics", "infra"},
}


def imported_top_levels(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lambda_code_imports_nothing_it_must_not(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_levels(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {path: bad for path, bad in offenders.items() if bad} == {}
