"""What a recorded call needs from IAM: actions on resources of the template, KMS keys included.

An operation is not always its own IAM action: TransactWriteItems is authorized item by item
(``ConditionCheck`` -> ``dynamodb:ConditionCheckItem``, ``Put`` -> ``PutItem``, ``Update`` -> ``UpdateItem``,
``Delete`` -> ``DeleteItem``), SendMessageBatch is ``sqs:SendMessage``. A resource with a customer-managed
key makes the service call KMS with the caller's permissions (``kms:ViaService``), so the caller needs:

- Kinesis: ``kms:GenerateDataKey`` to put records, ``kms:Decrypt`` to read them (Kinesis Data Streams
  developer guide, "Permissions to use user-generated KMS keys");
- DynamoDB: ``kms:Decrypt`` to read items; to write, ``kms:Decrypt``, ``kms:Encrypt`` and
  ``kms:GenerateDataKey`` (what the DynamoDB encryption-at-rest guide and CDK's ``grantWriteData`` give a
  writer, without ``ReEncrypt*``/``DescribeKey``, which no item call uses);
- SQS: ``kms:GenerateDataKey`` and ``kms:Decrypt`` to send, ``kms:Decrypt`` to receive (SQS developer
  guide, "Key management");
- Secrets Manager: ``kms:Decrypt`` to read a secret value.

Every operation the code calls must be listed in ``_RULES``: an unknown one raises ``UnmappedCall``
instead of being assumed to need nothing. ``ON_BEHALF`` is the allow-list of what Lambda itself does
with a function's role, each entry with its reason; its resources come from the template.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.iam.policy import Need
from tests.iam.recorder import RecordedCall
from tests.iam.template import StackTemplate, Unresolvable

KINESIS_PUT_KEY = ("kms:GenerateDataKey",)
KINESIS_READ_KEY = ("kms:Decrypt",)
DYNAMODB_READ_KEY = ("kms:Decrypt",)
DYNAMODB_WRITE_KEY = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")
SQS_SEND_KEY = ("kms:GenerateDataKey", "kms:Decrypt")
SQS_RECEIVE_KEY = ("kms:Decrypt",)
SECRET_READ_KEY = ("kms:Decrypt",)

TRANSACT_WRITE_ACTIONS = {
    "ConditionCheck": "ConditionCheckItem",
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
}
TRANSACT_GET_ACTIONS = {"Get": "GetItem"}
DYNAMODB_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "ConditionCheckItem"})
DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})


class UnmappedCall(LookupError):
    """A recorded operation with no rule here: say what IAM needs for it before it can pass."""


@dataclass(frozen=True)
class OnBehalf:
    """Something Lambda itself does with a function's role, which no handler code calls."""

    name: str
    actions: tuple[str, ...]
    reason: str


RUNTIME_LOGS = OnBehalf(
    "runtime logs",
    ("logs:CreateLogStream", "logs:PutLogEvents"),
    "the Lambda runtime writes the function's output to its own log group with the execution role",
)
ACTIVE_TRACING = OnBehalf(
    "active tracing",
    ("xray:PutTraceSegments", "xray:PutTelemetryRecords"),
    "TracingConfig Active: Lambda sends the function's segments to X-Ray with the execution role; "
    "these actions have no resource-level permissions (Resource '*')",
)
STREAM_MAPPING = OnBehalf(
    "Kinesis event source mapping",
    (
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
        "kinesis:SubscribeToShard",
    ),
    "the event source mapping polls the stream with the function's role (the Lambda developer guide's list for "
    "Kinesis mappings), decrypting records with the stream key",
)
MAPPING_ON_FAILURE = OnBehalf(
    "event source mapping on-failure destination",
    ("sqs:SendMessage",),
    "the mapping sends a dropped batch's shard and sequence range to its SQS destination with the function's "
    "role, with the queue key's data-key actions",
)
ON_BEHALF = (RUNTIME_LOGS, ACTIVE_TRACING, STREAM_MAPPING, MAPPING_ON_FAILURE)


def _via(template: StackTemplate, service: str) -> tuple[tuple[str, str], ...]:
    env = template.env
    return (
        ("aws:SecureTransport", "true"),
        ("kms:ViaService", f"{service}.{env.region}.{env.url_suffix}"),
        ("kms:CallerAccount", env.account),
    )


