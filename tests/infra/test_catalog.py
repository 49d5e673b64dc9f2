"""Catalog and queries: Glue table + projection match the archive, Athena workgroup, connector, catalog."""

from __future__ import annotations

import re

import pytest

from analytics.athena import athena_named_queries
from analytics.named_queries import query_names
from analytics.settings import AnalyticsSettings
from cryptostream_model.archive import ARCHIVE_COLUMNS, ARCHIVE_TABLE, PARTITION_COLUMNS, archive_partition_prefix
from infra.catalog import CONNECTOR_APPLICATION_ID

pytestmark = pytest.mark.infra


def _table_input(synth) -> dict:
    """The archive table's input (the rollup tables are tests/infra/test_rollups.py's)."""
    return synth.raw["Resources"][synth.logical_id(synth.stack.catalog.archive_table)]["Properties"]["TableInput"]


def _render(value: object, bucket_ref: dict, bucket_name: str) -> str:
    """Fn::Join of the bucket's Ref into a plain string, as CloudFormation would."""
    if isinstance(value, str):
        return value
    parts = value["Fn::Join"][1]
    return "".join(bucket_name if part == bucket_ref else part for part in parts)


def test_columns_and_partition_keys_come_from_the_model(synth) -> None:
    table = _table_input(synth)
    assert table["Name"] == ARCHIVE_TABLE
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == list(ARCHIVE_COLUMNS)
    assert [(c["Name"], c["Type"]) for c in table["PartitionKeys"]] == list(PARTITION_COLUMNS)
    serde = table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
    assert serde == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


def test_partition_projection_matches_the_archive_layout(synth) -> None:
    parameters = _table_input(synth)["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.symbol.type"] == "enum"
    assert parameters["projection.symbol.values"] == "BTC,ETH,SOL"
    assert parameters["projection.market.values"] == "USD"
    assert parameters["projection.dt.type"] == "date"
    assert parameters["projection.dt.format"] == "yyyy-MM-dd"
    assert parameters["projection.dt.range"] == "2020-01-01,NOW"
    bucket_ref = {"Ref": synth.logical_id(synth.stack.archive.bucket)}
    template = _render(parameters["storage.location.template"], bucket_ref, "archive")
    located = template.replace("${symbol}", "BTC").replace("${market}", "USD").replace("${dt}", "2026-11-22")
    assert located == f"s3://archive/{archive_partition_prefix('BTC', 'USD', '2026-11-22T09:05:00Z')}"
    # Every projected key is a partition column, and every partition column is projected.
    projected = {m for m in re.findall(r"\$\{(\w+)\}", template)}
    assert projected == {name for name, _ in PARTITION_COLUMNS}


def test_workgroup_enforces_kms_results_and_a_scan_cutoff(synth) -> None:
    props = synth.one("AWS::Athena::WorkGroup")
    assert props["Name"] == "cryptostream"
    config = props["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == 10737418240
    encryption = config["ResultConfiguration"]["EncryptionConfiguration"]
    assert encryption == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": {"Fn::GetAtt": [synth.logical_id(synth.stack.archive.key), "Arn"]},
    }


def test_every_analytics_query_is_a_named_query(synth) -> None:
    queries = {q["Properties"]["Name"]: q["Properties"] for q in synth.resources("AWS::Athena::NamedQuery").values()}
    assert set(queries) == {f"cryptostream-{name}" for name in query_names()}
    for rendered in athena_named_queries(AnalyticsSettings.of(synth.stack.config)):
        query = queries[f"cryptostream-{rendered.name}"]
        text = query["QueryString"]
        assert (text, query["Description"]) == (rendered.sql, rendered.description)
        # Logical names are resolved to the deployed ones: nothing reads a table Athena does not have.
        assert not re.search(r"\b(FROM|JOIN)\s+(quotes|serving)\b", text, re.IGNORECASE), rendered.name
        assert query["WorkGroup"] == "cryptostream" and query["Database"] == "cryptostream"
    serving = [q["QueryString"] for q in queries.values() if '"cryptostream-ddb"' in q["QueryString"]]
    assert all('"cryptostream-ddb"."default"."cryptostream-quotes"' in text for text in serving)


def test_dynamodb_connector_from_sar_with_a_released_version(synth) -> None:
    assert synth.raw["Transform"] == "AWS::Serverless-2016-10-31"  # deploy needs CAPABILITY_AUTO_EXPAND
    props = synth.one("AWS::Serverless::Application")
    location = props["Location"]
    assert location["ApplicationId"] == CONNECTOR_APPLICATION_ID
    assert re.fullmatch(r"20\d\d\.\d{1,2}\.\d+", location["SemanticVersion"])
    assert location["SemanticVersion"] != "2022.47.1"  # the placeholder on the template's master branch
    parameters = props["Parameters"]
    assert parameters["AthenaCatalogName"] == "cryptostream-ddb"
    federation = synth.stack.catalog.federation
    assert parameters["SpillBucket"] == {"Ref": synth.logical_id(federation.spill_bucket)}
    assert parameters["LambdaRole"] == {"Fn::GetAtt": [synth.logical_id(federation.connector_role), "Arn"]}
    assert parameters["KMSKeyId"] == {"Ref": synth.logical_id(synth.stack.archive.key)}


def test_data_catalog_points_at_the_connector_function(synth) -> None:
    resource = next(iter(synth.resources("AWS::Athena::DataCatalog").values()))
    props = resource["Properties"]
    assert props["Name"] == "cryptostream-ddb" and props["Type"] == "LAMBDA"
    function = props["Parameters"]["function"]["Fn::Join"][1]
    assert function[-1] == ":function:cryptostream-ddb"
    assert synth.logical_id(synth.stack.catalog.federation.connector) in resource["DependsOn"]


def test_connector_role_reads_only_this_table(synth) -> None:
    statements = synth.statements_of(synth.stack.catalog.federation.connector_role)
    table_arn = {"Fn::GetAtt": [synth.logical_id(synth.stack.table.table), "Arn"]}
    for statement in statements:
        actions = set(_actions(statement))
        if statement["Resource"] == "*":
            # Only the two actions that have no resource-level permission.
            assert actions <= {"dynamodb:ListTables", "kms:GenerateRandom"}
        elif any(a.startswith("dynamodb:") for a in actions):
            assert actions <= {"dynamodb:DescribeTable", "dynamodb:Query", "dynamodb:Scan"}
            assert table_arn in statement["Resource"]
    assert not any(a.startswith(("dynamodb:Put", "dynamodb:Update", "dynamodb:Delete")) for s in statements
                   for a in _actions(s))  # fmt: skip


def _actions(statement: dict) -> list[str]:
    value = statement["Action"]
    return [value] if isinstance(value, str) else value


def test_analyst_policy_queries_through_the_workgroup_and_changes_nothing(synth) -> None:
    document = synth.one("AWS::IAM::ManagedPolicy")["PolicyDocument"]
    actions = {a for s in document["Statement"] for a in _actions(s)}
    assert {"athena:StartQueryExecution", "athena:GetDataCatalog", "lambda:InvokeFunction", "glue:GetTable"} <= actions
    writes = {a for a in actions if a.split(":")[1].startswith(("Put", "Delete", "Create", "Update"))}
    assert writes == {"s3:PutObject"}  # query results only
    (results,) = [s for s in document["Statement"] if "s3:PutObject" in _actions(s)]
    assert results["Resource"]["Fn::Join"][1][-1] == "/results/*"
    athena = next(s for s in document["Statement"] if "athena:StartQueryExecution" in _actions(s))
    assert athena["Resource"]["Fn::Join"][1][-1] == ":workgroup/cryptostream"
