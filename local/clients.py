"""boto3 clients for one endpoint (the embedded moto server, an external emulator, or AWS), made by the
Lambdas' shared factory (``cryptostream_runtime.clients``): each client once, kept for the process."""

from __future__ import annotations

from typing import Any

from cryptostream_runtime.clients import ClientOptions, clients

# Locally every call is on loopback: fail fast instead of boto3's 60 s defaults.
_LOCAL = ClientOptions(max_attempts=3, connect_timeout=2, read_timeout=30)
_AWS = ClientOptions(max_attempts=5, retry_mode="adaptive")


class Clients:
    def __init__(self, endpoint: str | None, region: str) -> None:
        self.endpoint = endpoint
        self.region = region
        self._clients = clients(_LOCAL if endpoint else _AWS, endpoint_url=endpoint, region=region)

    def client(self, service: str) -> Any:
        return self._clients.client(service)

    @property
    def kinesis(self) -> Any:
        return self.client("kinesis")

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @property
    def sqs(self) -> Any:
        return self.client("sqs")

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def kms(self) -> Any:
        return self.client("kms")

    @property
    def secretsmanager(self) -> Any:
        return self.client("secretsmanager")
