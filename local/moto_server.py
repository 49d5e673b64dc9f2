"""moto's server in a thread on 127.0.0.1, with the journal that makes its state durable."""

from __future__ import annotations

from pathlib import Path

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

from local import crash_points, moto_patches
from local.journal import JournalingApp, replay
from local.wsgi_thread import BackgroundWSGIServer


class EmbeddedMotoServer:
    """Start with ``start()``; ``endpoint`` is then ``http://127.0.0.1:<port>``."""

    def __init__(self, journal_path: Path | None = None, port: int = 0) -> None:
        self._journal_path = journal_path
        self._port = port
        self._server: BackgroundWSGIServer | None = None
        self._journal: JournalingApp | None = None
        self.endpoint = ""
        self.replayed = 0

    def start(self) -> str:
        app = DomainDispatcherApplication(create_backend_app)
        _reset_moto_state()
        moto_patches.apply()
        if self._journal_path is not None:
            self.replayed = replay(app, self._journal_path)
        self._journal = JournalingApp(app, self._journal_path)
        self._server = BackgroundWSGIServer(
            crash_points.around(self._journal),  # the crash suite's kill points; the journal itself when unarmed
            "moto-server",
            port=self._port,
            request_handler=MotoRequestHandler,
        )
        self.endpoint = f"http://127.0.0.1:{self._server.start()}"
        return self.endpoint

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._journal is not None:
            self._journal.close()


def _reset_moto_state() -> None:
    """moto's backends are process-global: start every embedded stack from empty."""
    from moto.core.base_backend import BackendDict
    from moto.core.model_instances import reset_model_data

    BackendDict.reset()
    reset_model_data()
