"""Count every AWS API call the process makes, by service and operation.

The producer, the consumer and the local pollers each create their own boto3 clients; counting in
botocore's one choke point (``BaseClient._make_api_call``) sees them all without touching their code.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient


@contextmanager
def counting_api_calls(
    qualify: Callable[[str, dict[str, Any]], str] | None = None,
) -> Iterator[Counter[str]]:
    """Yields a Counter of ``"service:Operation"`` that fills while the block runs. ``qualify(name,
    params)`` may rename a call (e.g. to tell two callers of one operation apart)."""
    calls: Counter[str] = Counter()
    original = BaseClient._make_api_call

    def counted(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        name = f"{self.meta.service_model.service_name}:{operation_name}"
        calls[qualify(name, api_params) if qualify else name] += 1
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = counted  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]
