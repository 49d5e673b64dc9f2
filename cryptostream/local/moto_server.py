"""moto's server in a thread on 127.0.0.1, with the journal that makes its state durable."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from cryptostream.local import moto_patches
from cryptostream.local.journal import JournalingApp, replay


class EmbeddedMotoServer:
    """Start with ``start()``; ``endpoint`` is then ``http://127.0.0.1:<port>``."""

    def __init__(self, journal_path: Path | None = None, port: int = 0) -> None:
        self._journal_path = journal_path
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._journal: JournalingApp | None = None
        self.replayed = 0

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        app = DomainDispatcherApplication(create_backend_app)
        _reset_moto_state()
        moto_patches.apply()
        if self._journal_path is not None:
            self.replayed = replay(app, self._journal_path)
        self._journal = JournalingApp(app, self._journal_path)
        self._server = make_server(
            "127.0.0.1", self._port, self._journal, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()
        return self.endpoint

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._journal is not None:
            self._journal.close()


def _reset_moto_state() -> None:
    """moto's backends are process-global: start every embedded stack from empty."""
    from moto.core.base_backend import BackendDict
    from moto.core.model_instances import reset_model_data

    BackendDict.reset()
    reset_model_data()
