"""IAM policy evaluation, small and strict: does a principal's policy allow one action on one resource?

Same-account rules (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
an explicit Deny in any policy wins; otherwise an Allow in the identity policy or one naming the principal
in the resource's policy allows. KMS is stricter: the key policy must allow the principal itself, or allow
the account (``…:root``) *and* the identity policy must allow.

Actions and resources match with ``*``/``?`` wildcards (actions case-insensitively), ``NotAction``/
``NotResource``/``NotPrincipal`` are honoured, and the condition operators in ``_OPERATORS`` are evaluated
against the request context; an operator it does not know raises instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache


class UnsupportedPolicy(ValueError):
    """A policy construct this evaluator cannot decide (it never guesses)."""


@dataclass(frozen=True, order=True)
class StatementAt:
    """Where a statement lives in the template: resource logical id, policy document, statement index."""

    resource: str
    document: int
    index: int

    def __str__(self) -> str:
        return f"{self.resource}[{self.document}].Statement[{self.index}]"


@dataclass(frozen=True)
class Statement:
    """One policy statement with every intrinsic function already resolved to strings."""

    at: StatementAt
    effect: str
    actions: tuple[str, ...] | None = None
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    not_resources: tuple[str, ...] | None = None
    principals: tuple[str, ...] | None = None  # "*" or ARNs / "service:<name>"; None in identity policies
    not_principals: tuple[str, ...] | None = None
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (operator, key, values)


@dataclass(frozen=True, order=True)
class Grant:
    """One action (as written) of one statement: the unit removed by the "any grant" test."""

    at: StatementAt
    action: str

    def __str__(self) -> str:
        return f"{self.action} in {self.at}"


@dataclass(frozen=True)
class Need:
    """One IAM authorization a call needs: ``action`` on ``resource`` with a request ``context``."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = (("aws:SecureTransport", "true"),)
    why: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    grants: tuple[Grant, ...]  # the Allow grants this decision rests on
    denied_by: tuple[StatementAt, ...] = ()
    reason: str = ""


