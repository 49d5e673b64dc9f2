-- moving_averages: short and long simple moving averages of the close per pair, with crossovers.
-- Answers: for each bar, the mean close of the last short_window and long_window bars (NULL until the window is
--   full) and the crossover it completes: 'golden_cross' when the short average moves from at or below the long
--   one to above it, 'death_cross' when it moves from at or above to below. Each (symbol, market, interval, ts)
--   counts once: the copy with the newest fetched_at. Windows start at start_date.
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
  SELECT
    q.*,
    row_number() OVER (PARTITION BY q.symbol, q.market, q."interval", q.ts ORDER BY q.fetched_at DESC) AS copy_rank
  FROM quotes AS q
  CROSS JOIN params
  WHERE q."interval" = params.source_interval
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
spreads AS (
  SELECT
    *,
    sma_short - sma_long AS gap,
    lag(sma_short - sma_long) OVER (PARTITION BY symbol, market ORDER BY ts) AS previous_gap
  FROM averages
)
SELECT
  symbol,
  market,
  ts,
  close,
  sma_short,
  sma_long,
  CASE
    WHEN previous_gap <= 0 AND gap > 0 THEN 'golden_cross'
    WHEN previous_gap >= 0 AND gap < 0 THEN 'death_cross'
  END AS crossover
FROM spreads
ORDER BY symbol, market, ts
