"""A fault-injecting wrapper around real (moto) clients: moto never throttles, so we make it.

Each operation gets a script (``Script`` or ``Randomly``) giving one fault per call; ``None`` means
"call the real client". A fault is a callable ``(real_method, kwargs) -> response`` that may raise.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

Fault = Callable[[Callable[..., Any], dict[str, Any]], Any]


def client_error(code: str, status: int, operation: str = "Operation", **extra: Any) -> ClientError:
    response = {"Error": {"Code": code, "Message": f"injected {code}"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError({**response, **extra}, operation)


def throttled(real: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    raise client_error("ProvisionedThroughputExceededException", 400)


def server_error(real: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    raise client_error("InternalServerError", 500)


def validation_error(real: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    raise client_error("ValidationException", 400)


def unreachable(real: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    raise EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com/")


def unprocessed_tail(count: int) -> Fault:
    """BatchWriteItem writes all but the last ``count`` items and hands those back as UnprocessedItems."""

    def fault(real: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        ((table, requests),) = kwargs["RequestItems"].items()
        keep, back = requests[: len(requests) - count], requests[len(requests) - count :]
        if keep:
            real(RequestItems={table: keep})
        return {"UnprocessedItems": {table: back} if back else {}}

    return fault


def sqs_entries_fail(count: int, sender_fault: bool = False) -> Fault:
    """SendMessageBatch delivers all but the last ``count`` entries and reports those as Failed."""

    def fault(real: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        entries = kwargs["Entries"]
        keep, back = entries[: len(entries) - count], entries[len(entries) - count :]
        response = real(QueueUrl=kwargs["QueueUrl"], Entries=keep) if keep else {"Successful": []}
        failed = [
            {"Id": e["Id"], "SenderFault": sender_fault, "Code": "InternalError", "Message": "injected"} for e in back
        ]
        return {"Successful": response.get("Successful", []), "Failed": failed}

    return fault


class Script:
    """Faults for successive calls, then ``then`` (None: the real call) for every call after."""

    def __init__(self, *faults: Fault | None, then: Fault | None = None) -> None:
        self.faults, self.then = list(faults), then

    def pop(self, _: int = 0) -> Fault | None:
        return self.faults.pop(0) if self.faults else self.then

    def __bool__(self) -> bool:
        return True


class Randomly:
    """Apply ``fault`` with probability ``p`` (seeded): chaos for the redelivery test."""

    def __init__(self, faults: list[Fault], p: float, seed: int) -> None:
        self.faults, self.p, self.rng = faults, p, random.Random(seed)

    def pop(self, _: int = 0) -> Fault | None:
        return self.rng.choice(self.faults) if self.rng.random() < self.p else None

    def __bool__(self) -> bool:
        return True


class FaultyClient:
    def __init__(self, client: Any, **scripts: Any) -> None:
        self._client = client
        self.scripts: dict[str, Any] = scripts
        self.calls: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._client, name)
        if not callable(real) or name.startswith("_"):
            return real

        def call(**kwargs: Any) -> Any:
            self.calls[name].append(kwargs)
            script = self.scripts.get(name)
            fault = script.pop(0) if script else None
            return real(**kwargs) if fault is None else fault(real, kwargs)

        return call
