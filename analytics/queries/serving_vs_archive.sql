-- serving_vs_archive: federated check that the archive keeps up with the serving table.
-- Answers: for each LATEST item in DynamoDB (through the connector), the newest bar of the same pair and interval
--   in the S3 archive, how far the archive lags the serving table in seconds, and whether both hold the same
--   bar with the same close (in_sync). Pairs missing from the archive come back with NULL archive columns.
--   Archive duplicates count once: the copy with the newest fetched_at.
--   Rows that break the record model (the archive keeps whatever the stream carried, poison included) are left
--   out; data_quality counts them.
-- @param pair: 'ALL' or one pair such as 'BTC-USD'
-- @param since_date: the first archive date scanned; set a recent date to keep Athena's scan small
-- @tables: serving, quotes
WITH params AS (
  SELECT 'ALL' AS pair, DATE '1970-01-01' AS since_date
),
latest_served AS (
  SELECT
    s.symbol,
    s.market,
    s."interval",
    date_parse(s.ts, '%Y-%m-%dT%H:%i:%sZ') AS served_ts,
    CAST(s.close AS double) AS served_close
  FROM serving AS s
  CROSS JOIN params
  WHERE s.sk = 'LATEST'
    AND (params.pair = 'ALL' OR s.symbol || '-' || s.market = upper(params.pair))
),
ranked AS (
  -- @include ranked_quotes
  WHERE q.dt >= date_format(params.since_date, '%Y-%m-%d')
    -- @include valid_quote
    AND (params.pair = 'ALL'
      OR (q.symbol = split_part(upper(params.pair), '-', 1) AND q.market = split_part(upper(params.pair), '-', 2)))
),
latest_archived AS (
  SELECT symbol, market, "interval", max(ts) AS archived_ts, max_by(close, ts) AS archived_close
  FROM ranked
  WHERE copy_rank = 1
  GROUP BY symbol, market, "interval"
)
SELECT
  l.symbol,
  l.market,
  l."interval",
  l.served_ts,
  l.served_close,
  a.archived_ts,
  a.archived_close,
  date_diff('second', a.archived_ts, l.served_ts) AS archive_lag_seconds,
  coalesce(a.archived_ts = l.served_ts AND a.archived_close = l.served_close, false) AS in_sync
FROM latest_served AS l
LEFT JOIN latest_archived AS a ON a.symbol = l.symbol AND a.market = l.market AND a."interval" = l."interval"
ORDER BY l.symbol, l.market, l."interval"
