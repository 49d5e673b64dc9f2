"""Where an on-demand Kinesis stream starts to pay: the break-even against provisioned shards.

On-demand bills a stream-hour plus every record (rounded up to 1 KB) in and out per reader; provisioned bills
shard-hours plus one 25 KB PUT payload unit per record. A provisioned stream needs enough shards for the
peak (1,000 records/s or 1 MiB/s each). While that is fewer shards than one stream-hour buys (2 in us-east-1),
provisioned is always cheaper. From ``s`` shards on, on-demand is cheaper only until its per-record charges
catch up with the shard-hours it saves: below (s x shard-hour - stream-hour) x hours / (per-record on-demand -
per-record provisioned) records a month.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tools.cost.prices import PriceBook
from tools.cost.workload import Assumptions

GIB = 1024**3


@dataclass(frozen=True, slots=True)
class BreakEven:
    shards_on_demand_hour_buys: float  # shard-hours one on-demand stream-hour costs
    min_shards_where_on_demand_can_pay: int
    records_per_month: float  # at that shard count, on-demand is cheaper below this many records a month

    def sentence(self) -> str:
        s = self.min_shards_where_on_demand_can_pay
        return (
            f"Stream mode break-even: an on-demand stream-hour costs {self.shards_on_demand_hour_buys:.2f} "
            f"shard-hours, so a provisioned stream is cheaper whenever {s - 1} shards carry the peak "
            f"(up to {(s - 1) * 1000:,} records/s); a peak that needs {s} shards is cheaper on-demand below "
            f"{self.records_per_month / 1e6:,.0f} million records a month, provisioned above."
        )


def break_even(book: PriceBook, region: str, a: Assumptions) -> BreakEven:
    p = book.region(region)
    hours = book.rule("hours_per_month")
    stream_hour = p["kinesis.on_demand.stream_hour"].cost(1)
    shard_hour = p["kinesis.provisioned.shard_hour"].cost(1)
    billed_gb = math.ceil(a.record_bytes / book.rule("kinesis_on_demand_record_rounding_bytes")) * 1024 / GIB
    on_demand_record = billed_gb * (
        p["kinesis.on_demand.data_in_gb"].cost(1) + a.stream_readers * p["kinesis.on_demand.data_out_gb"].cost(1)
    )
    units = math.ceil(a.record_bytes / book.rule("kinesis_put_payload_unit_bytes"))
    provisioned_record = units * p["kinesis.provisioned.put_payload_unit"].cost(1)
    ratio = stream_hour / shard_hour
    shards = math.floor(ratio) + 1
    records = (shards * shard_hour - stream_hour) * hours / (on_demand_record - provisioned_record)
    return BreakEven(ratio, shards, records)
