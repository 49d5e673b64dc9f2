-- latest: the latest quote of every pair and interval, from the serving table (DynamoDB through the connector).
-- Answers: the LATEST item of each partition (sk = 'LATEST'): bar time, OHLCV, bid/ask and spread in basis points
--   of the mid price when the quote carries both sides, and when it was fetched.
-- @param pair: 'ALL' or one pair such as 'BTC-USD'
-- @param quote_interval: 'ALL' or one interval such as '5min' or 'spot'
-- @tables: serving
WITH params AS (
  SELECT 'ALL' AS pair, 'ALL' AS quote_interval
)
SELECT
  s.symbol,
  s.market,
  s."interval",
  s.ts,
  CAST(s.open AS double) AS open,
  CAST(s.high AS double) AS high,
  CAST(s.low AS double) AS low,
  CAST(s.close AS double) AS close,
  CAST(s.volume AS double) AS volume,
  CAST(s.bid AS double) AS bid,
  CAST(s.ask AS double) AS ask,
  CAST(s.ask - s.bid AS double) / (CAST(s.ask + s.bid AS double) / 2) * 10000 AS spread_bps,
  s.fetched_at
FROM serving AS s
CROSS JOIN params
WHERE s.sk = 'LATEST'
  AND (params.pair = 'ALL' OR s.symbol || '-' || s.market = upper(params.pair))
  AND (params.quote_interval = 'ALL' OR s."interval" = params.quote_interval)
ORDER BY s.symbol, s.market, s."interval"
