"""CI/CD: ci.yml runs what developers run; deploy.yml deploys on demand with OIDC, never stored keys."""

from __future__ import annotations

import json

import pytest
import yaml

from infra.assets import REPO_ROOT

pytestmark = pytest.mark.infra
WORKFLOWS = REPO_ROOT / ".github" / "workflows"


def _workflow(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as True
    return document


def _runs(workflow: dict) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


def test_ci_runs_make_test_on_pushes_and_pull_requests() -> None:
    ci = _workflow("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    assert "make test" in _runs(ci)
    assert ci["permissions"] == {"contents": "read"}


def test_deploy_is_manual_with_an_oidc_role_and_no_static_keys() -> None:
    deploy = _workflow("deploy.yml")
    assert set(deploy["on"]) == {"workflow_dispatch"}
    assert deploy["permissions"]["id-token"] == "write"
    steps = [step for job in deploy["jobs"].values() for step in job["steps"]]
    (credentials,) = [s for s in steps if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials")]
    assert "role-to-assume" in credentials["with"]
    assert "aws-access-key-id" not in json.dumps(deploy) and "AWS_SECRET_ACCESS_KEY" not in json.dumps(deploy)
    assert any("make deploy" in run for run in _runs(deploy))


def test_cli_is_pinned_to_a_version_that_reads_current_assemblies() -> None:
    package = json.loads((REPO_ROOT / "package.json").read_text())
    lock = json.loads((REPO_ROOT / "package-lock.json").read_text())
    assert package["devDependencies"]["aws-cdk"].lstrip("~^").startswith("2.1148.")
    assert lock["packages"]["node_modules/aws-cdk"]["version"].startswith("2.1148.")


def test_lambda_tests_run_on_the_runtimes_python_with_the_layer_as_deployed() -> None:
    """The lambda-runtime job follows infra/assets.py: same Python, same pip flags, same requirements."""
    from infra.assets import PIP_FLAGS, PLATFORM, RUNTIME, python_version

    job = _workflow("ci.yml")["jobs"]["lambda-runtime"]
    assert job["env"]["RUNTIME_PYTHON"] == python_version(RUNTIME)
    (setup,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/setup-python")]
    assert setup["with"]["python-version"] == "${{ env.RUNTIME_PYTHON }}"
    runs = [step["run"] for step in job["steps"] if "run" in step]
    (layer,) = [run for run in runs if "layers/requirements.txt" in run]
    assert set(PIP_FLAGS) <= set(layer.split()) and f"--platform {PLATFORM}" in layer
    assert '--python-version "$RUNTIME_PYTHON"' in layer and "--implementation cp" in layer
    assert not any("pip install" in run and ("-e ." in run or "[dev]" in run) for run in runs), "no dev install"
    (tests,) = [run for run in runs if "pytest" in run]
    assert tests.startswith('PYTHONPATH="$LAYER" ')
    for package in ("producer", "consumer", "archive_transform", "model"):
        assert f"tests/{package}" in tests.split()


def test_lambda_test_and_layer_pins_match_pyproject() -> None:
    """layers/requirements.txt and tests/requirements-lambda.txt pin what pyproject.toml pins, version for version."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pinned = {canonicalize_name(r.name): str(r.specifier) for r in map(Requirement, declared)}
    for path in (REPO_ROOT / "layers" / "requirements.txt", REPO_ROOT / "tests" / "requirements-lambda.txt"):
        lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        for requirement in (Requirement(line) for line in lines if line):
            assert str(requirement.specifier).startswith("=="), (path.name, str(requirement))
            name = canonicalize_name(requirement.name)
            if name in pinned:
                assert pinned[name] == str(requirement.specifier), (path.name, name)
    (powertools,) = [r for r in map(Requirement, project["dependencies"]) if r.name == "aws-lambda-powertools"]
    assert powertools.extras == set(), "no [parser] extra (pydantic): no deployed code uses it"
