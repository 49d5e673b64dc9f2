"""What `cdk destroy` leaves behind: with retain_data the data stores, without it nothing at all.

A resource left behind keeps its fixed name (stream, schedule group, table, buckets, secret...), so the
next deployment of the same stack would fail on AWS with "already exists". MiniStack cannot catch
that (it reuses a resource of the same name silently), hence these template checks.
"""

from __future__ import annotations

import pytest

from cryptostream_config.deployment import ConfigError, config_from_context
from infra.archive import AUTO_DELETE_PROVIDER_ID
from infra.log_groups import LOGS_KEY_ID

pytestmark = pytest.mark.infra

KEPT = ("Retain", "RetainExceptOnCreate", "Snapshot")
# Resources that must survive `cdk destroy` even with retain_data: false, each with its reason. None today.
KEPT_WITHOUT_RETAIN_DATA: dict[str, str] = {}


def _kept(synthesized) -> dict[str, str]:
    """Logical id -> type of every resource CloudFormation would leave (or snapshot) on stack deletion."""
    return {
        logical_id: resource["Type"]
        for logical_id, resource in synthesized.raw["Resources"].items()
        if resource.get("DeletionPolicy") in KEPT or resource.get("UpdateReplacePolicy") in KEPT
    }


def test_retain_data_keeps_exactly_the_data_stores_their_keys_and_the_named_containers(synth) -> None:
    stack = synth.stack
    expected = {
        synth.logical_id(construct)
        for construct in (
            stack.stream.key, stack.stream.stream,
            stack.table.key, stack.table.table,
            stack.ingestion.key, stack.ingestion.secret, stack.ingestion.layer, stack.ingestion.schedule_group,
            stack.rollups.schedule_group,
            stack.processing.key,
            stack.archive.key, stack.archive.access_logs, stack.archive.bucket,
            stack.catalog.results_bucket, stack.catalog.federation.spill_bucket,
        )
    }  # fmt: skip
    # CDK's LogStream defaults to RETAIN; harmless, as deleting the log group deletes its streams.
    expected |= set(synth.resources("AWS::Logs::LogStream"))
    assert set(_kept(synth)) == expected
    # Everything else goes: queues, log groups, functions, topic, Firehose, Glue, Athena...
    for logical_id in expected:
        resource = synth.raw["Resources"][logical_id]
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain", logical_id


@pytest.mark.parametrize("fixture", ["throwaway", "variant"])
def test_without_retain_data_destroy_leaves_nothing(request: pytest.FixtureRequest, fixture: str) -> None:
    synthesized = request.getfixturevalue(fixture)
    assert synthesized.stack.config.retain_data is False
    assert _kept(synthesized).keys() == KEPT_WITHOUT_RETAIN_DATA.keys()


@pytest.mark.parametrize("fixture", ["throwaway", "variant"])
def test_without_retain_data_every_bucket_is_emptied_first(request: pytest.FixtureRequest, fixture: str) -> None:
    """CloudFormation deletes empty buckets only: CDK's auto-delete resource empties each (every version)."""
    synthesized = request.getfixturevalue(fixture)
    buckets = set(synthesized.resources("AWS::S3::Bucket"))
    emptied = {
        resource["Properties"]["BucketName"]["Ref"]
        for resource in synthesized.resources("Custom::S3AutoDeleteObjects").values()
    }
    assert buckets and emptied == buckets
    # Its handler (one per stack) logs to an encrypted log group of the stack, deleted after it.
    handler = next(
        resource
        for logical_id, resource in synthesized.resources("AWS::Lambda::Function").items()
        if logical_id.startswith(AUTO_DELETE_PROVIDER_ID.replace(":", ""))
    )
    group_id = handler["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    group = synthesized.raw["Resources"][group_id]["Properties"]
    assert group["LogGroupName"] == "/aws/lambda/cryptostream-auto-delete-objects"
    assert group["KmsKeyId"]["Fn::GetAtt"][0].startswith(LOGS_KEY_ID)


def test_with_retain_data_buckets_are_never_emptied(synth) -> None:
    assert synth.resources("Custom::S3AutoDeleteObjects") == {}


@pytest.mark.parametrize("fixture", ["throwaway", "variant"])
def test_without_retain_data_the_table_can_be_deleted(request: pytest.FixtureRequest, fixture: str) -> None:
    table = request.getfixturevalue(fixture).one("AWS::DynamoDB::Table")
    assert table["DeletionProtectionEnabled"] is False


def test_deletion_protection_without_retain_data_is_refused() -> None:
    """A protected table would stop `cdk destroy` half-way: the combination does not synthesize."""
    from cryptostream_config.deployment import DEFAULT_CONTEXT

    block = {**DEFAULT_CONTEXT, "retain_data": False, "table_deletion_protection": True}
    with pytest.raises(ConfigError, match="table_deletion_protection must be false when retain_data is false"):
        config_from_context(block)
    assert config_from_context({**block, "table_deletion_protection": False}).retain_data is False
    assert config_from_context({**block, "retain_data": True}).table_deletion_protection is True


@pytest.mark.parametrize("fixture", ["synth", "throwaway"])
def test_the_workgroup_is_deleted_with_its_query_history(request: pytest.FixtureRequest, fixture: str) -> None:
    assert request.getfixturevalue(fixture).one("AWS::Athena::WorkGroup")["RecursiveDeleteOption"] is True


def test_the_emulator_deploys_without_bucket_emptying(emulator) -> None:
    """MiniStack cannot run CDK's Node.js auto-delete handler (the create would wait forever): the deployed-app
    proof sets bucket_auto_delete: false, and still nothing is retained (its buckets go with the stack)."""
    assert emulator.stack.config.retain_data is False
    assert emulator.resources("Custom::S3AutoDeleteObjects") == {}
    assert not [k for k in emulator.raw["Resources"] if k.startswith(AUTO_DELETE_PROVIDER_ID.replace(":", ""))]
    assert _kept(emulator) == {}


def test_bucket_auto_delete_must_be_a_bool() -> None:
    from cryptostream_config.deployment import DEFAULT_CONTEXT
    from infra.archive import bucket_auto_delete

    assert bucket_auto_delete(config_from_context(dict(DEFAULT_CONTEXT))) is True
    with pytest.raises(ConfigError, match="bucket_auto_delete must be bool"):
        bucket_auto_delete(config_from_context({**DEFAULT_CONTEXT, "bucket_auto_delete": "no"}))
