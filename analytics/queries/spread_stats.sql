-- spread_stats: bid/ask spread statistics per pair and UTC day, from spot snapshots.
-- Answers: number of snapshots with both sides quoted, mean absolute spread (ask - bid) and, in basis points of
--   the mid price, its mean, minimum, maximum and approximate median and 95th percentile (approx_percentile).
--   Each (symbol, market, interval, ts) counts once: the copy with the newest fetched_at.
--   Rows that break the record model (the archive keeps whatever the stream carried, poison included) are left
--   out; data_quality counts them.
-- @param pair: 'ALL' or one pair such as 'BTC-USD'
-- @param start_date: first UTC date, inclusive
-- @param end_date: last UTC date, inclusive
-- @tables: quotes
WITH params AS (
  SELECT 'ALL' AS pair, DATE '1970-01-01' AS start_date, DATE '9999-12-31' AS end_date
),
ranked AS (
  -- @include ranked_quotes
  WHERE q."interval" = 'spot'
    -- @include valid_quote
    AND q.dt BETWEEN date_format(params.start_date, '%Y-%m-%d') AND date_format(params.end_date, '%Y-%m-%d')
    AND (params.pair = 'ALL'
      OR (q.symbol = split_part(upper(params.pair), '-', 1) AND q.market = split_part(upper(params.pair), '-', 2)))
),
spreads AS (
  SELECT
    symbol,
    market,
    CAST(date_trunc('day', ts) AS date) AS day,
    ask - bid AS spread,
    (ask - bid) / ((ask + bid) / 2) * 10000 AS spread_bps
  FROM ranked
  WHERE copy_rank = 1 AND bid > 0 AND ask >= bid AND is_finite(bid) AND is_finite(ask)
)
SELECT
  symbol,
  market,
  day,
  count(*) AS snapshots,
  avg(spread) AS mean_spread,
  avg(spread_bps) AS mean_spread_bps,
  min(spread_bps) AS min_spread_bps,
  max(spread_bps) AS max_spread_bps,
  approx_percentile(spread_bps, 0.5) AS p50_spread_bps,
  approx_percentile(spread_bps, 0.95) AS p95_spread_bps
FROM spreads
GROUP BY symbol, market, day
ORDER BY symbol, market, day
