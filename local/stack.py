"""The embedded local stack: moto's server, the market simulator, and the stream pollers moto lacks: Lambda's
event source mapping (``local.event_source``) and Firehose (``local.archiver``).

``LocalStack`` starts everything on 127.0.0.1, creates the pipeline's resources with the names in
cdk.json, and sets the same environment variables the Lambdas get in AWS, so the real handlers run
in-process unchanged. With a data directory, the stack is durable: moto's state is journaled,
reader checkpoints are kept, and ``start()`` after ``stop()`` resumes where it left off.
With ``endpoint`` it uses an external emulator (e.g. LocalStack) instead of the embedded moto.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptostream_config.local import LocalSettings, load_local_settings
from local.archiver import LocalArchiver
from local.checkpoints import CheckpointStore
from local.clients import Clients
from local.event_source import KinesisEventSourceMapping, sqs_on_failure
from local.home import STATE_FILE, HomeLock, remove_own_state, write_state
from local.lambda_context import LocalLambdaContext
from local.lambda_settings import check_lambda_settings
from local.leases import release_orphaned_leases
from local.moto_server import EmbeddedMotoServer
from local.owner import identity
from local.resources import LocalResources, ensure_resources
from local.shard_reader import ShardReader

LOCAL_API_KEY = "local-simulator-key"
__all__ = ["STATE_FILE", "ConsumerTotals", "LocalStack"]  # STATE_FILE: where tools find a running stack
_DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}


@dataclass
class ConsumerTotals:
    """Sum of the consumer's per-batch statistics (fed by its handler's ``on_stats`` hook)."""

    batches: int = 0
    records: int = 0
    written: int = 0
    duplicates: int = 0
    quarantined: int = 0
    stale_latest_skipped: int = 0
    dynamodb_requests: int = 0
    sqs_requests: int = 0
    retries: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    def add(self, stats: Any) -> None:
        self.batches += 1
        for name in ("records", "written", "duplicates", "stale_latest_skipped", "dynamodb_requests", "sqs_requests"):
            setattr(self, name, getattr(self, name) + int(getattr(stats, name, 0) or 0))
        self.retries += int(getattr(stats, "retries", 0) or 0)
        reasons = getattr(stats, "quarantined_by_reason", None) or getattr(stats, "quarantined", {})
        if isinstance(reasons, dict):
            for reason, count in reasons.items():
                code = str(reason).split(":", 1)[0]
                self.quarantine_reasons[code] = self.quarantine_reasons.get(code, 0) + count
                self.quarantined += count
        else:
            self.quarantined += int(reasons or 0)


def simulator_env(simulator_url: str) -> dict[str, str]:
    """The producer's settings that point every source at the market simulator (``http://.../query``)."""
    root = simulator_url.removesuffix("/query")
    return {
        "ALPHAVANTAGE_BASE_URL": simulator_url,
        "COINBASE_BASE_URL": f"{root}/coinbase",
        "KRAKEN_BASE_URL": f"{root}/kraken",
        # CCXT spaces requests to real exchanges (Kraken: 1 s); the simulator throttles only when told to.
        "EXCHANGE_RATE_LIMIT_MS": "0",
    }


