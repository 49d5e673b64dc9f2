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
    "backfill_workflow": {"backfill_workflow", "cryptostream_runtime", "cryptostream_model"},
    "rollup_workflow": {"rollup_workflow", "cryptostream_runtime", "cryptostream_model"},
    "cryptostream_runtime": {"cryptostream_runtime", "cryptostream_model"},
    "cryptostream_model": {"cryptostream_model"},
}
# Third-party packages deployed code must not import: test doubles, and (for the pure-stdlib model) the SDK.
THIRD_PARTY_FORBIDDEN = {
    "producer": {"moto"},
    "consumer": {"moto"},
    "archive_transform": {"moto"},
    "backfill_workflow": {"moto"},
    "rollup_workflow": {"moto", "duckdb", "pyarrow", "sqlglot"},  # boto3 only: no query engine in the Lambda
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


# The rest of the house (docs/architecture.md, "who may import whom"): what each folder may import of ours.
LAMBDAS = {"producer", "consumer", "archive_transform", "backfill_workflow", "rollup_workflow"}
SHARED = {"cryptostream_runtime", "cryptostream_model"}
HOUSE_ALLOWED = {
    "cryptostream_config": {"cryptostream_config", "cryptostream_model"},
    "analytics": {"analytics", "cryptostream_config", "cryptostream_model"},
    "local": {"local", "cryptostream_config"} | LAMBDAS | SHARED,
    "tools": {"tools", "local", "cryptostream_config"} | LAMBDAS | SHARED,
    "infra": {"infra", "cryptostream_config", "cryptostream_model"},
    "cli": {"cli", "tools", "analytics", "local", "cryptostream_config"} | LAMBDAS | SHARED,
}
# Single files allowed one more import, each for a reason.
FILE_EXCEPTIONS = {
    # The app factory renders the analytics SQL and hands it to the Catalog construct as props.
    "infra/app_factory.py": {"analytics"},
    # The deployed proof checks the cloud rollup tables against the local DuckDB rollup of the same archive.
    "tools/deployed/rollups.py": {"analytics"},
    # ... and runs the rollups' named queries as the analyst through the deployed Athena.
    "tools/deployed/analyst.py": {"analytics"},
    # ... and compacts the deployed archive with `cryptostream compact`'s code, as an operator would.
    "tools/deployed/compaction.py": {"analytics"},
}


@pytest.mark.parametrize("package", sorted(HOUSE_ALLOWED))
def test_the_rest_of_the_house_imports_one_way(package: str) -> None:
    offenders = {}
    for path in (ROOT / package).rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        allowed = HOUSE_ALLOWED[package] | FILE_EXCEPTIONS.get(relative, set())
        bad = sorted(imported_top_levels(path) & (FIRST_PARTY - allowed))
        if bad:
            offenders[relative] = bad
    assert offenders == {}


def test_the_cdk_app_entry_imports_only_infra_and_config() -> None:
    assert imported_top_levels(ROOT / "app.py") & FIRST_PARTY <= {"infra", "cryptostream_config"}


def test_no_import_cycle_between_folders() -> None:
    """No folder may import one that imports it back (directly): the rules above form a hierarchy."""
    rules = {**HOUSE_ALLOWED, **ALLOWED}
    loops = sorted(
        (a, b) for a, others in rules.items() for b in others if a < b and b in rules and a in rules.get(b, set())
    )
    assert loops == []
