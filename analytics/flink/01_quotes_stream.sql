-- title: The Kinesis stream as a table (JSON records, event time from ts, 5 s of allowed lateness)
CREATE TABLE IF NOT EXISTS quotes_stream (
  `v` INT,
  `source` STRING,
  `symbol` STRING,
  `market` STRING,
  `interval` STRING,
  `ts` STRING,
  `open` DOUBLE,
  `high` DOUBLE,
  `low` DOUBLE,
  `close` DOUBLE,
  `volume` DOUBLE,
  `bid` DOUBLE,
  `ask` DOUBLE,
  `fetched_at` STRING,
  `event_time` AS TO_TIMESTAMP(`ts`, 'yyyy-MM-dd''T''HH:mm:ss''Z'''),
  WATERMARK FOR `event_time` AS `event_time` - INTERVAL '5' SECOND
) WITH (
  'connector' = 'kinesis',
  'stream' = 'cryptostream-quotes',
  'aws.region' = 'us-east-1',
  'scan.stream.initpos' = 'LATEST',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601'
)
