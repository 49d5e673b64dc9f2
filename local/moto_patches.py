"""A narrow performance fix for moto's DynamoDB, applied by the embedded stack only.

moto's ``transact_write_items`` deep-copies every table a transaction touches, for rollback. That
makes each TransactWriteItems cost O(table size): the consumer moves ``LATEST`` items with one
transaction per batch, so a 100,000-quote soak would spend minutes copying. The patch keeps
moto's logic, makes the whole-table copy a no-op, and instead snapshots just the items the
transaction names, restoring them if the transaction is cancelled. Semantics are unchanged: the
test suite checks that a cancelled transaction leaves the table exactly as it was.
"""

from __future__ import annotations

import copy
from typing import Any

_PATCHED = False


class _CopyWithoutTables:
    """Stands in for the ``copy`` module inside moto.dynamodb.models: tables are not deep-copied."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if isinstance(value, self._table_type):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _key(op_type: str, op: dict[str, Any], table: Any) -> dict[str, Any]:
    if op_type != "Put":
        return op["Key"]
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def apply() -> None:
    global _PATCHED
    if _PATCHED:
        return
    import moto.dynamodb.models as models

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        snapshots: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        for entry in transact_items:
            if len(entry) != 1:
                continue  # moto raises its own validation error for this
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName", ""))
            if table is None:
                continue
            try:
                key = _key(op_type, op, table)
                current = self.get_item(op["TableName"], key)
            except Exception:  # malformed keys: moto reports them itself
                continue
            snapshots.append(
                (op["TableName"], key, copy.deepcopy(current.to_json()["Attributes"]) if current else None)
            )
        try:
            original(self, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(snapshots):
                if attributes is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attributes)
            raise

    models.copy = _CopyWithoutTables(models.Table)  # type: ignore[attr-defined]
    models.DynamoDBBackend.transact_write_items = transact_write_items
    _PATCHED = True
