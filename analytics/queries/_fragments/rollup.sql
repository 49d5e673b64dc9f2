-- rollup: OHLCV per pair per {{unit}} bucket from valid, deduplicated bars of one intraday interval; the
-- statement of rollup_1h (unit=hour) and rollup_1d (unit=day), whose files hold the header and parameter docs.
-- Portable: its Athena rendering runs unchanged on Trino and on DuckDB (the emulator's Athena hands the text to
-- DuckDB), so only functions both engines share with the same results (a dt string by CASTs, not date_format).
WITH params AS (
  SELECT 'ALL' AS pair, '5min' AS source_interval, DATE '1970-01-01' AS start_date, DATE '9999-12-31' AS end_date
),
ranked AS (
  -- @include ranked_quotes
  WHERE q."interval" = params.source_interval
    -- @include valid_quote
    AND q.dt BETWEEN CAST(params.start_date AS VARCHAR) AND CAST(params.end_date AS VARCHAR)
    AND q.dt = CAST(CAST(q.ts AS DATE) AS VARCHAR)
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
