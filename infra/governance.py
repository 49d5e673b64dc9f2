"""Lake Formation governs the Glue catalog: who may read which table and column, and through which role S3 is read.

The stack chooses Lake Formation permissions only (not hybrid access mode) for the tables of its database:

- the database is created with an empty ``CreateTableDefaultPermissions``, so its tables get no
  ``IAMAllowedPrincipals`` grant and an IAM policy alone no longer reads them;
- the archive prefix is registered as a data lake location with a read-only data-access role: Athena reads
  the objects with credentials Lake Formation vends from that role, for a principal it has granted SELECT;
- every principal that reads the catalog gets exactly its grant here: the analyst role SELECT on the analytic
  columns of the archive (and on each table shared with ``share_with_analysts``), Firehose DESCRIBE on the
  schema it converts records with, the DynamoDB connector DESCRIBE on the database, the Flink notebook
  CREATE_TABLE in it. The producer and consumer never touch the catalog: they get nothing.

Lake Formation administrators are the CDK deploy role (CloudFormation must be one to create grants) and
``lake_formation_admins``; the settings are appended to the account's (``MutationType: APPEND``), so the
stack never removes an administrator someone else added. See docs/infrastructure.md, "Lake Formation".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from aws_cdk import Aws, DefaultStackSynthesizer, Fn, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lakeformation as lakeformation
from aws_cdk import aws_s3 as s3
from constructs import Construct, Node

from cryptostream_config.deployment import ConfigError, DeploymentConfig
from cryptostream_model.archive import ARCHIVE_COLUMNS, ARCHIVE_PREFIX, PARTITION_COLUMNS
from infra.archive import Archive
from infra.catalog import Catalog
from infra.encryption import via_service
from infra.nag import acknowledge, logical_id

# Columns of the archive an analyst reads: every data and partition column but ``v``, the wire format's schema
# version, which is the pipeline's business. A column added to the archive stays private until listed here.
INTERNAL_ARCHIVE_COLUMNS = frozenset({"v"})
ANALYST_ARCHIVE_COLUMNS: tuple[str, ...] = tuple(
    name for name, _ in (*ARCHIVE_COLUMNS, *PARTITION_COLUMNS) if name not in INTERNAL_ARCHIVE_COLUMNS
)


class SchemaReader(iam.IGrantable, Protocol):
    """A construct whose principal reads a table's definition (``firehose.DeliveryStream`` is one)."""

    @property
    def node(self) -> Node: ...


def deploy_role_arn(stack: Stack) -> str:
    """The role CloudFormation deploys with (the bootstrap's cfn-exec role), which must administer Lake Formation.

    Only the default synthesizer names one; a stack deployed with the caller's credentials
    (``cli_credentials``) must name its administrators in ``lake_formation_admins``.
    """
    synthesizer = stack.synthesizer
    if not isinstance(synthesizer, DefaultStackSynthesizer):
        raise ConfigError(
            "lake_formation needs the deploying principal among lake_formation_admins when the stack is deployed "
            "with CLI credentials (no CDK bootstrap role)"
        )
    # The synthesizer's ARN holds ${AWS::AccountId}-style placeholders meant for Fn::Sub.
    return Fn.sub(synthesizer.cloud_formation_execution_role_arn)


