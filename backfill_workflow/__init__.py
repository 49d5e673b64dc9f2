"""The backfill state machine's own Lambda: plans the chunks and reports the outcome (no AWS calls)."""
