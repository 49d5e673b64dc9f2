"""Bad-input sweep of the command line: random arguments never show a user a traceback.

In-process through typer's CliRunner (exit code 0, 1 or 2; any exception is one the ``main()``
wrapper turns into one line), and through the installed ``main()`` in a subprocess for a few cases.
No stack runs and no AWS credentials exist, so commands that need a target fail fast and cleanly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import UserError, app
from cli.target import TargetError

ROOT = Path(__file__).resolve().parents[2]
DEAD_ENDPOINT = "http://127.0.0.1:9"  # the discard port: nothing listens
runner = CliRunner()

values = st.one_of(
    st.sampled_from(
        [
            "BTC-USD",
            "btc-usd",
            "BTC",
            "-USD",
            "B@D-USD",
            "1min",
            "5min",
            "7min",
            "1d",
            "spot",
            "2026-11-22T09:05:00Z",
            "2026-02-30",
            "-6h",
            "-xh",
            "yesterday",
            "0",
            "-1",
            "3",
            "1e9",
            "nan",
            "",
            "list",
            "latest_by_pair",
            "name=value",
            "=",
            "/nonexistent/archive",
            DEAD_ENDPOINT,
            "not a url",
            "ftp://x",
        ]
    ),
    st.text(max_size=12),
)
endpoints = st.sampled_from([DEAD_ENDPOINT, "not a url", "ftp://x", "http://127.0.0.1:1"])
# Mostly well-formed values per option, so the sweep reaches past argument parsing into the commands.
numbers = st.one_of(st.integers(-5, 5000).map(str), st.sampled_from(["0", "-1", "nan", "1e9", "x", ""]))
times = st.one_of(
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.sampled_from(["2026-11-22T09:05:00Z", "2026-02-30", "-6h", "-2d", "-xh", "yesterday", ""]),
)
intervals = st.sampled_from(["1min", "5min", "15min", "60min", "1d", "spot", "7min", "", "5MIN"])
OPTION_VALUES = {
    "--endpoint": endpoints,
    "--interval": intervals,
    "--source-interval": intervals,
    "--start": times,
    "--end": times,
    "--pair": st.sampled_from(["BTC-USD", "eth-eur", "BTC", "B@D-USD", ""]),
    **dict.fromkeys(
        ["--limit", "--pairs", "--steps", "--hours", "--bars", "--shards", "--seed", "--poison", "--every"], numbers
    ),
    **dict.fromkeys(
        ["--consumer-batch", "--athena-gb-per-day", "--athena-queries-per-day", "--retention-days"], numbers
    ),
    "--region": st.sampled_from(["us-east-1", "eu-west-1", "mars-north-1", ""]),
    "--param": st.sampled_from(["pair=BTC-USD", "interval=5min", "=", "novalue", "start=yesterday"]),
}
# Appended last (click keeps the last value): commands that would run for long (up, a good demo) or
# read real data (an archive of the repository or of S3) are pinned to inputs that end them early.
PINNED = {
    "up": ["--interval", "7min"],
    "demo": ["--interval", "1d"],
    "query": ["--archive", "/nonexistent/archive"],
    "rollup": ["--archive", "/nonexistent/archive"],
    "chart": ["--archive", "/nonexistent/archive"],
}


def _commands() -> dict[tuple[str, ...], list[Any]]:
    """Every leaf command of the app with its parameters, read from typer's click description."""
    found: dict[tuple[str, ...], list[Any]] = {}

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if hasattr(command, "list_commands"):  # a group (typer vendors click: no isinstance checks)
            context = type(command).context_class(command)
            for name in command.list_commands(context):
                walk(command.get_command(context, name), (*path, name))
        else:
            found[path] = list(command.params)

    walk(typer.main.get_command(app), ())
    return found


COMMANDS = _commands()


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    """A command, maybe its argument, a random subset of its own options with random values, and
    now and then an option it does not have."""
    path = draw(st.sampled_from(sorted(COMMANDS)))
    args = list(path)
    params = COMMANDS[path]
    for param in params:
        if param.param_type_name == "argument" and draw(st.integers(0, 9)):
            args.append(draw(values))
    own_options = [p for p in params if p.param_type_name == "option"]
    for param in draw(st.lists(st.sampled_from(own_options), max_size=4)) if own_options else []:
        args.append(param.opts[0])
        if not param.is_flag:
            args.append(draw(OPTION_VALUES.get(param.opts[0], values)))
    if not draw(st.integers(0, 9)):
        args += draw(st.sampled_from([["--bogus"], ["extra", "arguments"], ["--help"]]))
    return args + PINNED.get(path[0], [])


@pytest.fixture(scope="module")
def no_target(tmp_path_factory):
    """No running local stack, no credentials, no endpoint: whatever needs AWS fails at once."""
    home = tmp_path_factory.mktemp("home")
    patch = pytest.MonkeyPatch()
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        patch.delenv(name, raising=False)
    patch.setenv("CRYPTOSTREAM_HOME", str(home))
    patch.setenv("AWS_CONFIG_FILE", str(home / "none"))
    patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "none"))
    patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    patch.chdir(home)
    yield home
    patch.undo()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(command_lines())
def test_random_arguments_end_in_a_clean_exit(no_target, args):
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output)
    assert "Traceback" not in result.output, (args, result.output)
    error = result.exception
    if error is not None and not isinstance(error, SystemExit):
        # main() prints these as one line; anything else would be a bug shown as "error: KeyError: ..."
        assert isinstance(error, UserError | TargetError | ValueError), (args, repr(error))


@pytest.mark.parametrize(
    "args",
    [
        ["quote", "B@D-USD"],
        ["bars", "BTC-USD", "--start", "yesterday"],
        ["produce", "--endpoint", DEAD_ENDPOINT],
        ["cost", "--pairs", "-1", "--interval", "1min"],
        ["demo", "--interval", "7min"],
    ],
)
def test_main_prints_one_error_line_without_a_traceback(no_target, args):
    env = {k: v for k, v in os.environ.items() if k != "CRYPTOSTREAM_DEBUG"} | {"COLUMNS": "200"}
    code = "import sys; from cli.main import main; sys.argv = ['cryptostream', *sys.argv[1:]]; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=no_target, timeout=120
    )
    assert done.returncode in (1, 2), done
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines and (lines[-1].startswith("error:") or "Error" in done.stderr or "Usage" in done.stderr), done.stderr