@lru_cache(maxsize=4096)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def glob_match(glob: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: ``*`` any run of characters, ``?`` one character."""
    return _pattern(glob, ignore_case).match(value) is not None


def action_match(pattern: str, action: str) -> bool:
    return glob_match(pattern, action, ignore_case=True)


def _matching_action(statement: Statement, action: str) -> str | None:
    """The first of the statement's actions that covers ``action`` ("" for a matching NotAction)."""
    if statement.actions is not None:
        return next((a for a in statement.actions if action_match(a, action)), None)
    if statement.not_actions is not None:
        return None if any(action_match(a, action) for a in statement.not_actions) else ""
    raise UnsupportedPolicy(f"{statement.at}: neither Action nor NotAction")


def _resource_match(statement: Statement, resource: str, owner_arn: str | None) -> bool:
    if statement.resources is not None:
        # In a resource policy, "*" (or the owner's own ARN) means the resource the policy is attached to.
        return any(
            glob_match(r, resource) or (owner_arn is not None and glob_match(r, owner_arn)) for r in statement.resources
        )
    if statement.not_resources is not None:
        return not any(glob_match(r, resource) for r in statement.not_resources)
    return owner_arn is not None  # a resource policy's statement without Resource applies to its resource


def _condition_values(operator: str, expected: tuple[str, ...], actual: str) -> bool:
    if operator in ("StringEquals", "ArnEquals"):
        return actual in expected
    if operator == "StringEqualsIgnoreCase":
        return actual.lower() in {e.lower() for e in expected}
    if operator in ("StringLike", "ArnLike"):
        return any(glob_match(e, actual) for e in expected)
    if operator == "Bool":
        return actual.lower() in {e.lower() for e in expected}
    raise UnsupportedPolicy(f"condition operator {operator}")


_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}
_OPERATORS = frozenset({"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "Bool", "Null"})


def _condition_holds(operator: str, key: str, expected: tuple[str, ...], context: Mapping[str, str]) -> bool:
    if operator.startswith(("ForAnyValue:", "ForAllValues:")):
        raise UnsupportedPolicy(f"multivalued condition operator {operator}")
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    actual = context.get(key)
    if base == "Null":
        return (actual is None) == (expected[0].lower() == "true")
    if base in _NEGATED:
        return actual is None or not _condition_values(_NEGATED[base], expected, actual)
    if base not in _OPERATORS:
        raise UnsupportedPolicy(f"condition operator {operator}")
    if actual is None:
        return if_exists
    return _condition_values(base, expected, actual)


def _conditions_hold(statement: Statement, context: Mapping[str, str]) -> bool:
    return all(_condition_holds(op, key, values, context) for op, key, values in statement.conditions)


def _principal_kind(statement: Statement, principal: str, account_root: str) -> str | None:
    """How a resource-policy statement names ``principal``: "direct", "account" (``…:root``) or None."""
    if statement.principals is not None:
        named = set(statement.principals)
        if "*" in named or principal in named:
            return "direct"
        return "account" if account_root in named else None
    if statement.not_principals is not None:
        return None if principal in statement.not_principals or account_root in statement.not_principals else "direct"
    raise UnsupportedPolicy(f"{statement.at}: resource policy statement without Principal")


@dataclass(frozen=True)
class _Match:
    statement: Statement
    action: str  # the action pattern that matched ("" for NotAction)


def _matches(
    statements: Iterable[Statement], need: Need, owner_arn: str | None, context: Mapping[str, str]
) -> list[_Match]:
    found = []
    for statement in statements:
        action = _matching_action(statement, need.action)
        if action is None or not _resource_match(statement, need.resource, owner_arn):
            continue
        if _conditions_hold(statement, context):
            found.append(_Match(statement, action))
    return found


def _grants(matches: Iterable[_Match]) -> tuple[Grant, ...]:
    return tuple(Grant(m.statement.at, m.action) for m in matches)


def evaluate(
    principal: str,
    account_root: str,
    identity: Sequence[Statement],
    need: Need,
    *,
    resource_policy: Sequence[Statement] = (),
    owner_arn: str | None = None,
    key_policy: bool = False,
) -> Decision:
    """Does ``principal`` (a role ARN in ``account_root``'s account) get ``need``?

    ``resource_policy`` is the policy of the resource ``need`` touches (``owner_arn``); with
    ``key_policy`` it is a KMS key policy, which must allow the principal or delegate to the account.
    """
    context = dict(need.context)
    context.setdefault("aws:PrincipalArn", principal)
    mine = _matches(identity, need, None, context)
    theirs = [
        (m, kind)
        for m in _matches(resource_policy, need, owner_arn, context)
        if (kind := _principal_kind(m.statement, principal, account_root)) is not None
    ]
    denies = [m.statement.at for m in mine if m.statement.effect == "Deny"]
    denies += [m.statement.at for m, _ in theirs if m.statement.effect == "Deny"]
    if denies:
        return Decision(False, (), tuple(denies), "explicit Deny")
    identity_allows = [m for m in mine if m.statement.effect == "Allow"]
    direct = [m for m, kind in theirs if m.statement.effect == "Allow" and kind == "direct"]
    if key_policy:
        delegated = [m for m, kind in theirs if m.statement.effect == "Allow" and kind == "account"]
        if direct:
            return Decision(
                True, _grants(direct + (delegated + identity_allows if delegated and identity_allows else []))
            )
        if delegated and identity_allows:
            return Decision(True, _grants(delegated + identity_allows))
        reason = "key policy neither allows the role nor delegates to the account" if not delegated else ""
        return Decision(False, (), (), reason or "no identity policy statement allows it")
    if identity_allows or direct:
        return Decision(True, _grants(identity_allows + direct))
    return Decision(False, (), (), "no statement allows it")
