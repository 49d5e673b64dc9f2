"""MiniStack, the independent AWS emulator the real CDK app is deployed into: started, probed, stopped.

It runs from its own virtualenv (``.venv-ministack``, made by ``make test-deployed``), bound to
127.0.0.1 only, on a free port, with its IAM enforcement on (``AUTH=true``) unless asked otherwise.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

LAUNCHER = Path(__file__).with_name("ministack_launcher.py")  # MiniStack with its SQS batch actions as AWS's
ACCOUNT_ID = "000000000000"  # MiniStack's account
REGION = "us-east-1"
# MiniStack treats these as the account's root: the operator (CDK CLI, this harness), never a function.
ROOT_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


class EmulatorError(RuntimeError):
    """MiniStack could not be started or did not answer; one line."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 only, made for this run (never MiniStack's cached one in /tmp)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "server.crt", directory / "server.key"
    command = [
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
        "-days", "2", "-subj", "/CN=127.0.0.1/O=cryptostream deployed-app proof",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ]  # fmt: skip
    try:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise EmulatorError(f"openssl could not make the emulator's certificate: {exc}") from None
    return cert, key


class MiniStack:
    """MiniStack over TLS, because the stack's buckets and queues refuse plain HTTP (``aws:SecureTransport``)."""

    def __init__(self, python: Path, *, workdir: Path, auth: bool = True, port: int | None = None) -> None:
        self.python = python  # the emulator's own virtualenv
        self.workdir = workdir
        self.auth = auth
        self.port = port or free_port()
        self.endpoint = f"https://127.0.0.1:{self.port}"
        self.log_path = workdir / "ministack.log"
        self.certificate: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> str:
        if not self.python.exists():
            raise EmulatorError(f"{self.python} not found: run `make test-deployed` (it installs MiniStack)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.certificate, key = self_signed_certificate(self.workdir / "tls")
        environment = {
            **os.environ,
            "GATEWAY_PORT": str(self.port),
            "BIND_HOST": "127.0.0.1",  # its default is 0.0.0.0: never expose the emulator
            "AUTH": "true" if self.auth else "false",
            "LOG_LEVEL": "INFO",
            "USE_SSL": "1",
            "MINISTACK_SSL_CERT": str(self.certificate),
            "MINISTACK_SSL_KEY": str(key),
        }
        # The emulator and its function subprocesses must not inherit an endpoint, credentials or CA bundle of
        # ours: MiniStack only fills in its own bundle (system roots + its certificate) where none is set.
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
                     "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"):  # fmt: skip
            environment.pop(name, None)
        log = self.log_path.open("wb")
        # Own process group: stop() ends MiniStack and every function worker it spawned.
        self._process = subprocess.Popen(
            [str(self.python), str(LAUNCHER)], cwd=self.workdir, env=environment, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmulatorError(f"MiniStack exited with {self._process.returncode}; see {self.log_path}")
            if self.healthy():
                return self.endpoint
            time.sleep(0.2)
        self.stop()
        raise EmulatorError(f"MiniStack did not answer on {self.endpoint} within {timeout:.0f} s; see {self.log_path}")

    def healthy(self) -> bool:
        context = ssl.create_default_context(cafile=str(self.certificate))
        try:
            with urllib.request.urlopen(f"{self.endpoint}/_ministack/health", timeout=2, context=context) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self._process is None:
            return
        try:
            os.killpg(self._process.pid, signal.SIGTERM)
            self._process.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)
        self._process = None

    def client_environment(self) -> dict[str, str]:
        """What the CDK CLI and boto3 need to reach the emulator as its root user."""
        return {
            **ROOT_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "CDK_DEFAULT_ACCOUNT": ACCOUNT_ID,
            "CDK_DEFAULT_REGION": REGION,
            # The AWS SDKs (boto3 here, the CDK CLI's JavaScript SDK) trust the emulator's certificate.
            "AWS_CA_BUNDLE": str(self.certificate),
            "NODE_EXTRA_CA_CERTS": str(self.certificate),
        }
