-- Generated from analytics/queries/rollup_1h.sql by `python -m analytics.cloud_rollups`: do not edit.
-- Athena's rendering, which runs unchanged on Trino and DuckDB; rollup_workflow.queries fills the slots.
WITH ranked AS (
  SELECT
    q.*,
    ROW_NUMBER() OVER (PARTITION BY q.symbol, q.market, q."interval", q.ts ORDER BY q.fetched_at DESC) AS copy_rank
  FROM ${archive_table} AS q
  WHERE
    (
      q."interval" = ${source_interval}
      AND q.open BETWEEN -1.7976931348623157E308 AND 1.7976931348623157E308
      AND q.high BETWEEN -1.7976931348623157E308 AND 1.7976931348623157E308
      AND q.low BETWEEN -1.7976931348623157E308 AND 1.7976931348623157E308
      AND q.close BETWEEN -1.7976931348623157E308 AND 1.7976931348623157E308
      AND q.volume BETWEEN -1.7976931348623157E308 AND 1.7976931348623157E308
      AND q.low > 0
      AND q.high >= q.low
      AND q.volume >= 0
      AND q.open BETWEEN q.low AND q.high
      AND q.close BETWEEN q.low AND q.high
      AND q.dt BETWEEN CAST(CAST('1970-01-01' AS DATE) AS VARCHAR) AND CAST(CAST('9999-12-31' AS DATE) AS VARCHAR)
      AND q.dt = CAST(CAST(q.ts AS DATE) AS VARCHAR)
      AND (
        'ALL' = 'ALL'
        OR (
          q.symbol = SPLIT_PART(UPPER('ALL'), '-', 1)
          AND q.market = SPLIT_PART(UPPER('ALL'), '-', 2)
        )
      )
    )
    AND (${partitions})
)
SELECT
  symbol,
  market,
  DATE_TRUNC('HOUR', ts) AS bucket,
  MIN_BY(open, ts) AS open,
  MAX(high) AS high,
  MIN(low) AS low,
  MAX_BY(close, ts) AS close,
  SUM(volume ORDER BY ts) AS volume,
  COUNT(*) AS bars
FROM ranked
WHERE
  copy_rank = 1
GROUP BY
  symbol,
  market,
  DATE_TRUNC('HOUR', ts)
ORDER BY
  symbol,
  market,
  bucket
