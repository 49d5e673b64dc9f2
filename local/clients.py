"""boto3 clients for one endpoint (the embedded moto server, an external emulator, or AWS)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

# Locally every call is on loopback: fail fast instead of boto3's 60 s defaults.
_LOCAL = BotoConfig(connect_timeout=2, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"})
_AWS = BotoConfig(retries={"max_attempts": 5, "mode": "adaptive"})


class Clients:
    def __init__(self, endpoint: str | None, region: str) -> None:
        self.endpoint = endpoint
        self.region = region
        self._session = boto3.session.Session(region_name=region)

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self.endpoint, config=_LOCAL if self.endpoint else _AWS)

    @cached_property
    def kinesis(self) -> Any:
        return self.client("kinesis")

    @cached_property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @cached_property
    def sqs(self) -> Any:
        return self.client("sqs")

    @cached_property
    def s3(self) -> Any:
        return self.client("s3")

    @cached_property
    def kms(self) -> Any:
        return self.client("kms")

    @cached_property
    def secretsmanager(self) -> Any:
        return self.client("secretsmanager")
