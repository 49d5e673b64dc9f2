"""One owner per home: the lock, the trusted stack.json, and recognising a dead owner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from cli.target import TargetError, resolve
from local import owner
from local.home import STATE_FILE, HomeLock, HomeLocked, live_state, lock_holder, remove_own_state, write_state

HOLD = """
import sys, time
from pathlib import Path
from local.home import HomeLock, write_state
HomeLock(Path(sys.argv[1])).acquire()
write_state(Path(sys.argv[1]), {"endpoint": "http://127.0.0.1:1"})
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture
def other_up(tmp_path):
    """A separate process holding the home's lock, as a running `cryptostream up` does."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    yield process
    process.kill()
    process.wait()


def test_a_second_owner_is_refused_naming_the_pid(tmp_path, other_up):
    with pytest.raises(HomeLocked) as refused:
        HomeLock(tmp_path).acquire(wait_seconds=0.1)
    assert f"(pid {other_up.pid})" in str(refused.value) and "\n" not in str(refused.value)
    assert lock_holder(tmp_path) == other_up.pid
    assert live_state(tmp_path)["pid"] == other_up.pid


def test_the_lock_goes_with_a_killed_process(tmp_path, other_up):
    other_up.kill()
    other_up.wait()
    assert lock_holder(tmp_path) is None
    assert live_state(tmp_path) is None  # its stack.json is stale now
    lock = HomeLock(tmp_path)
    lock.acquire(wait_seconds=0.1)
    assert json.loads((tmp_path / "lock").read_text())["pid"] == os.getpid()
    lock.release()


def test_stopping_never_deletes_another_stacks_state_file(tmp_path, other_up):
    remove_own_state(tmp_path)
    assert json.loads((tmp_path / STATE_FILE).read_text())["pid"] == other_up.pid
    mine = tmp_path / "mine"
    mine.mkdir()
    write_state(mine, {})
    remove_own_state(mine)  # its own, though, it removes
    assert not (mine / STATE_FILE).exists()


class _Html(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = b"<html><body>someone else's server</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args: object) -> None:
        pass


def test_a_stale_state_file_whose_port_now_serves_something_else_is_not_trusted(tmp_path, monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / STATE_FILE).write_text(
            json.dumps({"endpoint": f"http://127.0.0.1:{server.server_port}", "pid": 999999999})
        )
        monkeypatch.setenv("CRYPTOSTREAM_HOME", str(tmp_path))
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        with pytest.raises(TargetError, match="no local stack is running"):
            resolve()
    finally:
        server.shutdown()


def test_identities_recognise_a_dead_process_and_leave_others_alone():
    assert not owner.is_gone(owner.identity())
    assert owner.is_gone(f"local:{owner.boot_id()}:999999999:1/run-x")
    assert owner.is_gone("local:anotherboot0:1:1/run-x")  # recorded before a reboot
    started = owner.start_ticks(os.getpid())
    assert owner.is_gone(f"local:{owner.boot_id()}:{os.getpid()}:{int(started) + 1}")  # the pid was reused
    assert not owner.is_gone("run-3f2a9c0d1b2e")  # a Lambda's run in AWS: it expires on its own
    assert owner.pid_of(owner.identity() + "/run-x") == os.getpid()