class LocalStack:
    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        endpoint: str | None = None,
        seed: int = 42,
        config: LocalSettings | None = None,
        archive_buffer_seconds: float = 60.0,
        archive_buffer_bytes: int = 8 * 1024 * 1024,
        simulator: bool = True,
        quiet: bool = True,
    ) -> None:
        self.config = config or load_local_settings()
        check_lambda_settings(self.config)  # before anything starts: a bad setting is one line, not a dead stack
        self.data_dir = data_dir
        self._external_endpoint = endpoint
        self._seed = seed
        self._with_simulator = simulator
        self._archive_buffer = (archive_buffer_seconds, archive_buffer_bytes)
        self._quiet = quiet
        self._moto: EmbeddedMotoServer | None = None
        self._saved_env: dict[str, str | None] = {}
        self.simulator: Any = None
        self.endpoint: str = ""
        self.clients: Clients
        self.resources: LocalResources
        self.consumer_totals = ConsumerTotals()
        self.mapping: KinesisEventSourceMapping
        self.archiver: LocalArchiver
        self.replayed_requests = 0
        self._lock: HomeLock | None = None
        self._notices: list[str] = []

    # lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> LocalStack:
        """Start everything; raises ``local.home.HomeLocked`` if another live stack owns the data directory
        and ``local.journal.ReplayError`` if the journal cannot be replayed (nothing is left running)."""
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._lock = HomeLock(self.data_dir)
            self._lock.acquire()
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> LocalStack:
        if self._external_endpoint:
            self.endpoint = self._external_endpoint.rstrip("/")
        else:
            self._moto = EmbeddedMotoServer(self.data_dir)
            self.endpoint = self._moto.start()
            self.replayed_requests = self._moto.replayed
        simulator_url = ""
        if self._with_simulator:
            from local.market import MarketSimulator

            self.simulator = MarketSimulator(seed=self._seed)
            simulator_url = self.simulator.start()
        self._set_env(self._local_credentials())
        self.clients = Clients(self.endpoint, self.config.region)
        self.resources = ensure_resources(self.clients, self.config, LOCAL_API_KEY)
        self._set_env(self._lambda_env(simulator_url))
        self._notices += release_orphaned_leases(self.clients.dynamodb, self.config.table_name)
        self._wire_pollers()
        self._write_state(simulator_url)
        return self

    def stop(self) -> None:
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self.data_dir is not None:
            remove_own_state(self.data_dir)
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    def notices(self) -> list[str]:
        """One-line events since the last call: a torn journal tail dropped, a full disk, a lease released."""
        lines, self._notices = self._notices, []
        if self._moto is not None and self._moto.status is not None:
            lines += self._moto.status.drain()
        return lines

    @property
    def disk_full(self) -> bool:
        """True while the journal cannot write (requests are being refused)."""
        status = self._moto.status if self._moto is not None else None
        return bool(status and status.disk_full_since is not None)

    def journal_writable(self) -> bool:
        """After a full disk: try a durable write; True once the journal writes again (a notice says so)."""
        return self._moto.probe() if self._moto is not None else True

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # the pipeline --------------------------------------------------------------------------------------
    def produce(self, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Invoke the producer handler in-process, as the EventBridge schedule does in AWS."""
        from producer.handler import lambda_handler

        event = event or {}
        if event.get("interval"):  # a lease left by a process that died since start-up (e.g. `produce`)
            self._notices += release_orphaned_leases(
                self.clients.dynamodb, self.config.table_name, (event["interval"],)
            )
        context = LocalLambdaContext("cryptostream-producer", timeout_seconds=300, region=self.config.region)
        return lambda_handler(event, context)

    def pump(self, flush: bool = True, max_seconds: float = 600.0) -> int:
        """Deliver everything in the stream to the consumer and the archiver; returns records consumed."""
        deadline = time.monotonic() + max_seconds
        total = 0
        while time.monotonic() < deadline:
            delivered = self.mapping.poll(flush=flush)
            archived = self.archiver.poll(flush=flush)
            total += delivered
            if not delivered and not archived:
                break
        return total

    def tick(self) -> int:
        """One non-flushing pass, honouring batching windows and archive buffering (for ``up``)."""
        return self.mapping.poll(flush=False) + self.archiver.poll(flush=False)

    # wiring --------------------------------------------------------------------------------------------
    def _wire_pollers(self) -> None:
        from consumer.handler import make_handler

        checkpoints = CheckpointStore(self.data_dir / "checkpoints.json" if self.data_dir else None)
        kinesis = self.clients.kinesis
        self.mapping = KinesisEventSourceMapping(
            ShardReader(kinesis, self.config.stream_name, "esm:cryptostream-consumer", checkpoints),
            make_handler(on_stats=self.consumer_totals.add),
            self.config.consumer,
            stream_arn=self.resources.stream_arn,
            region=self.config.region,
            on_failure=sqs_on_failure(self.clients.sqs, self.resources.esm_failure_queue_url),
        )
        seconds, size = self._archive_buffer
        self.archiver = LocalArchiver(
            ShardReader(kinesis, self.config.stream_name, "firehose:cryptostream-archive", checkpoints),
            self.clients.s3,
            self.resources.bucket,
            buffer_seconds=seconds,
            buffer_bytes=size,
        )

    def _local_credentials(self) -> dict[str, str]:
        env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": self.config.region,
            "AWS_REGION": self.config.region,
        }
        return (
            {**env, **_DUMMY_CREDENTIALS} if self._moto is not None or not os.environ.get("AWS_ACCESS_KEY_ID") else env
        )

    def _lambda_env(self, simulator_url: str) -> dict[str, str]:
        """What the CDK app sets on the two functions, pointed at this stack."""
        env = {
            "STREAM_NAME": self.config.stream_name,
            "TABLE_NAME": self.config.table_name,
            "PAIRS": ",".join(self.config.pairs),
            "QUARANTINE_QUEUE_URL": self.resources.quarantine_queue_url,
            "ALPHAVANTAGE_SECRET_ARN": self.resources.secret_arn,
            "HISTORY_TTL_DAYS": str(self.config.history_ttl_days),
            "WATERMARK_WRITES": self.config.watermark_writes,
            "POWERTOOLS_METRICS_NAMESPACE": "cryptostream",
            "PRODUCER_LEASE_OWNER": identity(),  # lets a lease left by this process be recognised once it is gone
        }
        if self.config.daily_request_budget is not None:
            env["ALPHAVANTAGE_DAILY_REQUESTS"] = str(self.config.daily_request_budget)
        env |= self.config.producer_source_env
        if simulator_url:
            env |= simulator_env(simulator_url)
        if self._quiet:  # EMF metrics and INFO logs would bury the demo's output; AWS keeps both
            env |= {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR"}
        return env

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _write_state(self, simulator_url: str) -> None:
        if self.data_dir is None:
            return
        state = {
            "endpoint": self.endpoint,
            "simulator_url": simulator_url,
            # what the running producer was started with: `cryptostream produce` runs with the same owners
            **self.config.producer_source_env,
            "resources": asdict(self.resources),
        }
        write_state(self.data_dir, state)
