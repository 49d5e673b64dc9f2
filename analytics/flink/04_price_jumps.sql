-- title: Price-jump alerts: consecutive quotes of a pair and interval whose close moved 0.5 % or more
-- Event time orders each pair's quotes; a quote reaching the stream more than 5 s behind the newest one is late and
-- skipped (intraday bars arrive after their bar closes), so live alerts come from spot snapshots.
SELECT *
FROM quotes_stream
  MATCH_RECOGNIZE (
    PARTITION BY `symbol`, `market`, `interval`
    ORDER BY `event_time`
    MEASURES
      A.`ts` AS from_ts,
      B.`ts` AS to_ts,
      A.`close` AS from_price,
      B.`close` AS to_price,
      (B.`close` - A.`close`) / A.`close` * 100 AS move_pct
    ONE ROW PER MATCH
    AFTER MATCH SKIP TO LAST B
    PATTERN (A B)
    DEFINE
      B AS ABS(B.`close` - A.`close`) >= 0.005 * A.`close`
  )
