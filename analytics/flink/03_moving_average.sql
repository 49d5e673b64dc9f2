-- title: 5-minute moving average of the price per pair, sliding every minute (HOP windows)
SELECT
  `symbol`,
  `market`,
  window_start,
  window_end,
  AVG(`close`) AS moving_average,
  MIN(`low`) AS `low`,
  MAX(`high`) AS `high`,
  COUNT(*) AS quotes
FROM TABLE(HOP(TABLE quotes_stream, DESCRIPTOR(`event_time`), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE))
WHERE `interval` IN ('spot', '1min')
GROUP BY `symbol`, `market`, window_start, window_end
