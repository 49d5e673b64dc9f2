"""Lambda code assets built without Docker: each function's package and one dependency layer.

The layer is ``pip install --no-deps --platform manylinux2014_x86_64 --only-binary=:all:`` of
``layers/requirements.txt`` (every transitive dependency pinned there) for the runtime's Python version,
plus the shared packages: ``cryptostream_model`` (the contract) and ``cryptostream_runtime`` (retries,
clients, transactions, metrics). pip's output is cached under ``layers/.build/`` keyed by a
hash of the requirements, the Python version, the platform and pip's flags, so only the first synthesis
after a change touches the network.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYER_SOURCE = REPO_ROOT / "layers"
REQUIREMENTS = LAYER_SOURCE / "requirements.txt"
BUILD_CACHE = LAYER_SOURCE / ".build"
MODEL_PACKAGE = REPO_ROOT / "cryptostream_model"
RUNTIME_PACKAGE = REPO_ROOT / "cryptostream_runtime"
SHARED_PACKAGES = (MODEL_PACKAGE, RUNTIME_PACKAGE)  # what every function imports from the layer
PLATFORM = "manylinux2014_x86_64"
# The runtime ships these; a copy in the layer would only shadow them and add ~20 MB.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
RUNTIME = lambda_.Runtime.PYTHON_3_14  # the newest runtime Powertools 3.37 supports
ARCHITECTURE = lambda_.Architecture.X86_64  # the layer's wheels are manylinux2014_x86_64
STUB_MARKER = "STUB_LAYER_NOT_DEPLOYABLE"
# layers/requirements.txt pins the whole layer, transitive dependencies included: pip installs exactly
# that list, so a dependency no function imports (alpha_vantage's aiohttp) stays out.
PIP_FLAGS = ("--no-deps", "--no-compile", "--only-binary=:all:")
# Parts of installed packages no function imports: CCXT's asyncio and websocket clients and its test data
# (the producer uses its synchronous exchanges): 20 MB of the 40 MB ccxt installs.
PRUNED = ("ccxt/async_support", "ccxt/pro", "ccxt/test")
# Version-specific extension modules with no pure-Python fallback, also built for the Python an emulator
# runs the functions on (MiniStack: 3.11): cffi's _cffi_backend, which cryptography (for ccxt) loads.
# Both builds sit side by side; each interpreter loads the file with its own ABI tag.
EMULATOR_PYTHON = "3.11"
EMULATOR_EXTENSIONS = ("cffi",)
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
# Docker is never used: local bundling always succeeds or raises. CDK still wants an image name.
_UNUSED_IMAGE = DockerImage.from_registry("public.ecr.aws/sam/build-python3.14")


class LayerBuildError(RuntimeError):
    """pip could not build the layer (offline with a cold cache, or a missing wheel)."""


def python_version(runtime: lambda_.Runtime) -> str:
    """``python3.14`` -> ``3.14``."""
    return runtime.name.removeprefix("python")


def _sources_digest(*paths: Path, extra: str = "", pattern: str = "*.py") -> str:
    digest = hashlib.sha256(extra.encode())
    for root in paths:
        files = [root] if root.is_file() else sorted(
            p for p in root.rglob(pattern) if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        )
        for path in files:
            digest.update(path.relative_to(REPO_ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def site_packages(version: str) -> Path:
    """pip's output for the requirements, built once per (requirements, Python version, platform)."""
    build = f"{version}:{PLATFORM}:{' '.join(PIP_FLAGS)}:{PRUNED}:{EMULATOR_PYTHON}:{EMULATOR_EXTENSIONS}"
    key = _sources_digest(REQUIREMENTS, extra=build)[:16]
    target = BUILD_CACHE / f"site-{version}-{key}"
    if (target / ".complete").exists():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PIP_FLAGS,
        "--platform", PLATFORM, "--implementation", "cp", "--python-version", version,
        "--target", str(partial), "-r", str(REQUIREMENTS),
    ]  # fmt: skip
    _pip(command)
    if version != EMULATOR_PYTHON:
        _add_emulator_extensions(partial)
    for pruned in PRUNED:
        shutil.rmtree(partial / pruned, ignore_errors=True)
    for name in RUNTIME_PROVIDED:
        for leftover in partial.glob(f"{name}*"):
            shutil.rmtree(leftover, ignore_errors=True)
    shutil.rmtree(partial / "bin", ignore_errors=True)
    (partial / ".complete").touch()
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def _pip(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise LayerBuildError(f"building the Lambda layer failed (needs PyPI once, then cached): {last}")


def _pinned(name: str) -> str:
    """``cffi==2.0.0``: the requirements' line for ``name``."""
    for line in REQUIREMENTS.read_text().splitlines():
        if line.split("==")[0].strip().lower() == name:
            return line.strip()
    raise LayerBuildError(f"{name} is not pinned in {REQUIREMENTS}")


def _add_emulator_extensions(target: Path) -> None:
    """Copy the EMULATOR_PYTHON builds of EMULATOR_EXTENSIONS' top-level extension modules into ``target``."""
    scratch = target.with_name(target.name + ".emulator")
    shutil.rmtree(scratch, ignore_errors=True)
    _pip([
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PIP_FLAGS,
        "--platform", PLATFORM, "--implementation", "cp", "--python-version", EMULATOR_PYTHON,
        "--target", str(scratch), *map(_pinned, EMULATOR_EXTENSIONS),
    ])  # fmt: skip
    tag = f"cpython-{EMULATOR_PYTHON.replace('.', '')}-"
    for module in scratch.glob(f"*.{tag}*.so"):
        shutil.copy2(module, target / module.name)
    shutil.rmtree(scratch, ignore_errors=True)


def _copy_package(package: Path, destination: Path) -> None:
    shutil.copytree(package, destination / package.name, ignore=_IGNORED, dirs_exist_ok=True)


@jsii.implements(ILocalBundling)
class DependencyLayerBundling:
    """Fills ``<asset>/python/`` with the pinned dependencies (already built) and the shared packages."""

    def __init__(self, dependencies: Path) -> None:
        self._dependencies = dependencies

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        python_dir = Path(output_dir) / "python"
        shutil.copytree(self._dependencies, python_dir, ignore=shutil.ignore_patterns(".complete"),
                        dirs_exist_ok=True)  # fmt: skip
        for package in SHARED_PACKAGES:
            _copy_package(package, python_dir)
        return True


@jsii.implements(ILocalBundling)
class PackageBundling:
    """Copies one top-level package (``producer/``) so ``producer.handler`` imports at the asset root."""

    def __init__(self, package: Path) -> None:
        self._package = package

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        _copy_package(self._package, Path(output_dir))
        return True


def function_code(package: str) -> lambda_.Code:
    """The asset of one Lambda: the ``package`` directory itself, importable as ``package.handler``."""
    source = REPO_ROOT / package
    if not (source / "__init__.py").exists():
        raise LayerBuildError(f"{source} is not a Python package (no __init__.py)")
    return lambda_.Code.from_asset(
        str(source),
        asset_hash_type=AssetHashType.CUSTOM,
        # Every file the bundle copies (rollup_workflow reads its sql/ at runtime), so a change to any redeploys.
        asset_hash=_sources_digest(source, pattern="*"),
        bundling=BundlingOptions(image=_UNUSED_IMAGE, local=PackageBundling(source)),
    )


def dependency_layer_code(runtime: lambda_.Runtime, *, stub: bool = False) -> lambda_.Code:
    """The shared layer's asset; ``stub`` skips pip (tests offline) and marks the asset undeployable."""
    version = python_version(runtime)
    if stub or os.environ.get("CRYPTOSTREAM_SKIP_LAYER_BUNDLING") == "1":
        stub_dir = BUILD_CACHE / "stub"
        shutil.rmtree(stub_dir, ignore_errors=True)
        for package in SHARED_PACKAGES:
            _copy_package(package, stub_dir / "python")
        (stub_dir / STUB_MARKER).write_text("built with skip_layer_bundling: dependencies missing, do not deploy\n")
        return lambda_.Code.from_asset(str(stub_dir))
    return lambda_.Code.from_asset(
        str(LAYER_SOURCE),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=_sources_digest(REQUIREMENTS, *SHARED_PACKAGES, extra=f"{version}:{PLATFORM}"),
        # pip runs here, in Python, so a failure is a LayerBuildError rather than a jsii bundling error.
        bundling=BundlingOptions(image=_UNUSED_IMAGE, local=DependencyLayerBundling(site_packages(version))),
    )
