"""Long-running and one-shot entry points of the CLI: ``up`` and ``produce``."""

from __future__ import annotations

import os
import signal
import time
import warnings
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from cli.target import Target, TargetError
from cryptostream_model.sources import ALPHA_VANTAGE
from local.home import HomeLocked
from local.journal import ReplayError
from local.lambda_context import LocalLambdaContext
from local.owner import identity
from local.resources import SECRET_NAME
from local.stack import LocalStack, simulator_env


def run_until_interrupted(
    data_dir: Path,
    *,
    every: float,
    interval: str,
    seed: int,
    source: str | None = None,
    endpoint: str | None,
    verbose: bool,
    console: Console,
    archive_buffer_seconds: float = 60.0,
) -> None:
    """Start (or resume) the durable stack; run the producer every ``every`` seconds until Ctrl-C/SIGTERM.

    Trouble is said in one line each: another `up` on the home, a journal that cannot be replayed, a
    torn journal tail dropped, a full disk (requests refused until it frees; the schedule pauses),
    a released stale lease, a skipped or failed producer run."""
    config = local_settings_for(source)
    stack = LocalStack(
        data_dir,
        endpoint=endpoint,
        seed=seed,
        config=config,
        quiet=not verbose,
        archive_buffer_seconds=archive_buffer_seconds,
    )
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    # a run that fails before publishing makes Powertools warn about empty metrics: the run's own line says more
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    try:
        stack.start()
    except HomeLocked as exc:
        raise TargetError(str(exc)) from None
    except ReplayError as exc:
        raise TargetError(f"cannot resume the local stack in {data_dir}: {exc}") from None
    last_error = ""

    def say(line: str) -> None:
        console.print(f"{datetime.now(UTC):%H:%M:%S} {escape(line)}", highlight=False, soft_wrap=True)

    try:
        resumed = (
            f" (resumed: {stack.replayed_requests} journaled requests replayed)" if stack.replayed_requests else ""
        )
        console.print(f"[bold green]cryptostream local stack up[/]{resumed}")
        console.print(f"  AWS APIs (moto):   {stack.endpoint}")
        if stack.simulator is not None:
            console.print(f"  market simulator:  {stack.simulator.base_url}")
        console.print(f"  data directory:    {data_dir.resolve()} (pid {os.getpid()})")
        console.print(
            f"  producer every {every:g} s ({interval} from {stack.config.source}, "
            f"pairs {','.join(stack.config.pairs)}); Ctrl-C to stop"
        )
        console.print("  in another shell: cryptostream quote BTC-USD --interval " + interval)
        next_run = time.monotonic()
        while not stopping:
            for line in stack.notices():
                say(line)
            if stack.disk_full:  # pause the schedule and the pollers: every write would be refused
                if not stack.journal_writable():
                    time.sleep(1.0)
                    continue
                for line in stack.notices():
                    say(line)
            if time.monotonic() >= next_run:
                say(_run_line(stack, interval))
                next_run = time.monotonic() + every
            try:
                delivered = stack.tick()
                last_error = ""
            except Exception as exc:  # a poller's request refused or failed: retried on the next tick
                delivered = 0
                message = _one_line(exc)
                if message != last_error and not stack.disk_full:
                    say(f"delivery paused: {message}")
                last_error = message
            if not delivered:
                time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping: state is kept; `cryptostream up` resumes from the checkpoints")
        stack.stop()


def _run_line(stack: LocalStack, interval: str) -> str:
    """One scheduled producer run, said in one line: what it produced, or why it did nothing."""
    try:
        summary = stack.produce({"mode": "incremental", "interval": interval})
    except Exception as exc:
        if stack.disk_full:
            return "producer run not done: the journal cannot write (see above); it runs again on schedule"
        return f"producer run failed: {_one_line(exc)}"
    if summary.get("skipped"):
        return f"producer run skipped: {summary['skipped']}"
    failed = summary.get("failed_pairs") or {}
    return (
        f"produced {summary.get('published', 0)} "
        f"(fetched {summary.get('fetched', 0)}, seen {summary.get('skipped_seen', 0)})"
        + (f", failed: {failed}" if failed else "")
    )


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: " + " ".join(str(exc).split())[:300]


def local_settings_for(source: str | None) -> Any:
    """The local settings, with ``source`` as the default source when given (as ``SOURCE=...`` would)."""
    from cryptostream_config.local import load_local_settings

    if source is None:
        return load_local_settings()
    with _environment({"SOURCE": source}):
        return load_local_settings()


@contextmanager
def _environment(values: dict[str, str]) -> Any:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def produce_once(target: Target, event: dict[str, Any]) -> dict[str, Any]:
    """Run the producer handler here, against the target's stream and table."""
    config = target.config
    env = {"STREAM_NAME": config.stream_name, "TABLE_NAME": config.table_name, "PAIRS": ",".join(config.pairs)}
    env |= config.producer_source_env
    if target.kind == "local":
        if not target.simulator_url:
            raise TargetError("the running local stack has no market simulator")
        secret = target.clients.secretsmanager.describe_secret(SecretId=SECRET_NAME)["ARN"]
        env |= simulator_env(target.simulator_url) | {"ALPHAVANTAGE_SECRET_ARN": secret}
        env |= {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}
        env["PRODUCER_LEASE_OWNER"] = identity()  # `up` releases the lease at once if this process is killed
    elif (event.get("source") or config.source) == ALPHA_VANTAGE and not (
        os.environ.get("ALPHAVANTAGE_API_KEY") or os.environ.get("ALPHAVANTAGE_SECRET_ARN")
    ):
        raise TargetError("set ALPHAVANTAGE_API_KEY (or ALPHAVANTAGE_SECRET_ARN) in the environment or .env")
    if target.kind == "aws":
        import boto3

        if boto3.session.Session().region_name is None:
            raise TargetError("no AWS region configured: set AWS_REGION (or a profile's region), or pass --endpoint")
    if target.endpoint:
        env["AWS_ENDPOINT_URL"] = target.endpoint
        # the region the command's own clients use (us-east-1 unless configured): an emulator needs one,
        # and a clean machine has none, which made boto3 end the run in NoRegionError
        env |= {"AWS_REGION": config.region, "AWS_DEFAULT_REGION": config.region}
    from producer.handler import lambda_handler
    from producer.settings import Settings

    with _environment(env):
        Settings.from_env()  # a bad setting is one line naming it, before the handler logs and runs
        return lambda_handler(event, LocalLambdaContext("cryptostream-producer", region=config.region))
