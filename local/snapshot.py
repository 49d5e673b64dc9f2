"""A snapshot of the embedded moto server's whole state: every in-use backend, pickled.

moto keeps each service's state in a module-level ``BackendDict`` (account → region → backend
object). ``dump`` pickles the contents of every one in use, with the journal sequence number the
state includes; ``load`` puts them back into the live ``BackendDict`` objects (moto's request
handlers look them up there), so identifiers, receipt handles, Kinesis sequence counters and
timestamps are exactly what they were. Locks are pickled as fresh locks and private keys (KMS) as
PEM. The file is written to a temporary name, fsynced, renamed and its directory fsynced, so a crash
leaves either the old snapshot or the new one. It is read only from the user's own data directory
(mode 0600), the same trust as the code that wrote it.
"""

from __future__ import annotations

import copyreg
import importlib
import io
import os
import pickle
import sys
import threading
from pathlib import Path
from typing import Any

from local import wal

FORMAT = 1


def _private_key_from_pem(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)


def _reduce_private_key(key: Any) -> tuple[Any, tuple[bytes]]:
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return _private_key_from_pem, (pem,)


def _dispatch_table() -> dict[type, Any]:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    table = copyreg.dispatch_table.copy()
    table[type(threading.Lock())] = lambda _: (threading.Lock, ())
    table[type(threading.RLock())] = lambda _: (threading.RLock, ())
    for generate in (
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),
        lambda: ec.generate_private_key(ec.SECP256R1()),
        ed25519.Ed25519PrivateKey.generate,
    ):
        table[type(generate())] = _reduce_private_key
    return table


_DISPATCH: dict[type, Any] | None = None


def _backend_dicts() -> dict[tuple[str, str], Any]:
    """Every in-use BackendDict, by the module attribute that holds it."""
    from moto.core.base_backend import BackendDict

    live = {id(backend): backend for backend in BackendDict._instances}
    found: dict[tuple[str, str], Any] = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("moto.") or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if id(value) in live and isinstance(value, BackendDict):
                found.setdefault((name, attr), value)
    return found


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, refs: dict[int, tuple[str, str]]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        global _DISPATCH
        _DISPATCH = _DISPATCH or _dispatch_table()
        self.dispatch_table = _DISPATCH
        self._refs = refs

    def persistent_id(self, obj: Any) -> Any:
        return self._refs.get(id(obj)) if type(obj).__name__.endswith("BackendDict") else None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        module, attr = pid
        return getattr(importlib.import_module(module), attr)


def dumps(last_seq: int) -> bytes:
    backends = _backend_dicts()
    refs = {id(backend): key for key, backend in backends.items()}
    buffer = io.BytesIO()
    _Pickler(buffer, refs).dump(
        {"format": FORMAT, "seq": last_seq, "backends": [(m, a, dict(b)) for (m, a), b in backends.items()]}
    )
    return buffer.getvalue()


def dump(path: Path, last_seq: int) -> None:
    """Write the snapshot atomically and durably; raises OSError (e.g. ENOSPC) leaving the old one."""
    data = dumps(last_seq)
    tmp = path.with_name(path.name + ".tmp")
    try:
        wal.check_injected_fault()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        wal.fsync_directory(path.parent)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def load(path: Path) -> int:
    """Put a snapshot's state into moto's live backends; returns the journal sequence number it includes."""
    from moto.core.base_backend import BackendDict

    with path.open("rb") as file:
        state = _Unpickler(file).load()
    if state.get("format") != FORMAT:
        raise ValueError(f"{path} has snapshot format {state.get('format')}, expected {FORMAT}")
    for module, attr, accounts in state["backends"]:
        backend = getattr(importlib.import_module(module), attr)
        backend.clear()
        backend.update(accounts)
        if backend not in BackendDict._instances:
            BackendDict._instances.append(backend)
    return int(state["seq"])
