-- bars: OHLCV bars of one pair and interval in a time range, oldest first (what charts draw).
-- Answers: each bar once (the copy with the newest fetched_at wins over at-least-once duplicates).
--   Rows that break the record model (the archive keeps whatever the stream carried, poison included) are left
--   out; data_quality counts them.
-- @param pair: one pair such as 'BTC-USD'
-- @param source_interval: bar interval ('1min' ... '60min', '1d' or 'spot')
-- @param start_ts: first bar time, inclusive (UTC)
-- @param end_ts: last bar time, inclusive (UTC)
-- @tables: quotes
WITH params AS (
  SELECT
    'BTC-USD' AS pair, '5min' AS source_interval,
    CAST('1970-01-01 00:00:00' AS timestamp) AS start_ts, CAST('9999-12-31 23:59:59' AS timestamp) AS end_ts
),
ranked AS (
  -- @include ranked_quotes
  WHERE q."interval" = params.source_interval
    -- @include valid_quote
    AND q.symbol = split_part(upper(params.pair), '-', 1)
    AND q.market = split_part(upper(params.pair), '-', 2)
    AND q.dt BETWEEN date_format(params.start_ts, '%Y-%m-%d') AND date_format(params.end_ts, '%Y-%m-%d')
    AND q.ts BETWEEN params.start_ts AND params.end_ts
)
SELECT symbol, market, "interval", ts, open, high, low, close, volume
FROM ranked
WHERE copy_rank = 1
ORDER BY ts
