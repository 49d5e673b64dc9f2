"""The dependency layer as built: complete (pip runs with --no-deps) and importable by every function.

``layers/requirements.txt`` lists the whole layer, so nothing else checks that a dependency is not
missing: these tests read the built layer's package metadata and import every module the Lambda code
imports with nothing on ``sys.path`` but the function's asset, the layer and the runtime's SDK.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from infra.assets import RUNTIME, RUNTIME_PROVIDED, STUB_MARKER, python_version

pytestmark = pytest.mark.infra

# Declared dependencies left out of the layer on purpose: (package, dependency) -> reason.
NOT_INSTALLED = {
    ("alpha-vantage", "aiohttp"): "only alpha_vantage.async_support imports it; the producer uses the synchronous "
    "CryptoCurrencies client over requests",
    **{
        ("ccxt", name): "only ccxt.async_support and ccxt.pro (not in the layer) import it, or ccxt imports it only "
        "if present; the producer uses CCXT's synchronous exchanges over requests"
        for name in (
            "aiohttp",
            "yarl",
            "aiohttp-fast-zlib",
            "zlib-ng",
            "uvloop",
            "orjson",
            "aiohappyeyeballs",
            "aiosignal",
            "attrs",
            "frozenlist",
            "multidict",
            "propcache",
        )
    },  # fmt: skip
}
# What the Lambda runtime puts on sys.path next to boto3: botocore's own dependencies.
RUNTIME_SDK = (*RUNTIME_PROVIDED, "jmespath", "dateutil", "six", "urllib3")


def _layer_python(synth) -> Path:
    python = synth.asset_dir(synth.stack.ingestion.layer) / "python"
    if (python.parent / STUB_MARKER).exists():
        pytest.skip("stub layer (skip_layer_bundling or offline with a cold pip cache)")
    return python


def _distributions(python: Path) -> dict[str, tuple[Version, list[str]]]:
    found = {}
    for metadata in python.glob("*.dist-info/METADATA"):
        message = Parser().parsestr(metadata.read_text(encoding="utf-8"), headersonly=True)
        found[canonicalize_name(message["Name"])] = (
            Version(message["Version"]),
            message.get_all("Requires-Dist") or [],
        )
    return found


def test_every_declared_dependency_is_in_the_layer_or_the_runtime(synth) -> None:
    distributions = _distributions(_layer_python(synth))
    # The runtime's interpreter, not this one: markers such as python_version < "3.12" decide for 3.14.
    environment = {**default_environment(), "python_version": python_version(RUNTIME),
                   "python_full_version": f"{python_version(RUNTIME)}.0", "sys_platform": "linux",
                   "platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython",
                   "platform_python_implementation": "CPython", "extra": ""}  # fmt: skip
    runtime = {canonicalize_name(name) for name in RUNTIME_PROVIDED}
    missing, incompatible, excused = [], [], set()
    for name, (_, requires) in sorted(distributions.items()):
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue  # an extra nobody asked for, or another platform
            dependency = canonicalize_name(requirement.name)
            if (name, dependency) in NOT_INSTALLED:
                excused.add((name, dependency))
            elif dependency in distributions:
                if not requirement.specifier.contains(distributions[dependency][0], prereleases=True):
                    incompatible.append(f"{name} needs {requirement}, layer has {distributions[dependency][0]}")
            elif dependency not in runtime:
                missing.append(f"{name} needs {requirement}")
    assert {"missing": missing, "incompatible": incompatible} == {"missing": [], "incompatible": []}, (
        "pin these in layers/requirements.txt"
    )
    assert excused == set(NOT_INSTALLED), "an exception no longer applies: remove it from NOT_INSTALLED"


def _imports(asset: Path, package: str) -> list[tuple[str, str | None]]:
    """Every module of ``package`` and every absolute import in it, as ``(module, name or None)``."""
    imports: set[tuple[str, str | None]] = set()
    for path in (asset / package).rglob("*.py"):
        parts = path.relative_to(asset).with_suffix("").parts
        imports.add((".".join(parts[:-1] if parts[-1] == "__init__" else parts), None))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imports.update((alias.name, None) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module != "__future__":
                imports.update((node.module, alias.name) for alias in node.names)
    return sorted(imports, key=lambda item: (item[0], item[1] or ""))


# Run with `python -S`: no site-packages, so only the paths given can satisfy an import.
_IMPORT_ALL = """
import importlib, json, sys
failed = {}
for module, name in json.loads(sys.argv[1]):
    try:
        imported = importlib.import_module(module)
        if name is not None and not hasattr(imported, name):
            importlib.import_module(f"{module}.{name}")  # `from package import submodule`
    except Exception as exc:
        failed[f"{module}:{name}"] = f"{type(exc).__name__}: {exc}"
unused = sorted({m.split(".")[0] for m in sys.modules} & {"pydantic", "pydantic_core", "aiohttp"})
unused += sorted(m for m in sys.modules if m.startswith(("ccxt.async_support", "ccxt.pro")))
print(json.dumps({"failed": failed, "unused": unused}))
"""


def _runtime_sdk(tmp_path: Path) -> Path:
    """The SDK as the runtime provides it: this environment's boto3 and its dependencies, nothing else."""
    sdk = tmp_path / "runtime"
    sdk.mkdir()
    for name in RUNTIME_SDK:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, name
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (sdk / source.name).symlink_to(source)
    return sdk


FUNCTIONS = {
    "producer": lambda stack: stack.ingestion.function,
    "consumer": lambda stack: stack.processing.function,
    "archive_transform": lambda stack: stack.archive.transform.function,
}


@pytest.mark.parametrize("package", sorted(FUNCTIONS))
def test_each_function_imports_all_it_uses_from_its_asset_the_layer_and_the_sdk(
    synth, tmp_path: Path, package: str
) -> None:
    """On this interpreter (3.11): the layer's compiled cp314 modules cannot load here, so this also proves
    they have pure-Python fallbacks, which an emulator running the functions on 3.11 relies on."""
    python = _layer_python(synth)
    asset = synth.asset_dir(FUNCTIONS[package](synth.stack))
    # Lambda's order: the function, then the layer, then the runtime's SDK.
    path = os.pathsep.join(str(p) for p in (asset, python, _runtime_sdk(tmp_path)))
    imports = _imports(asset, package)
    assert (f"{package}.handler", None) in imports
    result = subprocess.run(
        [sys.executable, "-S", "-c", _IMPORT_ALL, json.dumps(imports)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
        env={"PYTHONPATH": path, "PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"failed": {}, "unused": []}
