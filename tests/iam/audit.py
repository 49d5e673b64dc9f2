"""Each Lambda's recorded calls checked against its role in the template, and the role against the calls.

``audit`` maps every recorded call to what it needs (``needs.NeedMapper``), adds what Lambda does with
the role (``needs.on_behalf_needs``) and decides each need with ``policy.evaluate`` on the role's identity
policies plus the resource's own policy (key policy, queue policy...). ``denials`` lists what the role
would refuse; ``unused`` lists each granted action and resource no need uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from tests.iam.needs import NeedMapper, OnBehalf, on_behalf_needs
from tests.iam.policy import Decision, Grant, Need, action_match, evaluate, glob_match
from tests.iam.recorder import RecordedCall
from tests.iam.template import StackTemplate

# Resources whose own policies can grant a role something (key, queue, secret, stream and table policies).
RESOURCE_POLICY_OWNERS = (
    "AWS::KMS::Key",
    "AWS::SQS::Queue",
    "AWS::SecretsManager::Secret",
    "AWS::Kinesis::Stream",
    "AWS::DynamoDB::Table",
)


@dataclass
class RoleAudit:
    function: str  # the handler's package
    function_id: str  # logical ids in the template
    role: str
    calls: list[RecordedCall]
    needs: list[Need]  # distinct, from the recorded calls
    on_behalf: list[tuple[OnBehalf, Need]]  # distinct, what Lambda does with the role
    decisions: dict[Need, Decision] = field(default_factory=dict)

    def all_needs(self) -> list[Need]:
        return self.needs + [need for _, need in self.on_behalf]


def functions_by_package(template: StackTemplate) -> dict[str, str]:
    """``{package: function logical id}`` for functions whose handler is ``<package>.handler.lambda_handler``."""
    found: dict[str, str] = {}
    for lid in template.of_type("AWS::Lambda::Function"):
        handler = str(template.properties(lid).get("Handler", ""))
        if handler.endswith(".handler.lambda_handler"):
            found[handler.split(".", 1)[0]] = lid
    return found


def _distinct(needs: Iterable[Need]) -> list[Need]:
    return list(dict.fromkeys(needs))


def decide(template: StackTemplate, role: str, need: Need) -> Decision:
    owner = template.owner_of(need.resource) if need.resource != "*" else None
    return evaluate(
        template.arn(role),
        template.env.root,
        template.identity_statements(role),
        need,
        resource_policy=template.resource_statements(owner) if owner else (),
        owner_arn=template.arn(owner) if owner else None,
        key_policy=owner is not None and template.type_of(owner) == "AWS::KMS::Key",
    )


def audit(template: StackTemplate, calls: Sequence[RecordedCall], functions: Iterable[str]) -> dict[str, RoleAudit]:
    by_package = functions_by_package(template)
    mapper = NeedMapper(template)
    audits: dict[str, RoleAudit] = {}
    for function in functions:
        function_id = by_package[function]
        mine = [call for call in calls if call.function == function]
        needs = _distinct(need for call in mine for need in mapper.needs(call))
        on_behalf = list(dict.fromkeys(on_behalf_needs(template, function_id, function)))
        role = template.role_of(function_id)
        result = RoleAudit(function, function_id, role, mine, needs, on_behalf)
        result.decisions = {need: decide(template, role, need) for need in result.all_needs()}
        audits[function] = result
    return audits


def denials(template: StackTemplate, audits: Mapping[str, RoleAudit], *, on_behalf: bool = False) -> list[str]:
    """Every need a role refuses, as one line each (recorded calls, or with ``on_behalf`` Lambda's own)."""
    found = []
    for result in audits.values():
        needs = [need for _, need in result.on_behalf] if on_behalf else result.needs
        for need in needs:
            decision = decide(template, result.role, need)
            if not decision.allowed:
                found.append(f"{result.function}: {need} DENIED ({decision.reason}); needed by {need.why}")
    return found


def grants_in_use(audits: Mapping[str, RoleAudit]) -> dict[Grant, list[tuple[str, Need]]]:
    """Every grant some decision rests on, with the (function, need) pairs resting on it."""
    used: dict[Grant, list[tuple[str, Need]]] = {}
    for result in audits.values():
        for need, decision in result.decisions.items():
            for grant in decision.grants:
                used.setdefault(grant, []).append((result.function, need))
    return used


def granted(template: StackTemplate, role: str) -> list[tuple[Grant, str]]:
    """Every (action, resource) the role is granted: its identity policies' Allow statements, and resource
    policies that name the role itself (a key policy's ``Resource: *`` meaning that key)."""
    units: list[tuple[Grant, str]] = []
    for statement in template.identity_statements(role):
        if statement.effect != "Allow":
            continue
        if statement.actions is None or statement.resources is None:
            units.append((Grant(statement.at, "<NotAction/NotResource>"), "*"))
            continue
        units += [(Grant(statement.at, a), r) for a in statement.actions for r in statement.resources]
    principal = template.arn(role)
    owners = [lid for kind in RESOURCE_POLICY_OWNERS for lid in template.of_type(kind)]
    for owner in owners:
        for statement in template.resource_statements(owner):
            if statement.effect == "Allow" and statement.principals and principal in statement.principals:
                units += [(Grant(statement.at, a), template.arn(owner)) for a in statement.actions or ("<NotAction>",)]
    return list(dict.fromkeys(units))


def unused(template: StackTemplate, result: RoleAudit) -> list[tuple[Grant, str]]:
    """Granted (action, resource) pairs that no recorded call and nothing Lambda does needs."""
    needs = result.all_needs()
    return [
        (grant, resource)
        for grant, resource in granted(template, result.role)
        if not any(action_match(grant.action, n.action) and glob_match(resource, n.resource) for n in needs)
    ]
