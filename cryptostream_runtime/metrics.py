"""One way to flush metrics in every handler: Powertools' ``@metrics.log_metrics``.

It flushes once per invocation, when the handler returns or raises. With
``POWERTOOLS_METRICS_DISABLED`` on, Powertools' flush prints nothing but keeps the values, and once one
metric holds 100 of them ``add_metric`` prints the set regardless; so the set is cleared after every
invocation, and disabled metrics stay silent however many invocations a warm process (the local stack)
makes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

Handler = TypeVar("Handler", bound=Callable[..., Any])


def log_metrics(metrics: Metrics) -> Callable[[Handler], Handler]:
    """``@log_metrics(metrics)``: ``@metrics.log_metrics``, then the set cleared for the next invocation."""

    def decorate(handler: Handler) -> Handler:
        logged = metrics.log_metrics(handler)

        @functools.wraps(handler)
        def invoke(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return logged(event, context, *args, **kwargs)
            finally:
                metrics.clear_metrics()

        return invoke  # type: ignore[return-value]

    return decorate
