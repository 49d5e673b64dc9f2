"""Start-up time of the embedded stack against journal length, with and without compaction, and the
cost of the journal's fsync per state-changing request.

``python -m bench.journal_startup [--records 10000 100000]``. The journal is written directly in its
on-disk format (``local.wal``) from a captured real ``PutItem`` request, varied per record, so a
long history costs seconds to build instead of hours of requests; replay then runs it through moto
exactly as a restart does. Two histories: *overwrites* (every record writes one of 10,000 keys, as
watermarks, LATEST items and leases do: the state stays small while history grows) and *appends*
(every record a new key: the state grows with history, as the bar history does).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local import wal
from local.journal import COMPACT_EVERY_RECORDS, JOURNAL_FILE, SNAPSHOT_FILE, _decode, _encode
from local.moto_server import EmbeddedMotoServer

KEYS = 10_000
NO_COMPACTION = {"compact_every_records": 10**12, "compact_every_bytes": 10**15}


def _ddb(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(retries={"max_attempts": 1}),
    )


def _create_table(ddb: Any) -> None:
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _templates(directory: Path) -> list[bytes]:
    """The journal of a real CreateTable + PutItem, to copy the PutItem's shape from."""
    server = EmbeddedMotoServer(directory, **NO_COMPACTION)
    ddb = _ddb(server.start())
    _create_table(ddb)
    ddb.put_item(TableName="t", Item={"pk": {"S": "k0"}, "v": {"N": "0"}})
    payloads = [payload for _, payload in wal.read_records(directory / JOURNAL_FILE)]
    server._app = None  # leave the journal as it is (no snapshot)
    server.stop()
    return payloads


def _put(meta: dict[str, Any], seq: int, key: str, value: int) -> bytes:
    item = {"pk": {"S": key}, "v": {"N": str(value)}, "p": {"S": "x" * 100}}
    body = json.dumps({"TableName": "t", "Item": item}).encode()
    return wal.encode(_encode({**meta, "seq": seq}, body)) + wal.encode(_encode({"k": "out", "seq": seq, "s": 200}))


def write_history(directory: Path, records: int, *, distinct_keys: int) -> dict[str, Any]:
    """A journal of CreateTable then ``records`` PutItems (request + outcome records); returns the
    PutItem's captured metadata for appending more."""
    directory.mkdir(parents=True, exist_ok=True)
    create_req, create_out, put_req, _ = _templates(directory)
    meta, _ = _decode(put_req)
    with (directory / JOURNAL_FILE).open("wb") as file:
        file.write(wal.encode(create_req) + wal.encode(create_out))
        chunk = []
        for i in range(records):
            chunk.append(_put(meta, i + 3, f"k{i % distinct_keys}", i))
            if len(chunk) >= 10_000:
                file.write(b"".join(chunk))
                chunk.clear()
        file.write(b"".join(chunk))
    (directory / SNAPSHOT_FILE).unlink(missing_ok=True)
    return meta


def _start(directory: Path) -> dict[str, float]:
    started = time.perf_counter()
    server = EmbeddedMotoServer(directory, **NO_COMPACTION)
    server.start()
    total = time.perf_counter() - started
    timings = dict(server.journal.timings) if server.journal else {}
    server._app = None  # measure start-up only; the snapshot (if any) was written by recover()
    server.stop()
    return {"total_s": round(total, 2), **{f"{k}_s": round(v, 2) for k, v in timings.items()}}


