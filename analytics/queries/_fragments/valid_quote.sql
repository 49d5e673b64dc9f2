-- valid_quote: AND-conditions keeping only archive rows `q` that satisfy the record model's price rules
-- (finite numbers, 0 < low <= open, close <= high, volume >= 0). The archive keeps whatever the stream carried,
-- poison the consumer quarantined included; data_quality counts those rows with the same rules.
AND is_finite(q.open) AND is_finite(q.high) AND is_finite(q.low) AND is_finite(q.close) AND is_finite(q.volume)
AND q.low > 0 AND q.high >= q.low AND q.volume >= 0
AND q.open BETWEEN q.low AND q.high AND q.close BETWEEN q.low AND q.high
