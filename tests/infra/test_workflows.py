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