def startup(records: int, *, distinct_keys: int, tail: int = COMPACT_EVERY_RECORDS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cs-journal-bench-") as tmp:
        directory = Path(tmp)
        meta = write_history(directory, records, distinct_keys=distinct_keys)
        size = (directory / JOURNAL_FILE).stat().st_size
        replay_all = _start(directory)  # no snapshot: replays every record (then compacts, as a start does)
        snapshot_only = _start(directory)  # from the snapshot the first start wrote
        snapshot_mb = (directory / SNAPSHOT_FILE).stat().st_size / 1e6
        # the worst case with compaction on: the snapshot plus a whole compaction interval of tail
        with (directory / JOURNAL_FILE).open("wb") as file:
            file.write(b"".join(_put(meta, records + 3 + i, f"tail{i}", i) for i in range(tail)))
        worst = _start(directory)
        return {
            "records": records,
            "distinct_keys": min(records, distinct_keys),
            "journal_mb": round(size / 1e6, 1),
            "snapshot_mb": round(snapshot_mb, 1),
            "replay_all": replay_all,
            "snapshot_only": snapshot_only,
            "snapshot_plus_tail": {**worst, "tail_records": tail},
        }


def fsync_cost(requests: int = 300) -> dict[str, Any]:
    """Median PutItem latency without a journal, with the journal (one fsync each), and a bare fsync."""
    latencies: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="cs-fsync-bench-") as tmp:
        for label, directory in (("in_memory", None), ("journaled", Path(tmp) / "home")):
            server = EmbeddedMotoServer(directory, **NO_COMPACTION)
            ddb = _ddb(server.start())
            _create_table(ddb)
            samples = []
            for i in range(requests):
                started = time.perf_counter()
                ddb.put_item(TableName="t", Item={"pk": {"S": f"k{i}"}, "v": {"N": str(i)}})
                samples.append(time.perf_counter() - started)
            latencies[label] = statistics.median(samples) * 1000
            server.stop()
        fd = os.open(Path(tmp) / "bare", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        samples = []
        for _ in range(requests):
            started = time.perf_counter()
            os.write(fd, b"x" * 300)
            os.fsync(fd)
            samples.append(time.perf_counter() - started)
        os.close(fd)
    return {
        "requests": requests,
        "put_item_ms_in_memory": round(latencies["in_memory"], 2),
        "put_item_ms_journaled": round(latencies["journaled"], 2),
        "journal_cost_ms": round(latencies["journaled"] - latencies["in_memory"], 2),
        "bare_append_fsync_ms": round(statistics.median(samples) * 1000, 2),
    }


def bench_journal(records: tuple[int, ...] = (2_000, 20_000), fsync_requests: int = 300) -> dict[str, Any]:
    runs = []
    for count in records:
        runs.append({"history": "overwrites", **startup(count, distinct_keys=KEYS)})
        runs.append({"history": "appends", **startup(count, distinct_keys=count)})
    longest = [run for run in runs if run["records"] == max(records)]
    per_record_ms = statistics.median(run["replay_all"]["replay_s"] / run["records"] * 1000 for run in longest)
    return {
        "startup": runs,
        "replay_ms_per_record": round(per_record_ms, 2),
        "one_million_replay_all_s": round(per_record_ms * 1000, 0),  # 1M records x ms per record / 1000
        "overwrites_snapshot_s": next(r["snapshot_only"]["total_s"] for r in longest if r["history"] == "overwrites"),
        "fsync": fsync_cost(fsync_requests),
        "compact_every_records": COMPACT_EVERY_RECORDS,
    }


def render(r: dict[str, Any], command: str = ".venv/bin/python -m bench journal") -> str:
    rows = []
    for run in r["startup"]:
        rows.append(
            f"| {run['records']:,} | {run['history']} ({run['distinct_keys']:,} keys) | {run['journal_mb']} MB | "
            f"{run['replay_all']['replay_s']} s (+{run['replay_all'].get('compact_s', 0)} s compaction) | "
            f"{run['snapshot_only']['total_s']} s ({run['snapshot_mb']} MB) | "
            f"{run['snapshot_plus_tail']['total_s']} s |"
        )
    f = r["fsync"]
    million = (
        "**1,000,000 journaled requests** (the equivalent, from the measured replay rate of "
        f"{r['replay_ms_per_record']} ms per request): about **{r['one_million_replay_all_s']:,.0f} s** to start "
        "without compaction. With it, a start loads the snapshot of the *state* plus at most "
        f"{r['compact_every_records']:,} requests of tail, whatever the history's length: for a history of "
        f"overwrites (watermarks, LATEST, leases) that is the {r['overwrites_snapshot_s']} s measured above "
        "plus the tail; for appends it grows with the data kept, not with the requests made."
    )
    return "\n\n".join(
        [
            "## Local stack: start-up against journal length, and the journal's cost per request",
            f"Command: `{command}` (`bench/journal_startup.py`). A journal of N `PutItem` requests is written in "
            "its on-disk format and started from, as a restart after kill -9 does: *replay all* is start-up "
            "without compaction (every record through moto); *snapshot* is start-up after compaction (one "
            "unpickle; what a clean stop leaves); *snapshot + tail* adds the worst tail a crash can leave "
            f"({r['compact_every_records']:,} requests, the compaction interval). *Overwrites* rewrite 10,000 keys "
            "(state stays small while history grows); *appends* write a new key each (state grows with history). "
            "Replay costs one moto request each (~4-5 ms here); the first start after a crash also writes the "
            "snapshot (compaction) so the next one does not replay again.",
            "| journaled requests | history | journal | replay all (no compaction) | snapshot | snapshot + tail |\n"
            "|---|---|---|---|---|---|\n" + "\n".join(rows),
            million,
            "| per state-changing request (median of "
            f"{f['requests']} `PutItem`) | ms |\n|---|---|\n"
            f"| in memory (no journal) | {f['put_item_ms_in_memory']} |\n"
            f"| journaled (record written + fsynced before moto applies it) | {f['put_item_ms_journaled']} |\n"
            f"| journal cost | {f['journal_cost_ms']} |\n"
            f"| bare 300-byte append + fsync on this disk | {f['bare_append_fsync_ms']} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.journal_startup")
    parser.add_argument("--records", type=int, nargs="+", default=[2_000, 20_000])
    args = parser.parse_args()
    result = bench_journal(tuple(args.records))
    print(json.dumps(result))
    print(render(result, "python -m bench.journal_startup --records " + " ".join(map(str, args.records))))


if __name__ == "__main__":
    main()
