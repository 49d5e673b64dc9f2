-- data_quality: completeness and hygiene of the archive per pair and interval.
-- Answers: raw rows, distinct bars (symbol, market, interval, ts), duplicate rows (at-least-once redeliveries),
--   rows that break the record model (missing or non-finite numbers, non-positive prices, negative volume,
--   high < low, open or close outside [low, high]: the archive keeps poison the consumer quarantined), rows filed
--   under the wrong dt partition, first and last bar, gaps (consecutive bars further apart than one interval;
--   not counted for 'spot', which has no fixed cadence) and the bars missing in them, seconds since the last bar
--   at as_of, and stale = no bar for longer than max(stale_after_seconds, two intervals).
-- @param pair: 'ALL' or one pair such as 'BTC-USD'
-- @param start_date: first UTC date, inclusive
-- @param end_date: last UTC date, inclusive
-- @param as_of: the moment staleness is judged at; NULL means now (UTC)
-- @param stale_after_seconds: silence tolerated before a pair counts as stale
-- @tables: quotes
WITH params AS (
  SELECT
    'ALL' AS pair, DATE '1970-01-01' AS start_date, DATE '9999-12-31' AS end_date,
    CAST(NULL AS timestamp) AS as_of, 1800 AS stale_after_seconds
),
scoped AS (
  SELECT
    q.*,
    CASE q."interval"
      WHEN '1min' THEN 60 WHEN '5min' THEN 300 WHEN '15min' THEN 900 WHEN '30min' THEN 1800
      WHEN '60min' THEN 3600 WHEN '1d' THEN 86400 ELSE 0
    END AS interval_seconds
  FROM quotes AS q
  CROSS JOIN params
  WHERE q.dt BETWEEN date_format(params.start_date, '%Y-%m-%d') AND date_format(params.end_date, '%Y-%m-%d')
    AND (params.pair = 'ALL'
      OR (q.symbol = split_part(upper(params.pair), '-', 1) AND q.market = split_part(upper(params.pair), '-', 2)))
),
row_counts AS (
  SELECT
    symbol,
    market,
    "interval",
    count(*) AS row_count,
    count(DISTINCT ts) AS bars,
    count_if(NOT coalesce(is_finite(open) AND is_finite(high) AND is_finite(low) AND is_finite(close)
      AND is_finite(volume) AND low > 0 AND high >= low AND volume >= 0
      AND open BETWEEN low AND high AND close BETWEEN low AND high, false)) AS invalid_rows,
    count_if(dt <> date_format(ts, '%Y-%m-%d')) AS misfiled_rows,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    max(interval_seconds) AS interval_seconds
  FROM scoped
  GROUP BY symbol, market, "interval"
),
steps AS (
  SELECT
    symbol,
    market,
    "interval",
    interval_seconds,
    date_diff('second', lag(ts) OVER (PARTITION BY symbol, market, "interval" ORDER BY ts), ts) AS step_seconds
  FROM (SELECT DISTINCT symbol, market, "interval", interval_seconds, ts FROM scoped) AS distinct_bars
),
gap_counts AS (
  SELECT
    symbol,
    market,
    "interval",
    count_if(interval_seconds > 0 AND step_seconds > interval_seconds) AS gaps,
    coalesce(sum(CASE WHEN interval_seconds > 0 AND step_seconds > interval_seconds
      THEN CAST(floor(CAST(step_seconds AS double) / interval_seconds) AS bigint) - 1 END), 0) AS missing_bars
  FROM steps
  GROUP BY symbol, market, "interval"
),
judged AS (
  SELECT
    r.*,
    g.gaps,
    g.missing_bars,
    date_diff('second', r.last_ts,
      coalesce(params.as_of, CAST(current_timestamp AT TIME ZONE 'UTC' AS timestamp))) AS seconds_since_last,
    greatest(params.stale_after_seconds, 2 * r.interval_seconds) AS stale_after
  FROM row_counts AS r
  JOIN gap_counts AS g ON g.symbol = r.symbol AND g.market = r.market AND g."interval" = r."interval"
  CROSS JOIN params
)
SELECT
  symbol,
  market,
  "interval",
  row_count AS rows,
  bars,
  row_count - bars AS duplicate_rows,
  invalid_rows,
  misfiled_rows,
  first_ts,
  last_ts,
  gaps,
  missing_bars,
  seconds_since_last,
  seconds_since_last > stale_after AS stale
FROM judged
ORDER BY symbol, market, "interval"