class Governance(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        archive: Archive,
        catalog: Catalog,
        analyst: iam.IRole,
        schema_readers: Sequence[SchemaReader] = (),
        table_creators: Sequence[iam.IGrantable] = (),
    ) -> None:
        """``schema_readers`` read the archive table's definition (Firehose's delivery role); ``table_creators``
        keep their own tables in the database (the Flink notebook), and own what they create."""
        super().__init__(scope, construct_id)
        self._config = config
        self._catalog = catalog
        self._analyst = analyst
        admins = [] if config.lake_formation_admins else [deploy_role_arn(Stack.of(self))]
        self.settings = lakeformation.CfnDataLakeSettings(
            self,
            "Settings",
            admins=[
                lakeformation.CfnDataLakeSettings.DataLakePrincipalProperty(data_lake_principal_identifier=arn)
                for arn in [*admins, *config.lake_formation_admins]
            ],
            mutation_type="APPEND",
        )
        # Lake Formation permissions only: new tables of the database get no IAMAllowedPrincipals grant.
        catalog.database.add_property_override("DatabaseInput.CreateTableDefaultPermissions", [])
        # CloudFormation creates (and, on destroy, deletes) the database and its tables as an administrator:
        # the settings come first and go last.
        catalog.database.node.add_dependency(self.settings)
        # Firehose writes the archive with its own role; through Lake Formation it is only read.
        self.archive_location = self.register_location("ArchiveLocation", archive.bucket, ARCHIVE_PREFIX, archive.key)
        self.grants: list[lakeformation.CfnPrincipalPermissions] = []
        self.grant_database(analyst, ["DESCRIBE"], "Analyst")
        self.share_with_analysts(catalog.archive_table, columns=ANALYST_ARCHIVE_COLUMNS)
        for index, reader in enumerate(schema_readers):
            grant = self.grant_table(reader, catalog.archive_table, ["DESCRIBE"], f"SchemaReader{index}")
            # Firehose reads the schema as soon as it delivers: the grant comes before the delivery stream
            # (its resource only: the grant names the reader's role, which must come first).
            (reader.node.default_child or reader).node.add_dependency(grant)
        for index, creator in enumerate(table_creators):
            self.grant_database(creator, ["DESCRIBE", "CREATE_TABLE"], f"TableCreator{index}")
        if catalog.federation is not None:
            # The connector lists the database's tables for supplemental DynamoDB metadata; it reads no data here.
            self.grant_database(catalog.federation.connector_role, ["DESCRIBE"], "Connector")

    def register_location(
        self, location_id: str, bucket: s3.IBucket, prefix: str, key: kms.IKey, *, writable: bool = False
    ) -> lakeformation.CfnResource:
        """Register ``s3://bucket/prefix`` with Lake Formation and the role it reads (or writes) it with."""
        role = self._data_access_role(f"{location_id}DataAccessRole", bucket, prefix, key, writable=writable)
        location = lakeformation.CfnResource(
            self,
            location_id,
            resource_arn=f"{bucket.bucket_arn}/{prefix.rstrip('/')}",
            use_service_linked_role=False,
            role_arn=role.role_arn,
            hybrid_access_enabled=False,  # Lake Formation permissions only (see the module's docstring)
        )
        location.node.add_dependency(role, self.settings)
        return location

    def _data_access_role(
        self, role_id: str, bucket: s3.IBucket, prefix: str, key: kms.IKey, *, writable: bool
    ) -> iam.Role:
        """What Lake Formation assumes for a granted principal: one prefix, one key; writes only if ``writable``."""
        access = "reads and writes" if writable else "reads"
        role = iam.Role(
            self,
            role_id,
            assumed_by=iam.ServicePrincipal("lakeformation.amazonaws.com"),
            description=f"Lake Formation {access} {prefix} of {bucket.node.path} for principals it granted",
        )
        object_actions = ["s3:GetObject", *(["s3:PutObject", "s3:DeleteObject"] if writable else [])]
        objects = bucket.arn_for_objects(f"{prefix}*")
        role.add_to_policy(iam.PolicyStatement(actions=object_actions, resources=[objects]))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            )
        )
        key_actions = ["kms:Decrypt", *(["kms:GenerateDataKey"] if writable else [])]
        # Lake Formation vends credentials for S3 reads and writes: the key only through S3.
        role.add_to_policy(
            iam.PolicyStatement(actions=key_actions, resources=[key.key_arn], conditions=via_service(self, "s3"))
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{logical_id(bucket)}.Arn>/{prefix}*]",
            f"Lake Formation {access} objects by key under the one registered prefix; keys are not known in advance",
        )
        return role

    def grant_location(self, grantee: iam.IGrantable, bucket: s3.IBucket, prefix: str, grant_id: str,
                       location: lakeformation.CfnResource) -> lakeformation.CfnPrincipalPermissions:  # fmt: skip
        """DATA_LOCATION_ACCESS: ``grantee`` may create tables (or write Iceberg data) under a registered prefix."""
        resource = lakeformation.CfnPrincipalPermissions.ResourceProperty(
            data_location=lakeformation.CfnPrincipalPermissions.DataLocationResourceProperty(
                catalog_id=Aws.ACCOUNT_ID, resource_arn=f"{bucket.bucket_arn}/{prefix.rstrip('/')}"
            )
        )
        return self._grant(f"{grant_id}Location", grantee, ["DATA_LOCATION_ACCESS"], resource, location)

    def _principal(self, grantee: iam.IGrantable) -> lakeformation.CfnPrincipalPermissions.DataLakePrincipalProperty:
        principal = grantee.grant_principal
        role_arn = getattr(principal, "role_arn", None)
        if role_arn is None:
            raise TypeError(f"Lake Formation grants go to roles here, got {principal}")
        return lakeformation.CfnPrincipalPermissions.DataLakePrincipalProperty(data_lake_principal_identifier=role_arn)

    def _grant(
        self, grant_id: str, grantee: iam.IGrantable, permissions: Sequence[str],
        resource: lakeformation.CfnPrincipalPermissions.ResourceProperty, *depends_on: Construct,
    ) -> lakeformation.CfnPrincipalPermissions:  # fmt: skip
        grant = lakeformation.CfnPrincipalPermissions(
            self,
            grant_id,
            catalog=Aws.ACCOUNT_ID,
            principal=self._principal(grantee),
            permissions=list(permissions),
            permissions_with_grant_option=[],
            resource=resource,
        )
        # CloudFormation grants as a Lake Formation administrator, on a resource that must exist.
        grant.node.add_dependency(self.settings, *depends_on)
        self.grants.append(grant)
        return grant

    def grant_database(
        self, grantee: iam.IGrantable, permissions: Sequence[str], grant_id: str
    ) -> lakeformation.CfnPrincipalPermissions:
        resource = lakeformation.CfnPrincipalPermissions.ResourceProperty(
            database=lakeformation.CfnPrincipalPermissions.DatabaseResourceProperty(
                catalog_id=Aws.ACCOUNT_ID, name=self._config.glue_database
            )
        )
        return self._grant(f"{grant_id}Database", grantee, permissions, resource, self._catalog.database)

    def grant_table(
        self,
        grantee: iam.IGrantable,
        table: glue.CfnTable,
        permissions: Sequence[str],
        grant_id: str,
        *,
        columns: Sequence[str] | None = None,
    ) -> lakeformation.CfnPrincipalPermissions:
        """``permissions`` on ``table`` for ``grantee``; with ``columns``, on those columns only (SELECT)."""
        name = table_name(table)
        grant_ids = f"{grant_id}{name.title().replace('_', '')}"
        if columns is None:
            resource = lakeformation.CfnPrincipalPermissions.ResourceProperty(
                table=lakeformation.CfnPrincipalPermissions.TableResourceProperty(
                    catalog_id=Aws.ACCOUNT_ID, database_name=self._config.glue_database, name=name
                )
            )
        else:
            resource = lakeformation.CfnPrincipalPermissions.ResourceProperty(
                table_with_columns=lakeformation.CfnPrincipalPermissions.TableWithColumnsResourceProperty(
                    catalog_id=Aws.ACCOUNT_ID,
                    database_name=self._config.glue_database,
                    name=name,
                    column_names=list(columns),
                )
            )
        return self._grant(grant_ids, grantee, permissions, resource, table)

    def share_with_analysts(
        self, table: glue.CfnTable, *, columns: Sequence[str] | None = None
    ) -> lakeformation.CfnPrincipalPermissions:
        """SELECT on ``table`` (``columns`` only, if given) for the analyst role: one line per table to share."""
        return self.grant_table(self._analyst, table, ["SELECT"], "AnalystSelect", columns=columns)

    def govern_rollups(
        self, writer: iam.IGrantable, tables: Sequence[glue.CfnTable], bucket: s3.IBucket, prefix: str, key: kms.IKey
    ) -> None:
        """Materialized rollup tables under ``s3://bucket/prefix``: one call for the rollup workflow.

        The workflow (``infra/rollups.py``) reads the archive through Athena and writes the tables' month objects
        itself, with PutObject under its IAM role (S3 calls are IAM's, not Lake Formation's). So ``writer`` gets
        DESCRIBE on the database and SELECT on the archive's analytic columns (what its Athena queries read), and
        nothing on the rollup tables, which it never queries; the prefix is registered read-only, for Athena to
        read the tables with the credentials Lake Formation vends; the analyst role gets SELECT on every rollup
        column.
        """
        self.rollup_location = self.register_location("RollupLocation", bucket, prefix, key)
        self.grant_database(writer, ["DESCRIBE"], "RollupReader")
        self.grant_table(writer, self._catalog.archive_table, ["SELECT"], "RollupReader",
                         columns=ANALYST_ARCHIVE_COLUMNS)  # fmt: skip
        for table in tables:
            self.share_with_analysts(table).node.add_dependency(self.rollup_location)


def table_name(table: glue.CfnTable) -> str:
    table_input = table.table_input
    name = getattr(table_input, "name", None)
    if not isinstance(name, str):
        raise TypeError(f"a governed table needs a literal name, got {name!r}")
    return name
