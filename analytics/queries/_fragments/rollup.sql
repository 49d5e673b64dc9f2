-- rollup: OHLCV per pair per {{unit}} bucket from valid, deduplicated bars of one intraday interval; the
-- statement of rollup_1h (unit=hour) and rollup_1d (unit=day), whose files hold the header and parameter docs.
WITH params AS (
  SELECT 'ALL' AS pair, '5min' AS source_interval, DATE '1970-01-01' AS start_date, DATE '9999-12-31' AS end_date
),
ranked AS (
  -- @include ranked_quotes
  WHERE q."interval" = params.source_interval
    -- @include valid_quote
    AND q.dt BETWEEN date_format(params.start_date, '%Y-%m-%d') AND date_format(params.end_date, '%Y-%m-%d')
    AND q.dt = date_format(q.ts, '%Y-%m-%d')
    AND (params.pair = 'ALL'
      OR (q.symbol = split_part(upper(params.pair), '-', 1) AND q.market = split_part(upper(params.pair), '-', 2)))
)
SELECT
  symbol,
  market,
  date_trunc('{{unit}}', ts) AS bucket,
  min_by(open, ts) AS open,
  max(high) AS high,
  min(low) AS low,
  max_by(close, ts) AS close,
  sum(volume ORDER BY ts) AS volume,  -- summed in time order: the same bits however the rows were read
  count(*) AS bars
FROM ranked
WHERE copy_rank = 1
GROUP BY symbol, market, date_trunc('{{unit}}', ts)
ORDER BY symbol, market, bucket
