-- title: 1-minute OHLC per pair (tumbling windows over spot snapshots and 1min bars)
SELECT
  `symbol`,
  `market`,
  window_start,
  window_end,
  FIRST_VALUE(`open`) AS `open`,
  MAX(`high`) AS `high`,
  MIN(`low`) AS `low`,
  LAST_VALUE(`close`) AS `close`,
  SUM(`volume`) AS `volume`,
  COUNT(*) AS quotes
FROM TABLE(TUMBLE(TABLE quotes_stream, DESCRIPTOR(`event_time`), INTERVAL '1' MINUTE))
WHERE `interval` IN ('spot', '1min')
GROUP BY `symbol`, `market`, window_start, window_end
