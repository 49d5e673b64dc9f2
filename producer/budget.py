"""The producer's own daily request budget per market-data source, kept in the serving table.

Alpha Vantage's free key allows 25 requests a UTC day; once they are spent every further request is
refused with an ``Information`` body. The producer therefore counts its own requests and never sends one
it knows will be refused: before each HTTP attempt it takes one unit of the day's budget with a
conditional ``UpdateItem`` (``ADD used :one`` only if ``used < limit``), so two runs racing for the last
unit cannot both win — DynamoDB applies conditional updates of one item one at a time.

Item: ``pk = PRODUCER#<source>``, ``sk = BUDGET#<YYYY-MM-DD>`` (``cryptostream_model.keys.budget_key``),
attribute ``used``; ``expires_at`` removes it two days after its day ends (the table's TTL).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from cryptostream_model.keys import TTL_ATTRIBUTE, budget_key
from producer.errors import AlphaVantageError

DAY_SECONDS = 86_400
KEEP_DAYS = 2  # a spent day's counter stays readable a little while, then TTL deletes it


class BudgetSpent(AlphaVantageError):
    """The source's daily request budget is spent: the request was not sent."""

    kind = "budget_spent"
    fails_whole_run = True  # every other pair would be refused alike


class RequestBudget:
    """``limit`` requests per UTC day for ``source``; ``take()`` reserves one before it is sent."""

    def __init__(
        self, client: object, table_name: str, source: str, limit: int, *, clock: Callable[[], float] = time.time
    ) -> None:
        if limit < 1:
            raise ValueError(f"a daily request budget must be at least 1, got {limit}")
        self.client = client
        self.table_name = table_name
        self.source = source
        self.limit = limit
        self.clock = clock

    def day(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%d")

    def _key(self, day: str) -> dict:
        pk, sk = budget_key(self.source, day)
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def used(self) -> int:
        """Requests counted today (a strongly consistent read)."""
        item = self.client.get_item(
            TableName=self.table_name, Key=self._key(self.day()), ConsistentRead=True, ProjectionExpression="used"
        ).get("Item")
        return int(item["used"]["N"]) if item and "used" in item else 0

    def remaining(self) -> int:
        return max(0, self.limit - self.used())

    def take(self) -> bool:
        """Count one request against today's budget; False (nothing counted) when it is spent."""
        day = self.day()
        day_start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._key(day),
                UpdateExpression="ADD used :one SET #ttl = if_not_exists(#ttl, :expires)",
                ConditionExpression="attribute_not_exists(used) OR used < :limit",
                ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(self.limit)},
                    ":expires": {"N": str(int(day_start) + (1 + KEEP_DAYS) * DAY_SECONDS)},
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def spent_reason(self) -> str:
        spent = f"{self.limit} of {self.limit} {self.source} requests"
        return f"daily request budget spent: {spent} used on {self.day()} (UTC); runs resume after midnight UTC"

    def guard(self) -> Callable[[], None]:
        """The client's ``before_request`` hook: take one unit or raise ``BudgetSpent``."""

        def before_request() -> None:
            if not self.take():
                raise BudgetSpent(self.spent_reason())

        return before_request
