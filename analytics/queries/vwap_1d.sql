-- vwap_1d: volume-weighted average price per pair and UTC day.
-- Answers: VWAP of the day's bars (typical price (high + low + close) / 3 weighted by volume), the day's volume,
--   bar count, last close, and how far the close sits from the VWAP in basis points. NULL VWAP when the day
--   traded no volume. Each (symbol, market, interval, ts) counts once: the copy with the newest fetched_at.
--   Rows that break the record model (the archive keeps whatever the stream carried, poison included) are left
--   out; data_quality counts them.
-- @param pair: 'ALL' or one pair such as 'BTC-USD'
-- @param source_interval: the intraday bar interval the VWAP is computed from
-- @param start_date: first UTC date, inclusive
-- @param end_date: last UTC date, inclusive
-- @tables: quotes
WITH params AS (
  SELECT 'ALL' AS pair, '5min' AS source_interval, DATE '1970-01-01' AS start_date, DATE '9999-12-31' AS end_date
),
ranked AS (
  -- @include ranked_quotes
  WHERE q."interval" = params.source_interval
    -- @include valid_quote
    AND q.dt BETWEEN date_format(params.start_date, '%Y-%m-%d') AND date_format(params.end_date, '%Y-%m-%d')
    AND (params.pair = 'ALL'
      OR (q.symbol = split_part(upper(params.pair), '-', 1) AND q.market = split_part(upper(params.pair), '-', 2)))
),
daily AS (
  SELECT
    symbol,
    market,
    CAST(date_trunc('day', ts) AS date) AS day,
    sum((high + low + close) / 3 * volume) / nullif(sum(volume), 0) AS vwap,
    sum(volume) AS volume,
    count(*) AS bars,
    max_by(close, ts) AS last_close
  FROM ranked
  WHERE copy_rank = 1
  GROUP BY symbol, market, CAST(date_trunc('day', ts) AS date)
)
SELECT
  symbol,
  market,
  day,
  vwap,
  volume,
  bars,
  last_close,
  (last_close / vwap - 1) * 10000 AS close_vs_vwap_bps
FROM daily
ORDER BY symbol, market, day