class NeedMapper:
    def __init__(self, template: StackTemplate) -> None:
        self.template = template

    def needs(self, call: RecordedCall) -> list[Need]:
        rule = _RULES.get((call.service, call.operation))
        if rule is None:
            raise UnmappedCall(f"{call}: no IAM rule in tests/iam/needs.py")
        return rule(self, call)

    # --- helpers ----------------------------------------------------------------------------------------
    def _resource(self, resource_type: str, name: str) -> str:
        try:
            return self.template.find(resource_type, name)
        except Unresolvable as exc:
            raise Unresolvable(f"the call names {name!r}, which the template does not declare: {exc}") from None

    def _key_needs(self, owner: str, actions: Iterable[str], service: str, why: str) -> list[Need]:
        key = self.template.key_of(owner)
        if key is None:
            return []
        return [Need(action, key, _via(self.template, service), f"{why} -> key of {owner}") for action in actions]

    # --- DynamoDB ---------------------------------------------------------------------------------------
    def _table_needs(self, call: RecordedCall, table: str, action: str, index: str | None = None) -> list[Need]:
        owner = self._resource("AWS::DynamoDB::Table", table)
        arn = self.template.arn(owner) + (f"/index/{index}" if index else "")
        why = f"{call} ({action})"
        key_actions = DYNAMODB_READ_KEY if action in DYNAMODB_READS else DYNAMODB_WRITE_KEY
        if action not in DYNAMODB_READS | DYNAMODB_WRITES:
            raise UnmappedCall(f"{call}: dynamodb:{action} is neither a read nor a write here")
        return [Need(f"dynamodb:{action}", arn, why=why), *self._key_needs(owner, key_actions, "dynamodb", why)]

    def _dynamodb_item(self, call: RecordedCall) -> list[Need]:
        return self._table_needs(call, call.params["TableName"], call.operation, call.params.get("IndexName"))

    def _dynamodb_batch(self, call: RecordedCall) -> list[Need]:
        return [
            need for table in call.params["RequestItems"] for need in self._table_needs(call, table, call.operation)
        ]

    def _dynamodb_transaction(self, call: RecordedCall) -> list[Need]:
        actions = TRANSACT_WRITE_ACTIONS if call.operation == "TransactWriteItems" else TRANSACT_GET_ACTIONS
        needs = []
        for item in call.params["TransactItems"]:
            ((kind, body),) = item.items()
            if kind not in actions:
                raise UnmappedCall(f"{call}: transaction item {kind}")
            needs += self._table_needs(call, body["TableName"], actions[kind])
        return needs

    # --- Kinesis ----------------------------------------------------------------------------------------
    def _kinesis(self, call: RecordedCall) -> list[Need]:
        name = call.params.get("StreamName") or str(call.params.get("StreamARN", "")).rpartition("/")[2]
        if not name:
            raise UnmappedCall(f"{call}: no StreamName or StreamARN to authorize against")
        owner = self._resource("AWS::Kinesis::Stream", name)
        why = str(call)
        needs = [Need(f"kinesis:{call.operation}", self.template.arn(owner), why=why)]
        if call.operation in ("PutRecord", "PutRecords"):
            needs += self._key_needs(owner, KINESIS_PUT_KEY, "kinesis", why)
        elif call.operation == "GetRecords":
            needs += self._key_needs(owner, KINESIS_READ_KEY, "kinesis", why)
        return needs

    # --- SQS --------------------------------------------------------------------------------------------
    def _sqs(self, call: RecordedCall) -> list[Need]:
        name = call.params.get("QueueName") or str(call.params["QueueUrl"]).rstrip("/").rpartition("/")[2]
        owner = self._resource("AWS::SQS::Queue", name)
        action = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage"}.get(
            call.operation, call.operation
        )
        why = f"{call} (sqs:{action})"
        needs = [Need(f"sqs:{action}", self.template.arn(owner), why=why)]
        if action == "SendMessage":
            needs += self._key_needs(owner, SQS_SEND_KEY, "sqs", why)
        elif action == "ReceiveMessage":
            needs += self._key_needs(owner, SQS_RECEIVE_KEY, "sqs", why)
        return needs

    # --- Secrets Manager --------------------------------------------------------------------------------
    def _secret(self, call: RecordedCall) -> list[Need]:
        secret_id = str(call.params["SecretId"])
        # An ARN ends in "secret:<name>-<6 random characters>".
        name = secret_id.partition(":secret:")[2][:-7] if secret_id.startswith("arn:") else secret_id
        owner = self._resource("AWS::SecretsManager::Secret", name)
        why = str(call)
        return [
            Need(f"secretsmanager:{call.operation}", self.template.arn(owner), why=why),
            *self._key_needs(owner, SECRET_READ_KEY, "secretsmanager", why),
        ]


