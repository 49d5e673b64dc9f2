"""cdk-nag AwsSolutions checks on every synthesis, and the one way to acknowledge a finding.

cdk-nag 3 is a CDK validation plugin: any unacknowledged error makes synthesis fail and writes
``<outdir>/validation-report.json``. An acknowledgement is scoped to the construct it is attached
to (and its children) and must name the rule (or the exact finding) and a specific reason.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def enable_nag(app: App) -> None:
    # Acknowledged rules are also written to each resource's Metadata, so templates carry the audit trail.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True))


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge ``rule`` (e.g. ``AwsSolutions-IAM5[Action::s3:*]``) on ``scope`` with ``reason``."""
    if len(reason) < 20:
        raise ValueError(f"acknowledgement of {rule} needs a specific reason, got {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical id cdk-nag prints in findings (``<LogicalId.Arn>``)."""
    from aws_cdk import CfnElement, Stack

    resource = construct.node.default_child if not isinstance(construct, CfnElement) else construct
    return Stack.of(construct).get_logical_id(resource)  # type: ignore[arg-type]


def rendered(scope: IConstruct, value: str) -> str:
    """``value`` (e.g. a ``format_arn`` result) as cdk-nag prints it in findings: ``<AWS::Region>``, ``<Id.Arn>``.

    Findings name resources after resolution, so an acknowledgement must too: an env-agnostic stack shows
    ``arn:<AWS::Partition>:glue:<AWS::Region>:...`` and a stack with a region shows ``arn:aws:glue:eu-west-1:...``.
    """
    from aws_cdk import Stack

    return _render(Stack.of(scope).resolve(value))


def _render(node: object) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and "Ref" in node:
        return f"<{node['Ref']}>"
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        return f"<{'.'.join(node['Fn::GetAtt'])}>"
    if isinstance(node, dict) and "Fn::Join" in node:
        separator, parts = node["Fn::Join"]
        return separator.join(_render(part) for part in parts)
    raise ValueError(f"cannot render {node!r} for an acknowledgement")


def acknowledge_kms_grant_wildcards(scope: IConstruct) -> None:
    """CDK's grant methods on KMS-encrypted resources add ``GenerateDataKey*`` and ``ReEncrypt*``."""
    reason = (
        "added by CDK grant methods for a KMS-encrypted resource; the statement names one key ARN of this stack, "
        "and the wildcard only spans GenerateDataKey[WithoutPlaintext] / ReEncryptFrom/To on that key"
    )
    acknowledge(scope, "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]", reason)
    acknowledge(scope, "AwsSolutions-IAM5[Action::kms:ReEncrypt*]", reason)


def acknowledge_table_indexes(scope: IConstruct, table: IConstruct) -> None:
    acknowledge(
        scope,
        f"AwsSolutions-IAM5[Resource::<{logical_id(table)}.Arn>/index/*]",
        "CDK's table.grant covers the table's indexes as index/*; the table has exactly one GSI "
        "(latest-by-interval) which the grantee queries for the latest quotes",
    )


def acknowledge_xray(scope: IConstruct) -> None:
    acknowledge(
        scope,
        "AwsSolutions-IAM5[Resource::*]",
        "active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords have no resource-level permissions",
    )
