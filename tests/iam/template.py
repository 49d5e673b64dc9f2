"""The synthesized template as IAM sees it: intrinsic functions resolved to concrete ARNs.

Every ``Ref``/``Fn::GetAtt``/``Fn::Join``/``Fn::Sub``/``Fn::Select``/``Fn::Split`` of the stack's own
resources resolves by logical id to the value CloudFormation would give it in one fixed account and
region (``Environment``), using the resource's name property (``TableName``, ``StreamName``...). A policy
that names a resource by GetAtt and one that spells out its ARN therefore resolve to the same string, and
a call recorded against a resource *name* is resolved through the same template (``find``). Whatever it
cannot resolve raises ``Unresolvable`` rather than match by accident.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from tests.iam.policy import Grant, Statement, StatementAt, UnsupportedPolicy


class Unresolvable(ValueError):
    """An intrinsic function or resource attribute this module does not model."""


@dataclass(frozen=True)
class Environment:
    partition: str = "aws"
    region: str = "us-east-1"
    account: str = "123456789012"
    url_suffix: str = "amazonaws.com"
    stack_name: str = "cryptostream"

    @property
    def root(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:root"


# The property holding each type's physical name (CloudFormation generates one when it is absent).
NAME_PROPERTY: dict[str, str] = {
    "AWS::Kinesis::Stream": "Name",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Athena::WorkGroup": "Name",
}
# Names nested in a property (Glue's inputs).
NESTED_NAME_PROPERTY: dict[str, tuple[str, ...]] = {
    "AWS::Glue::Database": ("DatabaseInput", "Name"),
    "AWS::Glue::Table": ("TableInput", "Name"),
}
# Where each data store names its customer-managed key.
KEY_PROPERTY: dict[str, tuple[str | int, ...]] = {
    "AWS::Kinesis::Stream": ("StreamEncryption", "KeyId"),
    "AWS::DynamoDB::Table": ("SSESpecification", "KMSMasterKeyId"),
    "AWS::SQS::Queue": ("KmsMasterKeyId",),
    "AWS::SecretsManager::Secret": ("KmsKeyId",),
    "AWS::S3::Bucket": ("BucketEncryption", "ServerSideEncryptionConfiguration", 0, "ServerSideEncryptionByDefault",
                        "KMSMasterKeyID"),
}
SECRET_SUFFIX = "AbCdEf"  # Secrets Manager appends six random characters to a secret's ARN
_POLICY_DOCUMENT_TYPES = frozenset(
    {
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::S3::BucketPolicy",
    }
)


def _as_tuple(value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    return tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in values)


class StackTemplate:
    def __init__(self, raw: Mapping[str, Any], env: Environment | None = None) -> None:
        self.raw = raw
        self.env = env or Environment()
        self.resources: Mapping[str, Mapping[str, Any]] = raw["Resources"]
        self._statements: dict[str, list[Statement]] = {}

    # --- intrinsic functions ------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self.ref(argument)
            if function == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(logical_id, attribute)
            if function == "Fn::Join":
                separator, parts = argument
                return separator.join(str(part) for part in self.resolve(parts))
            if function == "Fn::Select":
                index, values = argument
                return self.resolve(values)[int(self.resolve(index))]
            if function == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(separator)
            if function == "Fn::Sub":
                return self._sub(argument)
            if function.startswith("Fn::") or function == "Condition":
                raise Unresolvable(f"{function} is not modelled")
        return {key: self.resolve(item) for key, item in value.items()}

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                return str(self.get_att(*name.split(".", 1)))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def ref(self, name: str) -> str:
        env = self.env
        pseudo = {
            "AWS::Partition": env.partition,
            "AWS::Region": env.region,
            "AWS::AccountId": env.account,
            "AWS::URLSuffix": env.url_suffix,
            "AWS::StackName": env.stack_name,
        }
        if name in pseudo:
            return pseudo[name]
        parameter = self.raw.get("Parameters", {}).get(name)
        if parameter is not None:
            if "Default" not in parameter:
                raise Unresolvable(f"parameter {name} has no default")
            return str(parameter["Default"])
        kind = self.type_of(name)
        if kind in ("AWS::Kinesis::Stream", "AWS::DynamoDB::Table", "AWS::Logs::LogGroup", "AWS::IAM::Role",
                    "AWS::S3::Bucket", "AWS::Athena::WorkGroup", "AWS::Glue::Database", "AWS::Glue::Table"):
            return self.name(name)
        if kind == "AWS::Lambda::Function":
            return self.name(name)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{env.region}.{env.url_suffix}/{env.account}/{self.name(name)}"
        if kind == "AWS::KMS::Key":
            return self.key_id(name)
        if kind == "AWS::SecretsManager::Secret":
            return self.arn(name)
        raise Unresolvable(f"Ref of {kind} {name}")

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.type_of(logical_id)
        if attribute == "Arn":
            return self.arn(logical_id)
        if (kind, attribute) == ("AWS::SQS::Queue", "QueueName"):
            return self.name(logical_id)
        if (kind, attribute) == ("AWS::SQS::Queue", "QueueUrl"):
            return self.ref(logical_id)
        if (kind, attribute) == ("AWS::KMS::Key", "KeyId"):
            return self.key_id(logical_id)
        raise Unresolvable(f"Fn::GetAtt {logical_id}.{attribute} ({kind})")

    # --- resources ------------------------------------------------------------------------------------
    def type_of(self, logical_id: str) -> str:
        if logical_id not in self.resources:
            raise Unresolvable(f"no resource {logical_id} in the template")
        return str(self.resources[logical_id]["Type"])

    def properties(self, logical_id: str) -> Mapping[str, Any]:
        return self.resources[logical_id].get("Properties", {})

    def name(self, logical_id: str) -> str:
        kind = self.type_of(logical_id)
        prop = NAME_PROPERTY.get(kind)
        value = self.properties(logical_id).get(prop) if prop else None
        if kind in NESTED_NAME_PROPERTY:
            value = self.properties(logical_id)
            for step in NESTED_NAME_PROPERTY[kind]:
                value = value.get(step) if isinstance(value, Mapping) else None
        return str(self.resolve(value)) if value is not None else f"{self.env.stack_name}-{logical_id}"

    def key_id(self, logical_id: str) -> str:
        return f"key-{logical_id.lower()}"  # stands in for the UUID KMS generates

    def arn(self, logical_id: str) -> str:
        env, kind = self.env, self.type_of(logical_id)
        prefix = f"arn:{env.partition}"
        regional = f"{env.region}:{env.account}"
        formats = {
            "AWS::Kinesis::Stream": lambda: f"{prefix}:kinesis:{regional}:stream/{self.name(logical_id)}",
            "AWS::DynamoDB::Table": lambda: f"{prefix}:dynamodb:{regional}:table/{self.name(logical_id)}",
            "AWS::SQS::Queue": lambda: f"{prefix}:sqs:{regional}:{self.name(logical_id)}",
            "AWS::KMS::Key": lambda: f"{prefix}:kms:{regional}:key/{self.key_id(logical_id)}",
            "AWS::SecretsManager::Secret": lambda: (
                f"{prefix}:secretsmanager:{regional}:secret:{self.name(logical_id)}-{SECRET_SUFFIX}"
            ),
            "AWS::Logs::LogGroup": lambda: f"{prefix}:logs:{regional}:log-group:{self.name(logical_id)}:*",
            "AWS::IAM::Role": lambda: f"{prefix}:iam::{env.account}:role/{self.name(logical_id)}",
            "AWS::Lambda::Function": lambda: f"{prefix}:lambda:{regional}:function:{self.name(logical_id)}",
            "AWS::S3::Bucket": lambda: f"{prefix}:s3:::{self.name(logical_id)}",
            "AWS::Athena::WorkGroup": lambda: f"{prefix}:athena:{regional}:workgroup/{self.name(logical_id)}",
            "AWS::Glue::Database": lambda: f"{prefix}:glue:{regional}:database/{self.name(logical_id)}",
            "AWS::Glue::Table": lambda: (
                f"{prefix}:glue:{regional}:table/{self.resolve(self.properties(logical_id)['DatabaseName'])}/"
                f"{self.name(logical_id)}"
            ),
        }
        if kind not in formats:
            raise Unresolvable(f"ARN of {kind} {logical_id}")
        return formats[kind]()

    def of_type(self, resource_type: str) -> Iterator[str]:
        return (lid for lid, resource in self.resources.items() if resource["Type"] == resource_type)

    def find(self, resource_type: str, name: str) -> str:
        """The logical id of the ``resource_type`` whose physical name is ``name``."""
        found = [lid for lid in self.of_type(resource_type) if self.name(lid) == name]
        if len(found) != 1:
            raise Unresolvable(f"{len(found)} {resource_type} named {name!r} in the template")
        return found[0]

    @cached_property
    def _owners(self) -> dict[str, str]:
        owners: dict[str, str] = {}
        for lid, resource in self.resources.items():
            try:
                owners[self.arn(lid)] = lid
            except Unresolvable:
                continue
            if resource["Type"] == "AWS::Logs::LogGroup":
                owners[self.arn(lid).removesuffix(":*")] = lid
        return owners

    def owner_of(self, arn: str) -> str | None:
        """The logical id of the resource ``arn`` belongs to (a table's index belongs to its table)."""
        base = re.sub(r"(:table/[^/]+)/(index|stream)/.*$", r"\1", arn)
        base = re.sub(r"(:log-group:[^:]+):log-stream:.*$", r"\1", base)
        base = re.sub(r"^(arn:[^:]+:s3:::[^/]+)/.*$", r"\1", base)  # an object belongs to its bucket
        return self._owners.get(base)

    def key_of(self, logical_id: str) -> str | None:
        """ARN of the customer-managed key encrypting a stream, table, queue or secret (None: AWS-owned)."""
        value: Any = self.properties(logical_id)
        for step in KEY_PROPERTY.get(self.type_of(logical_id), ("-",)):
            if isinstance(step, int):
                value = value[step] if isinstance(value, list) and len(value) > step else None
            else:
                value = value.get(step) if isinstance(value, Mapping) else None
        if value is None:
            return None
        if isinstance(value, dict) and ("Ref" in value or "Fn::GetAtt" in value):
            target = value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]
            if self.resources.get(target, {}).get("Type") == "AWS::KMS::Key":
                return self.arn(target)
        resolved = str(self.resolve(value))
        if re.match(r"^arn:[^:]+:kms:[^:]*:[^:]*:key/", resolved):
            return resolved
        raise Unresolvable(f"{logical_id} is encrypted with {resolved!r}, which is not a key of this template")

    # --- policies ---------------------------------------------------------------------------------------
    def _documents(self, logical_id: str) -> list[Mapping[str, Any]]:
        resource = self.resources[logical_id]
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind in _POLICY_DOCUMENT_TYPES:
            return [props["PolicyDocument"]]
        if kind == "AWS::KMS::Key":
            return [props["KeyPolicy"]] if "KeyPolicy" in props else []
        if kind == "AWS::IAM::Role":
            return [policy["PolicyDocument"] for policy in props.get("Policies", [])]
        if kind in ("AWS::SecretsManager::ResourcePolicy", "AWS::Kinesis::ResourcePolicy"):
            return [props["ResourcePolicy"]]
        if kind == "AWS::DynamoDB::Table" and "ResourcePolicy" in props:
            return [props["ResourcePolicy"]["PolicyDocument"]]
        return []

    def statements(self, logical_id: str) -> list[Statement]:
        """The statements of the policy documents ``logical_id`` holds, resolved (cached)."""
        if logical_id not in self._statements:
            self._statements[logical_id] = self._parse_statements(logical_id)
        return self._statements[logical_id]

    def _parse_statements(self, logical_id: str) -> list[Statement]:
        found = []
        for document_index, document in enumerate(self._documents(logical_id)):
            raw = document["Statement"]
            for index, statement in enumerate(raw if isinstance(raw, list) else [raw]):
                found.append(self._statement(StatementAt(logical_id, document_index, index), statement))
        return found

    def _statement(self, at: StatementAt, raw: Mapping[str, Any]) -> Statement:
        def optional(key: str) -> tuple[str, ...] | None:
            return _as_tuple(self.resolve(raw[key])) if key in raw else None

        def principals(key: str) -> tuple[str, ...] | None:
            if key not in raw:
                return None
            value = self.resolve(raw[key])
            if value == "*":
                return ("*",)
            named: list[str] = []
            for kind, who in value.items():
                for one in _as_tuple(who):
                    if kind == "AWS":
                        named.append(self.env.root if re.fullmatch(r"\d{12}", one) else one)
                    else:
                        named.append(f"{kind.lower()}:{one}")
            return tuple(named)

        conditions = tuple(
            (operator, key, _as_tuple(values))
            for operator, block in self.resolve(raw.get("Condition", {})).items()
            for key, values in block.items()
        )
        return Statement(
            at=at,
            effect=raw["Effect"],
            actions=optional("Action"),
            not_actions=optional("NotAction"),
            resources=optional("Resource"),
            not_resources=optional("NotResource"),
            principals=principals("Principal"),
            not_principals=principals("NotPrincipal"),
            conditions=conditions,
        )

    def identity_statements(self, role: str) -> list[Statement]:
        """Every statement of ``role``'s identity policies: inline, and stack policies attached to it."""
        props = self.properties(role)
        if props.get("ManagedPolicyArns") or props.get("PermissionsBoundary"):
            raise UnsupportedPolicy(f"{role} has managed policies or a boundary outside this template")
        found = self.statements(role)
        for lid, resource in self.resources.items():
            attached = {"Ref": role} in resource.get("Properties", {}).get("Roles", [])
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and attached:
                found += self.statements(lid)
        return found

    def resource_statements(self, owner: str) -> list[Statement]:
        """The resource policy of ``owner``: a key policy, queue policy, secret, stream or table policy."""
        found = self.statements(owner)
        owner_ref, owner_arn = {"Ref": owner}, {"Fn::GetAtt": [owner, "Arn"]}
        for lid, resource in self.resources.items():
            props = resource.get("Properties", {})
            targets = {
                "AWS::SQS::QueuePolicy": owner_ref in props.get("Queues", []),
                "AWS::SecretsManager::ResourcePolicy": props.get("SecretId") == owner_ref,
                "AWS::Kinesis::ResourcePolicy": props.get("ResourceArn") == owner_arn,
                "AWS::S3::BucketPolicy": props.get("Bucket") == owner_ref,
            }
            if targets.get(resource["Type"], False):
                found += self.statements(lid)
        return found

    def role_of(self, function: str) -> str:
        role = self.properties(function)["Role"]
        if not (isinstance(role, dict) and "Fn::GetAtt" in role):
            raise Unresolvable(f"{function}'s role is not a role of this template: {role!r}")
        return str(role["Fn::GetAtt"][0])

    def without(self, grant: Grant) -> StackTemplate:
        """A copy of this template with one action removed from one statement (only that resource is copied)."""
        resources = dict(self.resources)
        resources[grant.at.resource] = copy.deepcopy(resources[grant.at.resource])
        copied = StackTemplate({**self.raw, "Resources": resources}, self.env)
        document = copied._documents(grant.at.resource)[grant.at.document]
        statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
        statement = statements[grant.at.index]
        if "Action" not in statement:
            raise UnsupportedPolicy(f"{grant.at}: removing from a NotAction would widen it")
        actions = list(_as_tuple(statement["Action"]))
        actions.remove(grant.action)
        statement["Action"] = actions
        if not isinstance(document["Statement"], list):
            document["Statement"] = statements  # type: ignore[index]
        return copied
