"""The pinned CDK CLI (package.json), run against the emulator exactly as a user runs it against AWS."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

CDK = ("npx", "--no-install", "cdk")
# Not infra.assets.REPO_ROOT: importing infra.assets starts jsii (seconds, and a Node banner).
REPO_ROOT = Path(__file__).resolve().parents[2]
# A resource the emulator never completes must fail the proof, not hang CI (a deploy takes ~10-15 s).
COMMAND_TIMEOUT_SECONDS = 300


class CdkError(RuntimeError):
    """A CDK CLI command failed; one line naming the command and its log."""


@dataclass(frozen=True)
class CdkResult:
    seconds: float
    outputs: dict[str, str]


class CdkCli:
    def __init__(self, environment: dict[str, str], context_args: list[str], workdir: Path) -> None:
        self._environment = {
            **os.environ,
            **environment,
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "AWS_EC2_METADATA_DISABLED": "true",
            "CDK_DISABLE_VERSION_CHECK": "true",
        }
        self._context_args = context_args
        self._workdir = workdir
        # Its own cloud assembly: never clobbers the user's cdk.out.
        self._output = workdir / "cdk.out"
        if not (REPO_ROOT / "node_modules" / ".bin" / "cdk").exists():
            raise CdkError("the pinned CDK CLI is not installed: run `make node_modules` (npm ci)")

    def _run(self, name: str, arguments: list[str]) -> float:
        log_path = self._workdir / f"cdk-{name}.log"
        started = time.monotonic()
        with log_path.open("wb") as log:
            try:
                result = subprocess.run(
                    [*CDK, *arguments], cwd=REPO_ROOT, env=self._environment, stdout=log, stderr=subprocess.STDOUT,
                    check=False, timeout=COMMAND_TIMEOUT_SECONDS,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                raise CdkError(f"cdk {name} did not finish in {COMMAND_TIMEOUT_SECONDS} s — see {log_path}") from None
        seconds = time.monotonic() - started
        if result.returncode != 0:
            tail = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()][-1:]
            raise CdkError(f"cdk {name} failed (exit {result.returncode}): {''.join(tail)[:200]} — see {log_path}")
        return seconds

    def bootstrap(self, account: str, region: str) -> float:
        return self._run("bootstrap", ["bootstrap", f"aws://{account}/{region}", "--output", str(self._output),
                                       *self._context_args])  # fmt: skip

    def deploy(self, name: str = "deploy") -> CdkResult:
        outputs_file = self._workdir / f"outputs-{name}.json"
        seconds = self._run(
            name,
            ["deploy", "--require-approval", "never", "--output", str(self._output), "--outputs-file",
             str(outputs_file), *self._context_args],
        )  # fmt: skip
        outputs = json.loads(outputs_file.read_text())
        return CdkResult(seconds, next(iter(outputs.values())) if outputs else {})

    def destroy(self) -> float:
        return self._run("destroy", ["destroy", "--force", "--output", str(self._output), *self._context_args])
