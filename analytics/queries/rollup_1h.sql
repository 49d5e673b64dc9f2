-- rollup_1h: hourly OHLCV per pair, rolled up from intraday bars of one interval.
-- Answers: for each pair and UTC hour, open (first bar's open by time), high, low, close (last bar's close),
--   volume (sum) and the number of source bars. The archive is at-least-once: each (symbol, market, interval, ts)
--   is counted once, the copy with the newest fetched_at. Rows filed under a dt partition other than their ts date
--   are left out (data_quality counts them): each bucket then comes from its own partition only, which is what
--   lets `cryptostream rollup` rebuild just the partitions that received new objects.
--   Rows that break the record model (the archive keeps whatever the stream carried, poison included) are left
--   out; data_quality counts them.
-- @param pair: 'ALL' or one pair such as 'BTC-USD'
-- @param source_interval: the intraday interval rolled up ('1min' ... '60min'); one interval, so volume is not counted twice
-- @param start_date: first UTC date, inclusive
-- @param end_date: last UTC date, inclusive
-- @tables: quotes
WITH params AS (
  SELECT 'ALL' AS pair, '5min' AS source_interval, DATE '1970-01-01' AS start_date, DATE '9999-12-31' AS end_date
),
ranked AS (
  SELECT
    q.*,
    row_number() OVER (PARTITION BY q.symbol, q.market, q."interval", q.ts ORDER BY q.fetched_at DESC) AS copy_rank
  FROM quotes AS q
  CROSS JOIN params
  WHERE q."interval" = params.source_interval
    AND is_finite(q.open) AND is_finite(q.high) AND is_finite(q.low) AND is_finite(q.close) AND is_finite(q.volume)
    AND q.low > 0 AND q.high >= q.low AND q.volume >= 0
    AND q.open BETWEEN q.low AND q.high AND q.close BETWEEN q.low AND q.high
    AND q.dt BETWEEN date_format(params.start_date, '%Y-%m-%d') AND date_format(params.end_date, '%Y-%m-%d')
    AND q.dt = date_format(q.ts, '%Y-%m-%d')
    AND (params.pair = 'ALL'
      OR (q.symbol = split_part(upper(params.pair), '-', 1) AND q.market = split_part(upper(params.pair), '-', 2)))
)
SELECT
  symbol,
  market,
  date_trunc('hour', ts) AS bucket,
  min_by(open, ts) AS open,
  max(high) AS high,
  min(low) AS low,
  max_by(close, ts) AS close,
  sum(volume ORDER BY ts) AS volume,  -- summed in time order: the same bits however the rows were read
  count(*) AS bars
FROM ranked
WHERE copy_rank = 1
GROUP BY symbol, market, date_trunc('hour', ts)
ORDER BY symbol, market, bucket
