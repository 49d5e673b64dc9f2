"""Cold import of each handler beside ``import boto3``: what a Lambda cold start pays before any work."""

from __future__ import annotations

from bench.consumer_bench import cold_import_ms

STATEMENTS = {
    "boto3": "import boto3",
    "consumer.handler": "import consumer.handler",
    "producer.handler": "import producer.handler",
    "consumer.handler + boto3": "import consumer.handler, boto3",
    "producer.handler + boto3": "import producer.handler, boto3",
    # what a run of an exchange source adds on its first use (imported lazily, never by an Alpha Vantage run)
    "producer.handler + ccxt": "import producer.handler, ccxt",
}


def bench_imports(repeats: int = 5) -> dict[str, float]:
    """Median ms over ``repeats`` fresh interpreters, an empty interpreter's start subtracted."""
    return {name: cold_import_ms(statement, repeats) for name, statement in STATEMENTS.items()}
