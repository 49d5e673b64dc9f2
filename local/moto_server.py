"""moto's server in a thread on 127.0.0.1, with the journal and snapshots that make its state durable."""

from __future__ import annotations

from pathlib import Path

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

from local import crash_points, moto_patches
from local.journal import Journal, JournalingApp, JournalStatus
from local.wsgi_thread import BackgroundWSGIServer


class EmbeddedMotoServer:
    """Start with ``start()``; ``endpoint`` is then ``http://127.0.0.1:<port>``. With ``data_dir`` the
    state is durable (``local.journal``); ``journal_options`` tune compaction (tests, bench)."""

    def __init__(self, data_dir: Path | None = None, port: int = 0, **journal_options: int) -> None:
        self._data_dir = data_dir
        self._port = port
        self._journal_options = journal_options
        self._server: BackgroundWSGIServer | None = None
        self._app: JournalingApp | None = None
        self.journal: Journal | None = None
        self.endpoint = ""
        self.replayed = 0

    @property
    def status(self) -> JournalStatus | None:
        return self.journal.status if self.journal is not None else None

    def start(self) -> str:
        """Recover the state (raises ``local.journal.ReplayError`` when a record cannot be replayed) and serve."""
        app = DomainDispatcherApplication(create_backend_app)
        _reset_moto_state()
        moto_patches.apply()
        if self._data_dir is not None:
            self.journal = Journal(self._data_dir, **self._journal_options)
            self.replayed = self.journal.recover(app)
        self._app = JournalingApp(app, self.journal)
        self._server = BackgroundWSGIServer(
            crash_points.around(self._app),  # the crash suite's kill points; the journal itself when unarmed
            "moto-server",
            port=self._port,
            request_handler=MotoRequestHandler,
        )
        self.endpoint = f"http://127.0.0.1:{self._server.start()}"
        return self.endpoint

    def probe(self) -> bool:
        """True when the journal can write again (see ``local.journal.Journal.probe``)."""
        return self._app.probe() if self._app is not None else True

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._app is not None:
            self._app.close()  # a clean stop snapshots, so the next start replays nothing
            self._app = None


def _reset_moto_state() -> None:
    """moto's backends are process-global: start every embedded stack from empty."""
    from moto.core.base_backend import BackendDict
    from moto.core.model_instances import reset_model_data

    BackendDict.reset()
    reset_model_data()
