-- valid_quote: AND-conditions keeping only archive rows `q` that satisfy the record model's price rules
-- (finite numbers, 0 < low <= open, close <= high, volume >= 0). The archive keeps whatever the stream carried,
-- poison the consumer quarantined included; data_quality counts those rows with the same rules.
-- Finite is a range check, not is_finite (Trino's name; DuckDB's is isfinite, and Athena's SQL must run unchanged
-- on DuckDB in the emulator): NaN fails it on both engines (Trino: any comparison with NaN is false; DuckDB: NaN
-- sorts above every number), and so do both infinities.
AND q.open BETWEEN -1.7976931348623157E308 AND 1.7976931348623157E308
AND q.high BETWEEN -1.7976931348623157E308 AND 1.7976931348623157E308
AND q.low BETWEEN -1.7976931348623157E308 AND 1.7976931348623157E308
AND q.close BETWEEN -1.7976931348623157E308 AND 1.7976931348623157E308
AND q.volume BETWEEN -1.7976931348623157E308 AND 1.7976931348623157E308
AND q.low > 0 AND q.high >= q.low AND q.volume >= 0
AND q.open BETWEEN q.low AND q.high AND q.close BETWEEN q.low AND q.high
