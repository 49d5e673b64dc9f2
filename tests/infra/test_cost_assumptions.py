"""The cost model's fixed counts are the stack's: keys, alarms, dashboards and secrets, read from the template."""

from __future__ import annotations

import pytest

from tools.cost.workload import Assumptions

pytestmark = pytest.mark.infra


def test_the_cost_model_prices_what_the_stack_deploys(synth) -> None:
    assumptions = Assumptions()
    deployed = {
        "kms_keys": len(synth.resources("AWS::KMS::Key")),
        "alarms": len(synth.resources("AWS::CloudWatch::Alarm")),
        "dashboards": len(synth.resources("AWS::CloudWatch::Dashboard")),
        "secrets": len(synth.resources("AWS::SecretsManager::Secret")),
    }
    assert {name: getattr(assumptions, name) for name in deployed} == deployed
