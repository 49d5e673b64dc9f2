"""Record every AWS API call at botocore, attributed to the Lambda handler that made it.

``BaseClient._make_api_call`` is the one place every boto3 client call passes through (whatever session
or cache made the client, Powertools' providers included), so wrapping it sees them all. A call made
while a handler wrapped by ``attributed_handler`` is running carries that function's name; calls made
by the test harness (creating resources, the local event source mapping's GetRecords) carry none and
are kept apart: only the handlers' calls are checked against the roles.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import botocore.client
import botocore.exceptions

_running: contextvars.ContextVar[str | None] = contextvars.ContextVar("iam_recorder_function", default=None)
Handler = TypeVar("Handler", bound=Callable[..., Any])


@dataclass(frozen=True)
class RecordedCall:
    function: str  # the handler's package: producer, consumer, archive_transform
    service: str  # botocore's service name: dynamodb, kinesis, sqs, secretsmanager...
    operation: str  # PutRecords, TransactWriteItems...
    params: Mapping[str, Any] = field(compare=False, hash=False)
    error: str | None = field(default=None, compare=False, hash=False)  # the error code, if the call failed
    # What the call returned, for the few needs that depend on it (an Athena query's id names its workgroup).
    returned: Mapping[str, Any] | None = field(default=None, compare=False, hash=False, repr=False)

    def __str__(self) -> str:
        return f"{self.function}: {self.service} {self.operation}"


@dataclass
class CallRecorder:
    calls: list[RecordedCall] = field(default_factory=list)
    unattributed: int = 0  # harness calls, counted only

    @contextmanager
    def installed(self) -> Iterator[CallRecorder]:
        """Wrap botocore's ``BaseClient._make_api_call`` for the duration."""
        original = botocore.client.BaseClient._make_api_call
        recorder = self

        def recording(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            function = _running.get()
            if function is None:
                recorder.unattributed += 1
                return original(client, operation_name, api_params)
            service = client.meta.service_model.service_name
            try:
                result = original(client, operation_name, api_params)
            except botocore.exceptions.ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
                recorder.calls.append(RecordedCall(function, service, operation_name, dict(api_params), code))
                raise
            recorder.calls.append(RecordedCall(function, service, operation_name, dict(api_params), returned=result))
            return result

        botocore.client.BaseClient._make_api_call = recording  # type: ignore[method-assign]
        try:
            yield self
        finally:
            botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]

    @contextmanager
    def attributed(self, function: str) -> Iterator[None]:
        token = _running.set(function)
        try:
            yield
        finally:
            _running.reset(token)

    def attributed_handler(self, function: str, handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.attributed(function):
                return handler(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def of(self, function: str) -> list[RecordedCall]:
        return [call for call in self.calls if call.function == function]
