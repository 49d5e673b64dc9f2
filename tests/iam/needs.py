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
- Secrets Manager: ``kms:Decrypt`` to read a secret value;
- S3 (SSE-KMS with a bucket key): ``kms:GenerateDataKey`` to put an object, ``kms:Decrypt`` to get one (S3 user
  guide, "Using SSE-KMS"), the encryption context being the bucket's ARN.

Athena runs a query with the caller's credentials (Athena user guide, "Access to Glue Data Catalog", "Access to
query results", "Lake Formation"): StartQueryExecution also needs ``glue:GetDatabase``/``glue:GetTable`` on the
catalog, database and each table the query names; writing the results under the workgroup's output location
(``s3:GetBucketLocation`` and ``s3:ListBucket`` on its bucket, ``s3:PutObject`` and ``s3:AbortMultipartUpload``
under it: the result-location actions of Athena's managed policy that a query uses, as the analyst policy grants
them, and the result key's ``kms:GenerateDataKey``); and reading the tables' data:
through Lake Formation (``lakeformation:GetDataAccess``) when the table's location is registered with it, else
``s3:ListBucket``/``s3:GetObject`` on the location and its key's ``kms:Decrypt``. GetQueryResults reads the result
object (``s3:GetObject``, ``kms:Decrypt``). Lake Formation's own grants (SELECT on the table) are not IAM and are
not checked here.

Every operation the code calls must be listed in ``_RULES``: an unknown one raises ``UnmappedCall``
instead of being assumed to need nothing. ``ON_BEHALF`` is the allow-list of what Lambda itself does
with a function's role, each entry with its reason; its resources come from the template.
"""

from __future__ import annotations

import re
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
S3_PUT_KEY = ("kms:GenerateDataKey",)
S3_GET_KEY = ("kms:Decrypt",)
ATHENA_QUERY_ACTIONS = ("StartQueryExecution", "GetQueryExecution", "GetQueryResults", "StopQueryExecution")
# Glue tables a query names: database.table after FROM/JOIN (quoted or not).
_QUERY_TABLE = re.compile(r'(?i)\b(?:FROM|JOIN)\s+"?([A-Za-z0-9_-]+)"?\s*\.\s*"?([A-Za-z0-9_-]+)"?')

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
        self._query_workgroups: dict[str, str] = {}  # Athena QueryExecutionId -> workgroup, from StartQueryExecution

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

    def _key_needs(self, owner: str, actions: Iterable[str], service: str, why: str,
                   context: tuple[tuple[str, str], ...] = ()) -> list[Need]:
        key = self.template.key_of(owner)
        if key is None:
            return []
        return [Need(action, key, _via(self.template, service) + context, f"{why} -> key of {owner}")
                for action in actions]

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


    # --- S3 -------------------------------------------------------------------------------------------
    def _bucket(self, name: str) -> str:
        return self._resource("AWS::S3::Bucket", name)

    def _object_needs(self, why: str, bucket: str, key: str, action: str) -> list[Need]:
        owner = self._bucket(bucket)
        bucket_arn = self.template.arn(owner)
        context = (("kms:EncryptionContext:aws:s3:arn", bucket_arn),)  # a bucket key's context is the bucket
        key_actions = S3_PUT_KEY if action == "PutObject" else S3_GET_KEY
        return [Need(f"s3:{action}", f"{bucket_arn}/{key}", why=why),
                *self._key_needs(owner, key_actions, "s3", why, context)]

    def _s3_object(self, call: RecordedCall) -> list[Need]:
        return self._object_needs(str(call), call.params["Bucket"], call.params["Key"], call.operation)

    def _s3_list(self, call: RecordedCall) -> list[Need]:
        owner = self._bucket(call.params["Bucket"])
        context = (("aws:SecureTransport", "true"), ("s3:prefix", str(call.params.get("Prefix", ""))))
        return [Need("s3:ListBucket", self.template.arn(owner), context, f"{call} (s3:ListBucket)")]

    # --- Athena -----------------------------------------------------------------------------------------
    def _workgroup(self, name: str) -> str:
        return self._resource("AWS::Athena::WorkGroup", name)

    def _athena_query(self, call: RecordedCall) -> list[Need]:
        if call.operation == "StartQueryExecution":
            name = str(call.params.get("WorkGroup") or "primary")
            if call.returned:
                self._query_workgroups[str(call.returned["QueryExecutionId"])] = name
        else:
            execution_id = str(call.params["QueryExecutionId"])
            if execution_id not in self._query_workgroups:
                raise UnmappedCall(f"{call}: query {execution_id} was not started by a recorded call")
            name = self._query_workgroups[execution_id]
        workgroup = self._workgroup(name)
        why = str(call)
        needs = [Need(f"athena:{call.operation}", self.template.arn(workgroup), why=why)]
        if call.operation == "StartQueryExecution":
            needs += self._athena_reads(call, workgroup, why)
            needs += self._athena_results(workgroup, "PutObject", why)
        elif call.operation == "GetQueryResults":
            needs += self._athena_results(workgroup, "GetObject", why)
        return needs

    def _athena_results(self, workgroup: str, action: str, why: str) -> list[Need]:
        """The result object under the workgroup's output location, with the caller's credentials."""
        configuration = self.template.properties(workgroup).get("WorkGroupConfiguration", {})
        location = self.template.resolve(configuration.get("ResultConfiguration", {}).get("OutputLocation"))
        if not location:
            raise Unresolvable(f"workgroup {workgroup} has no output location; queries would need their own")
        bucket, _, prefix = str(location).removeprefix("s3://").partition("/")
        reason = f"{why} -> results"
        needs = self._object_needs(reason, bucket, f"{prefix}query-id.csv", action)
        if action == "PutObject":
            bucket_arn = self.template.arn(self._bucket(bucket))
            needs += [Need("s3:AbortMultipartUpload", f"{bucket_arn}/{prefix}query-id.csv", why=reason),
                      Need("s3:GetBucketLocation", bucket_arn, why=reason),
                      Need("s3:ListBucket", bucket_arn, (("aws:SecureTransport", "true"), ("s3:prefix", prefix)),
                           why=reason)]
        return needs

    def _athena_reads(self, call: RecordedCall, workgroup: str, why: str) -> list[Need]:
        env = self.template.env
        regional = f"arn:{env.partition}:glue:{env.region}:{env.account}"
        needs: list[Need] = []
        for database, table in dict.fromkeys(_QUERY_TABLE.findall(str(call.params["QueryString"]))):
            owner = self._glue_table(database, table)
            reason = f"{why} -> reads {database}.{table}"
            needs += [Need("glue:GetDatabase", arn, why=reason) for arn in
                      (f"{regional}:catalog", f"{regional}:database/{database}")]
            needs += [Need("glue:GetTable", arn, why=reason) for arn in
                      (f"{regional}:catalog", f"{regional}:database/{database}", self.template.arn(owner))]
            location = str(self.template.resolve(
                self.template.properties(owner)["TableInput"]["StorageDescriptor"]["Location"]))
            if self._lake_formation_location(location):
                needs.append(Need("lakeformation:GetDataAccess", "*", why=reason))
            else:
                bucket, _, prefix = location.removeprefix("s3://").partition("/")
                needs += self._object_needs(reason, bucket, f"{prefix}object", "GetObject")
                list_call = RecordedCall(call.function, "s3", "ListObjectsV2", {"Bucket": bucket, "Prefix": prefix})
                needs += self._s3_list(list_call)
        return needs

    def _glue_table(self, database: str, table: str) -> str:
        found = [lid for lid in self.template.of_type("AWS::Glue::Table")
                 if self.template.name(lid) == table
                 and str(self.template.resolve(self.template.properties(lid).get("DatabaseName"))) == database]
        if len(found) != 1:
            raise Unresolvable(f"the query reads {database}.{table}, which the template declares {len(found)} times")
        return found[0]

    def _lake_formation_location(self, location: str) -> bool:
        """Whether a Lake Formation data location registered in the template covers ``location``."""
        for lid in self.template.of_type("AWS::LakeFormation::Resource"):
            arn = str(self.template.resolve(self.template.properties(lid).get("ResourceArn", "")))
            registered = "s3://" + arn.partition(":s3:::")[2]
            if arn.partition(":s3:::")[2] and location.rstrip("/").startswith(registered.rstrip("/")):
                return True
        return False


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
    ("s3", "GetObject"): NeedMapper._s3_object,
    ("s3", "PutObject"): NeedMapper._s3_object,
    ("s3", "ListObjectsV2"): NeedMapper._s3_list,
    **{("athena", op): NeedMapper._athena_query for op in ATHENA_QUERY_ACTIONS},
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
