-- rollup_1h: hourly OHLCV per pair, read from the materialized rollup_1h table (what Athena's named query runs).
-- Answers: the rows of rollup_1h.sql (open, high, low, close, volume, bars per pair and UTC hour) as the rollups
--   state machine keeps them in AWS (JSON month objects, brought up to date from the archive partitions that
--   changed), so a dashboard scans the rollup, not the raw bars. Locally the same text reads the Parquet tables of
--   `cryptostream rollup`; `cryptostream query rollup_1h` recomputes from the archive instead.
--   `month` is the table's partition key: the month range keeps Athena to the months asked for.
-- @param pair: 'ALL' or one pair such as 'BTC-USD'
-- @param start_date: first UTC date, inclusive
-- @param end_date: last UTC date, inclusive
-- @tables: rollup_1h
WITH params AS (
  SELECT 'ALL' AS pair, DATE '1970-01-01' AS start_date, DATE '9999-12-31' AS end_date
)
SELECT r.symbol, r.market, r.bucket, r.open, r.high, r.low, r.close, r.volume, r.bars
FROM rollup_1h AS r
CROSS JOIN params
WHERE r.month BETWEEN substr(CAST(params.start_date AS VARCHAR), 1, 7) AND substr(CAST(params.end_date AS VARCHAR), 1, 7)
  AND CAST(r.bucket AS DATE) BETWEEN params.start_date AND params.end_date
  AND (params.pair = 'ALL'
    OR (r.symbol = split_part(upper(params.pair), '-', 1) AND r.market = split_part(upper(params.pair), '-', 2)))
ORDER BY r.symbol, r.market, r.bucket
