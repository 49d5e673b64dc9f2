"""Lake Formation governance (infra/governance.py): who reads which table and column, and nothing more."""

from __future__ import annotations

from typing import Any

import pytest
import sqlglot
from aws_cdk import App, CliCredentialsStackSynthesizer, Stack
from sqlglot import exp

from cryptostream_config.deployment import ConfigError
from cryptostream_model.archive import ARCHIVE_COLUMNS, ARCHIVE_TABLE, PARTITION_COLUMNS
from infra.governance import ANALYST_ARCHIVE_COLUMNS, INTERNAL_ARCHIVE_COLUMNS, deploy_role_arn

pytestmark = pytest.mark.infra

VARIANT_ADMIN = "arn:aws:iam::123456789012:role/data-platform-admin"


def _grants(synthesized) -> list[dict[str, Any]]:
    return list(synthesized.resources("AWS::LakeFormation::PrincipalPermissions").values())


def _grantee(grant: dict[str, Any]) -> str:
    """The logical id of the role a grant names."""
    return grant["Properties"]["Principal"]["DataLakePrincipalIdentifier"]["Fn::GetAtt"][0]


def _grants_of(synthesized, role: Any) -> list[dict[str, Any]]:
    return [g for g in _grants(synthesized) if _grantee(g) == synthesized.logical_id(role)]


def _statements(synthesized, logical_id: str) -> list[dict[str, Any]]:
    ref = {"Ref": logical_id}
    return [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if ref in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    value = statement["Action"]
    return [value] if isinstance(value, str) else value


def _locations(synthesized) -> dict[str, dict[str, Any]]:
    """Registered data lake locations by prefix (``/quotes``, ``/rollups``)."""
    return {
        location["Properties"]["ResourceArn"]["Fn::Join"][1][-1]: location
        for location in synthesized.resources("AWS::LakeFormation::Resource").values()
    }


def test_tables_of_the_database_are_governed_by_lake_formation_only(synth) -> None:
    (database_id, database), = synth.resources("AWS::Glue::Database").items()
    # No IAMAllowedPrincipals grant on new tables: an IAM policy alone reads nothing.
    assert database["Properties"]["DatabaseInput"]["CreateTableDefaultPermissions"] == []
    (settings_id,) = synth.resources("AWS::LakeFormation::DataLakeSettings")
    assert settings_id in database["DependsOn"]  # created, and deleted, while the deploy role is an administrator
    locations = _locations(synth)
    assert set(locations) == {"/quotes", "/rollups"}  # the archive and the materialized rollups
    bucket = synth.logical_id(synth.stack.archive.bucket)
    for prefix, location in locations.items():
        props = location["Properties"]
        assert props["HybridAccessEnabled"] is False and props["UseServiceLinkedRole"] is False
        assert props["ResourceArn"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, prefix]]}
    assert database_id


def test_the_deploy_role_administers_lake_formation_without_replacing_the_accounts_admins(synth, variant) -> None:
    settings = synth.one("AWS::LakeFormation::DataLakeSettings")
    assert settings["MutationType"] == "APPEND"
    (admin,) = settings["Admins"]
    assert admin["DataLakePrincipalIdentifier"]["Fn::Sub"].endswith(
        ":role/cdk-hnb659fds-cfn-exec-role-${AWS::AccountId}-${AWS::Region}"
    )
    # Named administrators replace the default: the deploy role is then one of them or the deploy fails.
    named = variant.one("AWS::LakeFormation::DataLakeSettings")["Admins"]
    assert [a["DataLakePrincipalIdentifier"] for a in named] == [VARIANT_ADMIN]


def test_a_stack_deployed_with_cli_credentials_must_name_its_administrators() -> None:
    stack = Stack(App(), "cli", synthesizer=CliCredentialsStackSynthesizer())
    with pytest.raises(ConfigError, match="lake_formation_admins") as error:
        deploy_role_arn(stack)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("prefix", ["quotes", "rollups"])
