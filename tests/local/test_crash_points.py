"""``local.crash_points``: the crash suite's kill switches, off unless armed, firing at the Nth arrival only."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from local import crash_points
from local.checkpoints import CheckpointStore
from local.crash_points import CrashPoints, around, parse, request_point


def test_parse_reads_points_and_counts() -> None:
    assert parse("PutRecords:3, checkpoint:1") == {"PutRecords": 3, "checkpoint": 1}
    assert parse("") == {}


@pytest.mark.parametrize("spec", ["PutRecords", "PutRecords:0", "PutRecords:x", ":3"])
def test_parse_refuses_a_bad_point_naming_the_variable(spec: str) -> None:
    with pytest.raises(ValueError, match="CRYPTOSTREAM_CRASH_AT"):
        parse(spec)


def test_the_nth_arrival_kills_and_no_other() -> None:
    kills: list[str] = []
    points = CrashPoints({"BatchWriteItem": 2}, kill=lambda: kills.append("killed"))
    for name in ("BatchWriteItem", "PutRecords", None, "BatchWriteItem", "BatchWriteItem"):
        points.reached(name)
    assert kills == ["killed"]


def _environ(method: str, path: str, body: bytes, **extra: str) -> dict:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        **extra,
    }


@pytest.mark.parametrize(
    ("environ", "point"),
    [
        (_environ("POST", "/", b"{}", HTTP_X_AMZ_TARGET="Kinesis_20131202.PutRecords"), "PutRecords"),
        (_environ("POST", "/", b"{}", HTTP_X_AMZ_TARGET="DynamoDB_20120810.Query"), None),  # a read
        (_environ("PUT", "/cryptostream-archive/quotes/symbol=BTC/x.parquet", b"PAR1"), "archive"),
        (_environ("PUT", "/cryptostream-archive", b""), None),  # CreateBucket: no action name, not the archive
        (
            _environ("POST", "/", b"Action=CreateQueue&QueueName=q", CONTENT_TYPE="application/x-www-form-urlencoded"),
            "CreateQueue",
        ),
    ],
)
def test_request_points(environ: dict, point: str | None) -> None:
    body = environ["wsgi.input"].read()
    assert request_point(environ, body) == point


def test_around_is_the_app_itself_when_unarmed() -> None:
    def app(environ, start_response):  # noqa: ANN001, ANN202
        return [b""]

    assert around(app, CrashPoints({})) is app


def test_around_kills_after_the_app_answered_and_before_the_response_leaves() -> None:
    events: list[str] = []

    def app(environ, start_response):  # noqa: ANN001, ANN202 -- stands in for the journaling app
        events.append(f"journaled {json.loads(environ['wsgi.input'].read())['n']}")
        start_response("200 OK", [])
        return [b"{}"]

    wrapped = around(app, CrashPoints({"PutRecords": 2}, kill=lambda: events.append("killed")))
    for n in (1, 2):
        body = json.dumps({"n": n}).encode()
        environ = _environ("POST", "/", body, HTTP_X_AMZ_TARGET="Kinesis_20131202.PutRecords")
        wrapped(environ, lambda *_: None)
        events.append(f"answered {n}")
    assert events == ["journaled 1", "answered 1", "journaled 2", "killed", "answered 2"]


def test_a_failed_request_is_not_an_arrival() -> None:
    kills: list[str] = []

    def app(environ, start_response):  # noqa: ANN001, ANN202
        start_response("400 Bad Request", [])
        return [b"{}"]

    wrapped = around(app, CrashPoints({"PutRecords": 1}, kill=lambda: kills.append("killed")))
    wrapped(_environ("POST", "/", b"{}", HTTP_X_AMZ_TARGET="Kinesis_20131202.PutRecords"), lambda *_: None)
    assert kills == []


def test_the_checkpoint_point_leaves_the_written_file_unrenamed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    class Killed(BaseException):
        pass

    def kill() -> None:
        raise Killed

    monkeypatch.setattr(crash_points, "_POINTS", CrashPoints({"checkpoint": 2}, kill=kill))
    store = CheckpointStore(tmp_path / "checkpoints.json")
    store.put("esm", "shard-0", "5")
    with pytest.raises(Killed):
        store.put("esm", "shard-0", "9")
    assert json.loads((tmp_path / "checkpoints.json").read_text()) == {"esm": {"shard-0": "5"}}
    assert json.loads((tmp_path / "checkpoints.tmp").read_text()) == {"esm": {"shard-0": "9"}}


def test_armed_from_the_environment_the_process_dies_by_sigkill(tmp_path: Path) -> None:
    script = (
        "from pathlib import Path\n"
        "from local.checkpoints import CheckpointStore\n"
        f"store = CheckpointStore(Path({str(tmp_path / 'c.json')!r}))\n"
        "store.put('esm', 's', '1')\n"
        "print('survived', flush=True)\n"
    )
    env = {"CRYPTOSTREAM_CRASH_AT": "checkpoint:1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=Path(__file__).parents[2]
    )
    assert done.returncode == -9 and "survived" not in done.stdout


def test_the_market_clock_starts_where_the_environment_says(monkeypatch: pytest.MonkeyPatch) -> None:
    from local.market import MarketSimulator
    from local.market.server import CLOCK_ENV

    monkeypatch.setenv(CLOCK_ENV, "1795839930.5")
    assert MarketSimulator().clock.timestamp() == 1795839930.5
    monkeypatch.setenv(CLOCK_ENV, "2026-11-28T06:05:30Z")
    simulator = MarketSimulator()
    assert simulator.clock.timestamp() == 1795845930.0 and not simulator.clock.follows_wall_clock


def test_a_bad_market_clock_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from local.market import MarketSimulator
    from local.market.server import CLOCK_ENV

    monkeypatch.setenv(CLOCK_ENV, "yesterday")
    with pytest.raises(ValueError, match="CRYPTOSTREAM_MARKET_CLOCK='yesterday'"):
        MarketSimulator()
