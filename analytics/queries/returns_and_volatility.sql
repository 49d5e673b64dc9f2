-- returns_and_volatility: log returns and rolling realised volatility per pair.
-- Answers: for each bar, the log return ln(close / previous close), the sample standard deviation of the last
--   window_bars log returns (rolling realised volatility per bar; NULL until the window is full) and that
--   volatility annualised for a market trading 24/7: times sqrt(seconds per 365-day year / bar seconds).
--   Each (symbol, market, interval, ts) counts once: the copy with the newest fetched_at. Windows start at start_date.
--   Rows that break the record model (the archive keeps whatever the stream carried, poison included) are left
--   out; data_quality counts them.
-- @param pair: 'ALL' or one pair such as 'BTC-USD'
-- @param source_interval: bar interval ('1min' ... '60min' or '1d')
-- @param window_bars: returns per rolling window
-- @param start_date: first UTC date, inclusive
-- @param end_date: last UTC date, inclusive
-- @tables: quotes
WITH params AS (
  SELECT
    'ALL' AS pair, '5min' AS source_interval, 20 AS window_bars,
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
returns AS (
  SELECT
    symbol,
    market,
    "interval",
    ts,
    close,
    ln(close / lag(close) OVER (PARTITION BY symbol, market ORDER BY ts)) AS log_return
  FROM ranked
  WHERE copy_rank = 1
),
rolling AS (
  SELECT
    r.symbol,
    r.market,
    r."interval",
    r.ts,
    r.close,
    r.log_return,
    CASE
      WHEN count(r.log_return) OVER (
        PARTITION BY r.symbol, r.market ORDER BY r.ts ROWS BETWEEN params.window_bars - 1 PRECEDING AND CURRENT ROW
      ) = params.window_bars
      THEN stddev_samp(r.log_return) OVER (
        PARTITION BY r.symbol, r.market ORDER BY r.ts ROWS BETWEEN params.window_bars - 1 PRECEDING AND CURRENT ROW
      )
    END AS rolling_volatility
  FROM returns AS r
  CROSS JOIN params
)
SELECT
  symbol,
  market,
  ts,
  close,
  log_return,
  rolling_volatility,
  rolling_volatility * sqrt(CAST(31536000 AS double) / CASE "interval"
    WHEN '1min' THEN 60 WHEN '5min' THEN 300 WHEN '15min' THEN 900 WHEN '30min' THEN 1800
    WHEN '60min' THEN 3600 WHEN '1d' THEN 86400 END) AS annualised_volatility
FROM rolling
ORDER BY symbol, market, ts
