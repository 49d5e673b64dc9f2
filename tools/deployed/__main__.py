"""``make test-deployed``: deploy the real CDK app into MiniStack, run the pipeline there, count every hop.

Steps: the market simulator (standalone, frozen clock) and MiniStack (own venv, 127.0.0.1, free port,
``AUTH=true``) start; ``cdk bootstrap`` and ``cdk deploy`` run through the pinned CLI; the deployed
producer backfills 69 bars; the emulator's scheduler fires the ``spot-1min`` schedule; a poison record is
put on the stream; then every hop is counted and reconciled. The rollups state machine then materializes
rollup_1h/rollup_1d from the archive, compared with the local DuckDB recompute, and runs again writing nothing
(tools/deployed/rollups.py); the analyst role runs the rollups' named queries through Athena, which must return
the materialized rows (tools/deployed/analyst.py); the archive is compacted with ``cryptostream compact``'s code,
and the rollups, run again, recompute those days to the same bytes (tools/deployed/compaction.py). The backfill
state machine runs a small range through the producer and runs it again (resumed: nothing published).
``cdk destroy`` must leave none of the stack's named resources behind, and a second deploy must succeed and run.
The last line is the verdict; the exit status is non-zero on any difference.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from cryptostream_config.deployment import ConfigError, load_deployment_config
from cryptostream_model.archive import ARCHIVE_PREFIX
from local.market import MarketSimulator
from tools.deployed.analyst import prove_analyst_reads
from tools.deployed.cdk_cli import REPO_ROOT, CdkCli, CdkError
from tools.deployed.compaction import prove_compaction
from tools.deployed.context import cdk_context_args
from tools.deployed.emulator import ACCOUNT_ID, REGION, EmulatorError, MiniStack
from tools.deployed.hops import read_archive, read_quarantine, read_stream, read_table, reconcile
from tools.deployed.leftovers import leftovers
from tools.deployed.rollups import athena_query_id_bridge, prove_rollups
from tools.deployed.scenario import (
    BACKFILL_BARS_PER_PAIR,
    Outputs,
    ScenarioError,
    backfill_event,
    invoke,
    invoke_when_lease_free,
    market_moment,
    pause_schedules,
    put_poison,
    wait_for,
)
from tools.deployed.workflows import WORKFLOW_BARS_PER_PAIR, WORKFLOW_PAIRS, prove_backfill_workflow

MINISTACK_PYTHON = REPO_ROOT / ".venv-ministack" / "bin" / "python"
WORKDIR = REPO_ROOT / ".deployed"
SCHEDULED = "spot"  # the cdk.json schedule that fires within a minute of the deploy (rate 1 minute)


def say(message: str) -> None:
    print(message, flush=True)


def clients_for(environment: dict[str, str]) -> Callable[[str], Any]:
    session = boto3.Session(
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        region_name=environment["AWS_REGION"],
    )
    config = BotoConfig(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=180)
    cache: dict[str, Any] = {}

    def client(name: str) -> Any:
        if name not in cache:
            cache[name] = session.client(
                name, endpoint_url=environment["AWS_ENDPOINT_URL"], config=config, verify=environment["AWS_CA_BUNDLE"]
            )
        return cache[name]

    return client


def client_as(environment: dict[str, str], name: str, **credentials: str) -> Any:
    """A client of the emulator with other credentials (an assumed role's), not cached."""
    return boto3.client(name, endpoint_url=environment["AWS_ENDPOINT_URL"], region_name=environment["AWS_REGION"],
                        verify=environment["AWS_CA_BUNDLE"], config=BotoConfig(retries={"max_attempts": 3}),
                        **credentials)  # fmt: skip


def run(auth: bool) -> int:
    config = load_deployment_config()
    pairs = list(config.pairs)
    shutil.rmtree(WORKDIR, ignore_errors=True)
    WORKDIR.mkdir(parents=True)
    timings: dict[str, float] = {}
    frozen = market_moment()
    simulator = MarketSimulator(seed=42)
    market_url = simulator.start()
    simulator.clock.set(frozen)
    emulator = MiniStack(MINISTACK_PYTHON, workdir=WORKDIR, auth=auth)
    try:
        started = time.monotonic()
        endpoint = emulator.start()
        timings["emulator start"] = time.monotonic() - started
        say(f"MiniStack on {endpoint} (AUTH={'true' if auth else 'false'}); market simulator on {market_url}")
        environment = emulator.client_environment()
        client = clients_for(environment)
        secret_arn = client("secretsmanager").create_secret(
            Name=f"{config.prefix}/alphavantage-deployed-proof", SecretString="deployed-app-proof"
        )["ARN"]  # an existing secret: see tools/deployed/context.py for why
        cdk = CdkCli(environment, cdk_context_args(market_url, secret_arn), WORKDIR)
        timings["cdk bootstrap"] = cdk.bootstrap(ACCOUNT_ID, REGION)
        say(f"bootstrapped in {timings['cdk bootstrap']:.1f} s")
        deployed = cdk.deploy()
        timings["cdk deploy"] = deployed.seconds
        outputs = Outputs.from_stack(deployed.outputs, schedule_group=config.resource_name("producer"))
        deployed_at = time.monotonic()
        say(f"deployed in {deployed.seconds:.1f} s ({len(deployed.outputs)} outputs)")
        started = time.monotonic()
        summary = invoke(client("lambda"), outputs.producer, backfill_event(pairs, frozen))
        expected = BACKFILL_BARS_PER_PAIR * len(pairs)
        say(f"backfill through the deployed producer: published {summary.get('published')} of {expected} "
            f"(failed pairs: {summary.get('failed_pairs') or 'none'})")  # fmt: skip
        if summary.get("published") != expected or summary.get("failed_pairs"):
            raise ScenarioError(f"the backfill published {summary.get('published')}, expected {expected}: {summary}")
        put_poison(client("kinesis"), outputs.stream)
        say("put 1 poison record on the stream")

        def scheduled_bars() -> int:
            return sum(1 for key in read_table(client("dynamodb"), outputs.table).bars if key[2] == SCHEDULED)

        # rate(1 minute) fires one minute after the schedule was created.
        wait_for(lambda: scheduled_bars() >= len(pairs), timeout=150, every=3,
                 what=f"the emulator's scheduler to run the producer ({SCHEDULED})")  # fmt: skip
        waited = time.monotonic() - deployed_at
        paused = pause_schedules(client("scheduler"), outputs.schedule_group)
        rollups_arn = outputs.rollups_state_machine
        scheduled_rollups = wait_for(
            lambda: client("stepfunctions").list_executions(stateMachineArn=rollups_arn)["executions"],
            timeout=90, every=3, what="the emulator's scheduler to start the rollups state machine",
        )  # fmt: skip
        paused += pause_schedules(client("scheduler"), config.resource_name("rollups"))  # the proof starts its own
        say(f"scheduled run fired by the emulator {waited:.0f} s after the deploy; the rollups schedule started "
            f"{len(scheduled_rollups)} execution(s); paused {len(paused)} schedules")

        def settled() -> bool:
            stream = read_stream(client("kinesis"), outputs.stream)
            table = read_table(client("dynamodb"), outputs.table)
            archive = read_archive(client("s3"), outputs.archive_bucket, ARCHIVE_PREFIX)
            return set(stream.quotes) <= set(table.bars) and set(stream.quotes) <= set(archive.rows)

        try:
            wait_for(settled, timeout=120, every=3, what="every hop to catch up")
        except ScenarioError as timeout:
            say(f"warning: {timeout}; reconciling what arrived")
        time.sleep(3)  # a run that fired just before the pause has finished publishing by now
        stream = read_stream(client("kinesis"), outputs.stream)
        table = read_table(client("dynamodb"), outputs.table)
        archive = read_archive(client("s3"), outputs.archive_bucket, ARCHIVE_PREFIX)
        quarantine = read_quarantine(client("sqs"), outputs.quarantine_url)
        failures = int(client("sqs").get_queue_attributes(
            QueueUrl=outputs.failure_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"])  # fmt: skip
        timings["pipeline run"] = time.monotonic() - started
        say(f"stream: {stream.records} records ({stream.quote_records} quotes, {stream.poison} poison)")
        say(f"DynamoDB: {len(table.bars)} bars, {len(table.latest)} LATEST items")
        say(f"archive: {archive.objects} objects, {sum(archive.rows.values())} rows, {len(archive.rows)} bars")
        say(f"quarantine: {len(quarantine.reasons)} messages ({', '.join(sorted(set(quarantine.reasons))) or '-'}); "
            f"failure queue: {failures}")  # fmt: skip
        verdict = reconcile(stream, table, archive, quarantine, failure_queue_depth=failures)

        started = time.monotonic()
        with athena_query_id_bridge(client("iam"), client("lambda"), config.resource_name("rollups")):
            sqs = client("sqs")
            changes_queue = sqs.get_queue_url(QueueName=config.resource_name("rollup-changes"))["QueueUrl"]
            rollups = prove_rollups(client("stepfunctions"), client("s3"), sqs, outputs.rollups_state_machine,
                                    outputs.archive_bucket, changes_queue,
                                    source_interval=config.rollup_source_interval)
        timings["rollups state machine"] = time.monotonic() - started
        say(f"{rollups.line}, in {timings['rollups state machine']:.1f} s ({rollups.moved} archive objects moved "
            "from the emulator's yyyy/MM/dd/HH/ folders to the keys AWS Firehose writes, half before the first "
            "execution, half before the second)")
        verdict.differences.extend(rollups.differences)

        started = time.monotonic()
        analyst = prove_analyst_reads(
            sts=client("sts"), iam=client("iam"), s3=client("s3"),
            make_client=lambda name, **credentials: client_as(environment, name, **credentials),
            role_arn=outputs.analyst_role, bucket=outputs.archive_bucket,
            config=config, region=REGION, endpoint_url=environment["AWS_ENDPOINT_URL"],
        )  # fmt: skip
        timings["analyst queries"] = time.monotonic() - started
        say(f"{analyst.line}, in {timings['analyst queries']:.1f} s")
        verdict.differences.extend(analyst.differences)

        started = time.monotonic()
        with athena_query_id_bridge(client("iam"), client("lambda"), config.resource_name("rollups")):
            compaction = prove_compaction(client("stepfunctions"), client("s3"), sqs, outputs.rollups_state_machine,
                                          outputs.archive_bucket, changes_queue, environment=environment,
                                          source_interval=config.rollup_source_interval)  # fmt: skip
        timings["compaction"] = time.monotonic() - started
        say(f"{compaction.line}, in {timings['compaction']:.1f} s")
        verdict.differences.extend(compaction.differences)

        started = time.monotonic()
        workflow = prove_backfill_workflow(client("stepfunctions"), outputs.backfill_state_machine, pairs, frozen)
        timings["backfill state machine"] = time.monotonic() - started
        say(f"backfill state machine: {WORKFLOW_BARS_PER_PAIR * WORKFLOW_PAIRS} bars in 2 chunks, then resumed with "
            f"nothing to publish, in {timings['backfill state machine']:.1f} s"
            + (f" — {'; '.join(workflow)}" if workflow else ""))  # fmt: skip
        verdict.differences.extend(workflow)

        timings["cdk destroy"] = cdk.destroy()
        left = leftovers(
            client, stream=outputs.stream, table=outputs.table,
            queues=[config.quarantine_queue_name, f"{config.quarantine_queue_name}-esm-failures",
                    config.resource_name("schedule-dlq"), config.resource_name("rollup-changes"),
                    config.resource_name("rollup-changes-dlq")],
            buckets=[outputs.archive_bucket], schedule_group=outputs.schedule_group,
            functions=[outputs.producer],
        )  # fmt: skip
        say(f"destroyed in {timings['cdk destroy']:.1f} s; left behind: {', '.join(left) or 'nothing'}")
        if left:
            verdict.differences.append(f"cdk destroy left {', '.join(left)} (a redeploy on AWS would clash)")
        redeployed = cdk.deploy("redeploy")
        timings["cdk deploy again"] = redeployed.seconds
        # The schedules are paused first (a scheduled spot run holds its interval's lease, and its load slowed
        # the emulator enough once to time a 1,000-bar run out); then the same small backfill for one pair.
        pause_schedules(client("scheduler"), outputs.schedule_group)
        again = invoke_when_lease_free(client("lambda"), outputs.producer, backfill_event(pairs[:1], frozen))
        say(f"deployed again in {redeployed.seconds:.1f} s; its producer published {again.get('published')} "
            f"of {BACKFILL_BARS_PER_PAIR}")  # fmt: skip
        if again.get("published") != BACKFILL_BARS_PER_PAIR:
            verdict.differences.append(f"the redeployed producer published {again.get('published')}: {again}")
        timings["cdk destroy again"] = cdk.destroy()
        (WORKDIR / "timings.json").write_text(json.dumps(timings, indent=2))
        say("timings: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items()))
        for difference in verdict.differences:
            say(f"difference: {difference}")
        say(verdict.line)
        return 0 if not verdict.differences and not verdict.lost else 1
    finally:
        emulator.stop()
        simulator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deployed", description=__doc__.splitlines()[0])
    parser.add_argument("--no-auth", action="store_true", help="run MiniStack without IAM enforcement")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    try:
        return run(auth=not args.no_auth)
    except (ConfigError, CdkError, EmulatorError, ScenarioError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    except (ClientError, BotoCoreError) as exc:
        print(f"error: the emulator refused a call: {str(exc).splitlines()[0]}", file=sys.stderr)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
    print("deployed: failed before every hop could be counted", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