_Rule = Callable[[NeedMapper, RecordedCall], list[Need]]
_RULES: dict[tuple[str, str], _Rule] = {
    **{
        ("dynamodb", op): NeedMapper._dynamodb_item
        for op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan")
    },
    **{("dynamodb", op): NeedMapper._dynamodb_batch for op in ("BatchGetItem", "BatchWriteItem")},
    **{("dynamodb", op): NeedMapper._dynamodb_transaction for op in ("TransactWriteItems", "TransactGetItems")},
    **{
        ("kinesis", op): NeedMapper._kinesis
        for op in (
            "PutRecord",
            "PutRecords",
            "GetRecords",
            "GetShardIterator",
            "DescribeStream",
            "DescribeStreamSummary",
            "ListShards",
            "SubscribeToShard",
        )
    },
    **{
        ("sqs", op): NeedMapper._sqs
        for op in (
            "SendMessage",
            "SendMessageBatch",
            "ReceiveMessage",
            "DeleteMessage",
            "DeleteMessageBatch",
            "GetQueueAttributes",
        )
    },
    ("secretsmanager", "GetSecretValue"): NeedMapper._secret,
}


def on_behalf_needs(template: StackTemplate, function: str, label: str) -> list[tuple[OnBehalf, Need]]:
    """What Lambda does with ``function``'s role (``ON_BEHALF``), on the resources the template gives it."""
    props: Mapping[str, Any] = template.properties(function)
    env, name = template.env, template.name(function)
    found: list[tuple[OnBehalf, Need]] = []
    log_group = props.get("LoggingConfig", {}).get("LogGroup")
    group_name = str(template.resolve(log_group)) if log_group else f"/aws/lambda/{name}"
    stream = (
        f"arn:{env.partition}:logs:{env.region}:{env.account}:log-group:{group_name}:log-stream:2026/01/01/[$LATEST]0f"
    )
    found += [
        (RUNTIME_LOGS, Need(action, stream, why=f"{label}: {RUNTIME_LOGS.name}")) for action in RUNTIME_LOGS.actions
    ]
    if props.get("TracingConfig", {}).get("Mode") == "Active":
        found += [(ACTIVE_TRACING, Need(a, "*", why=f"{label}: {ACTIVE_TRACING.name}")) for a in ACTIVE_TRACING.actions]
    mapper = NeedMapper(template)
    for lid in template.of_type("AWS::Lambda::EventSourceMapping"):
        mapping = template.properties(lid)
        if template.resolve(mapping["FunctionName"]) not in (name, template.arn(function)):
            continue
        source = template.owner_of(str(template.resolve(mapping["EventSourceArn"])))
        if source is None or template.type_of(source) != "AWS::Kinesis::Stream":
            raise Unresolvable(f"{lid}: only Kinesis event sources of this template are modelled")
        stream_arn = template.arn(source)
        for action in STREAM_MAPPING.actions:
            call = RecordedCall(
                f"{label} (event source mapping)", "kinesis", action.partition(":")[2], {"StreamARN": stream_arn}
            )
            found += [(STREAM_MAPPING, need) for need in mapper.needs(call)]
        destination = mapping.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if destination is not None:
            queue = template.owner_of(str(template.resolve(destination)))
            if queue is None or template.type_of(queue) != "AWS::SQS::Queue":
                raise Unresolvable(f"{lid}: only SQS on-failure destinations of this template are modelled")
            call = RecordedCall(
                f"{label} (event source mapping)", "sqs", "SendMessage", {"QueueUrl": template.ref(queue)}
            )
            found += [(MAPPING_ON_FAILURE, need) for need in mapper.needs(call)]
    return found
