-- ranked_quotes: the SELECT ... FROM of a `ranked` CTE over the archive. Each row keeps its columns plus
-- copy_rank, 1 for the copy of (symbol, market, interval, ts) with the newest fetched_at (the archive is
-- at-least-once). The including query follows it with its own WHERE (its scope, then `@include valid_quote`,
-- so invalid copies are dropped before ranking) and reads the bars with `WHERE copy_rank = 1`.
SELECT
  q.*,
  row_number() OVER (PARTITION BY q.symbol, q.market, q."interval", q.ts ORDER BY q.fetched_at DESC) AS copy_rank
FROM quotes AS q
CROSS JOIN params
