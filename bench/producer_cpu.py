"""``python -m bench.producer_cpu``: how much of a producer run is the producer's own CPU.

The deployed producer's memory (infra/ingestion.py) buys CPU: Lambda gives a function CPU in proportion to its
memory (1,769 MB = one vCPU). A run that mostly waits on the network (the source's HTTP answers, Kinesis,
DynamoDB) pays for memory it does not use. This runs the real handler (spot, 3 pairs, the default deployment's
busiest schedule) against moto's server and the market simulator, each in its own thread, and measures the
handler thread's CPU time (``time.thread_time``) beside its wall time, over warm runs. Printed as JSON.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import statistics
import time
from typing import Any

RUNS = 20
PAIRS = "BTC-USD,ETH-USD,SOL-USD"


class _Context:
    function_name = "cryptostream-producer"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


def measure(runs: int = RUNS) -> dict[str, Any]:
    import boto3
    from moto.server import ThreadedMotoServer

    from local.market.server import MarketSimulator

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint, "STREAM_NAME": "bench-quotes", "TABLE_NAME": "bench-quotes",
        "PAIRS": PAIRS, "INTERVAL": "spot", "ALPHAVANTAGE_API_KEY": "bench", "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true",
    }  # fmt: skip
    os.environ.update(env)
    session = boto3.session.Session()
    session.client("kinesis", endpoint_url=endpoint).create_stream(StreamName="bench-quotes", ShardCount=1)
    session.client("dynamodb", endpoint_url=endpoint).create_table(
        TableName="bench-quotes",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
        BillingMode="PAY_PER_REQUEST",
    )
    walls, cpus = [], []
    try:
        with MarketSimulator(seed=11, full_bars=600) as simulator:
            os.environ["ALPHAVANTAGE_BASE_URL"] = simulator.base_url
            from producer import handler

            for minute in range(runs + 1):
                simulator.clock.set(f"2026-11-22T09:{minute:02d}:30Z")
                wall, cpu = time.perf_counter(), time.thread_time()
                handler.lambda_handler({"interval": "spot"}, _Context())
                if minute:  # the first run is the cold one (imports, clients)
                    walls.append(time.perf_counter() - wall)
                    cpus.append(time.thread_time() - cpu)
    finally:
        server.stop()
    return {
        "runs": runs,
        "pairs": len(PAIRS.split(",")),
        "wall_ms_median": round(statistics.median(walls) * 1000, 1),
        "cpu_ms_median": round(statistics.median(cpus) * 1000, 1),
        "cpu_share": round(sum(cpus) / sum(walls), 3),
    }


if __name__ == "__main__":
    print(json.dumps(measure()))