def test_each_data_access_role_only_reads_its_prefix(synth, prefix: str) -> None:
    location = _locations(synth)[f"/{prefix}"]
    role_id = location["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    trust = synth.raw["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "lakeformation.amazonaws.com"}]
    statements = _statements(synth, role_id)
    # Read-only: the rollup workflow writes its month objects with its own IAM role, never through Lake Formation.
    assert sorted(a for s in statements for a in _actions(s)) == ["kms:Decrypt", "s3:GetObject", "s3:ListBucket"]
    by_action = {_actions(s)[0]: s for s in statements}
    bucket = synth.logical_id(synth.stack.archive.bucket)
    assert by_action["s3:GetObject"]["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, f"/{prefix}/*"]]
    }
    assert by_action["s3:ListBucket"]["Condition"] == {"StringLike": {"s3:prefix": [f"{prefix}/*"]}}
    assert by_action["kms:Decrypt"]["Resource"] == {"Fn::GetAtt": [synth.logical_id(synth.stack.archive.key), "Arn"]}


def test_the_analyst_role_selects_the_analytic_columns_of_the_archive(synth) -> None:
    grants = _grants_of(synth, synth.stack.analyst_role)
    by_kind = {next(iter(g["Properties"]["Resource"])): g["Properties"] for g in grants if
               next(iter(g["Properties"]["Resource"])) != "Table"}  # fmt: skip
    assert {k: tuple(g["Permissions"]) for k, g in by_kind.items()} == {
        "Database": ("DESCRIBE",), "TableWithColumns": ("SELECT",)
    }
    assert by_kind["Database"]["Resource"]["Database"]["Name"] == "cryptostream"
    columns = by_kind["TableWithColumns"]["Resource"]["TableWithColumns"]
    assert columns["Name"] == ARCHIVE_TABLE and columns["DatabaseName"] == "cryptostream"
    every_column = [name for name, _ in (*ARCHIVE_COLUMNS, *PARTITION_COLUMNS)]
    assert columns["ColumnNames"] == [c for c in every_column if c != "v"]
    # The role the grants name carries the analyst policy (IAM must allow what Lake Formation grants).
    role = synth.raw["Resources"][synth.logical_id(synth.stack.analyst_role)]["Properties"]
    assert role["ManagedPolicyArns"] == [{"Ref": synth.logical_id(synth.stack.analyst_policy)}]
    assert role["RoleName"] == "cryptostream-analyst"


def test_the_named_queries_read_only_columns_the_analyst_is_granted(synth) -> None:
    """A query naming a column the analyst is not granted would fail for the analyst under Lake Formation."""
    queries = synth.resources("AWS::Athena::NamedQuery")
    assert queries
    for query in queries.values():
        tree = sqlglot.parse_one(query["Properties"]["QueryString"], read="trino")
        names = {column.name for column in tree.find_all(exp.Column)}
        assert not names & INTERNAL_ARCHIVE_COLUMNS, query["Properties"]["Name"]
    assert set(ANALYST_ARCHIVE_COLUMNS) | INTERNAL_ARCHIVE_COLUMNS == {
        name for name, _ in (*ARCHIVE_COLUMNS, *PARTITION_COLUMNS)
    }


def test_each_role_gets_only_what_it_needs_and_the_lambdas_nothing(synth) -> None:
    stack = synth.stack
    expected = {
        synth.logical_id(stack.analyst_role): {
            ("Database", ("DESCRIBE",)), ("TableWithColumns", ("SELECT",)), ("Table", ("SELECT",))
        },
        # The rollup workflow's Athena queries read the archive's analytic columns; it writes with S3 calls.
        synth.logical_id(stack.rollups.role): {("Database", ("DESCRIBE",)), ("TableWithColumns", ("SELECT",))},
        # Firehose converts records with the table's schema: it reads the definition, never the data.
        synth.logical_id(stack.archive.delivery_stream.grant_principal): {("Table", ("DESCRIBE",))},
        synth.logical_id(stack.catalog.federation.connector_role): {("Database", ("DESCRIBE",))},
        synth.logical_id(stack.flink.role): {("Database", ("DESCRIBE", "CREATE_TABLE"))},
    }
    found: dict[str, set] = {}
    for grant in _grants(synth):
        props = grant["Properties"]
        assert props["PermissionsWithGrantOption"] == []
        (kind,) = props["Resource"]
        found.setdefault(_grantee(grant), set()).add((kind, tuple(props["Permissions"])))
    assert found == expected
    for function in (stack.ingestion.function, stack.processing.function):
        assert synth.logical_id(function.role) not in found


def test_grants_wait_for_the_administrator_and_firehose_for_its_grant(synth) -> None:
    (settings_id,) = synth.resources("AWS::LakeFormation::DataLakeSettings")
    grants = synth.resources("AWS::LakeFormation::PrincipalPermissions")
    assert all(settings_id in grant["DependsOn"] for grant in grants.values())
    firehose_role = synth.logical_id(synth.stack.archive.delivery_stream.grant_principal)
    (schema_grant,) = [gid for gid, g in grants.items() if _grantee(g) == firehose_role]
    (delivery,) = synth.resources("AWS::KinesisFirehose::DeliveryStream").values()
    assert schema_grant in delivery["DependsOn"]


def _analyst_actions(synthesized) -> dict[str, list[dict[str, Any]]]:
    document = synthesized.one("AWS::IAM::ManagedPolicy")["PolicyDocument"]
    actions: dict[str, list[dict[str, Any]]] = {}
    for statement in document["Statement"]:
        for action in _actions(statement):
            actions.setdefault(action, []).append(statement)
    return actions


def test_the_analyst_policy_reads_the_archive_through_lake_formation_only(synth, emulator) -> None:
    governed = _analyst_actions(synth)
    assert [s["Resource"] for s in governed["lakeformation:GetDataAccess"]] == ["*"]
    archive = synth.logical_id(synth.stack.archive.bucket)
    readable = str([s["Resource"] for s in governed["s3:GetObject"]])
    assert archive not in readable and "/results/*" in readable
    # Without Lake Formation (the emulator), the policy reads the archive prefix itself.
    plain = _analyst_actions(emulator)
    assert "lakeformation:GetDataAccess" not in plain
    assert "/quotes/*" in str([s["Resource"] for s in plain["s3:GetObject"]])
    assert "/rollups/*" in str([s["Resource"] for s in plain["s3:GetObject"]])  # the materialized rollup tables
    assert not emulator.resources("AWS::LakeFormation::PrincipalPermissions")
    assert emulator.resources("AWS::IAM::Role")  # the analyst role is there either way


def test_rollup_tables_are_shared_with_analysts_and_read_the_archive_like_them(synth) -> None:
    stack = synth.stack
    analyst, writer = synth.logical_id(stack.analyst_role), synth.logical_id(stack.rollups.role)
    shared = {
        g["Properties"]["Resource"]["Table"]["Name"]: tuple(g["Properties"]["Permissions"])
        for g in _grants(synth) if _grantee(g) == analyst and "Table" in g["Properties"]["Resource"]
    }  # fmt: skip
    assert shared == {"rollup_1h": ("SELECT",), "rollup_1d": ("SELECT",)}  # every column
    (columns,) = [g["Properties"]["Resource"]["TableWithColumns"] for g in _grants(synth)
                  if _grantee(g) == writer and "TableWithColumns" in g["Properties"]["Resource"]]  # fmt: skip
    assert columns["Name"] == ARCHIVE_TABLE and columns["ColumnNames"] == list(ANALYST_ARCHIVE_COLUMNS)
    # A grant on a table waits for the table; the analysts' grants also for the registered location.
    rollup_location = next(lid for lid, r in synth.resources("AWS::LakeFormation::Resource").items()
                           if r["Properties"]["ResourceArn"]["Fn::Join"][1][-1] == "/rollups")  # fmt: skip
    table_ids = {synth.logical_id(t) for t in stack.rollups.tables}
    for grant in synth.resources("AWS::LakeFormation::PrincipalPermissions").values():
        if "Table" in grant["Properties"]["Resource"] and _grantee(grant) == analyst:
            assert rollup_location in grant["DependsOn"] and table_ids & set(grant["DependsOn"])
