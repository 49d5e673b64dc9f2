-- moving_averages: short and long simple moving averages of the close per pair, with crossovers.
-- Answers: for each bar, the mean close of the last short_window and long_window bars (NULL until the window is
--   full) and the crossover it completes: 'golden_cross' when the short average is above the long one and was
--   below it last time they differed, 'death_cross' the other way round. Averages within a relative 1e-9 of each
--   other count as touching, not crossing (float noise). Each (symbol, market, interval, ts) counts once: the
--   copy with the newest fetched_at. Windows start at start_date.
--   Rows that break the record model (the archive keeps whatever the stream carried, poison included) are left
--   out; data_quality counts them.
-- @param pair: 'ALL' or one pair such as 'BTC-USD'
-- @param source_interval: bar interval ('1min' ... '60min' or '1d')
-- @param short_window: bars in the short average
-- @param long_window: bars in the long average
-- @param start_date: first UTC date, inclusive
-- @param end_date: last UTC date, inclusive
-- @tables: quotes
WITH params AS (
  SELECT
    'ALL' AS pair, '5min' AS source_interval, 20 AS short_window, 50 AS long_window,
    DATE '1970-01-01' AS start_date, DATE '9999-12-31' AS end_date
),
ranked AS (
  -- @include ranked_quotes
  WHERE q."interval" = params.source_interval
    -- @include valid_quote
    AND q.dt BETWEEN date_format(params.start_date, '%Y-%m-%d') AND date_format(params.end_date, '%Y-%m-%d')
    AND (params.pair = 'ALL'
      OR (q.symbol = split_part(upper(params.pair), '-', 1) AND q.market = split_part(upper(params.pair), '-', 2)))
),
averages AS (
  SELECT
    b.symbol,
    b.market,
    b.ts,
    b.close,
    CASE
      WHEN count(*) OVER (
        PARTITION BY b.symbol, b.market ORDER BY b.ts ROWS BETWEEN params.short_window - 1 PRECEDING AND CURRENT ROW
      ) = params.short_window
      THEN avg(b.close) OVER (
        PARTITION BY b.symbol, b.market ORDER BY b.ts ROWS BETWEEN params.short_window - 1 PRECEDING AND CURRENT ROW
      )
    END AS sma_short,
    CASE
      WHEN count(*) OVER (
        PARTITION BY b.symbol, b.market ORDER BY b.ts ROWS BETWEEN params.long_window - 1 PRECEDING AND CURRENT ROW
      ) = params.long_window
      THEN avg(b.close) OVER (
        PARTITION BY b.symbol, b.market ORDER BY b.ts ROWS BETWEEN params.long_window - 1 PRECEDING AND CURRENT ROW
      )
    END AS sma_long
  FROM ranked AS b
  CROSS JOIN params
  WHERE b.copy_rank = 1
),
sides AS (
  SELECT
    *,
    CASE
      WHEN abs(sma_short - sma_long) <= 1e-9 * abs(sma_long) THEN 0
      ELSE sign(sma_short - sma_long)
    END AS side
  FROM averages
),
marked AS (
  SELECT
    *,
    last_value(nullif(side, 0)) IGNORE NULLS OVER (
      PARTITION BY symbol, market ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS previous_side
  FROM sides
)
SELECT
  symbol,
  market,
  ts,
  close,
  sma_short,
  sma_long,
  CASE
    WHEN side = 1 AND previous_side = -1 THEN 'golden_cross'
    WHEN side = -1 AND previous_side = 1 THEN 'death_cross'
  END AS crossover
FROM marked
ORDER BY symbol, market, ts
