"""The app as the end-to-end tests serve it: the real app plus test-only controls.

Only this module adds them; the production factory (`web:create_app()`) never does.

- A gate: after ``POST /_test/gate/hold`` every stream stops right after its first chunk of
  rows until ``POST /_test/gate/release``, so a test can look at a page whose stream is
  provably still open. ``GET /_test/gate`` says how many streams are waiting.
- A log of ended streams (``GET /_test/streams``): path, rows, and whether each completed
  or was aborted by the client.
- A fault: after ``POST /_test/fault?after=N`` the next query's cursor fails once it has
  handed out N rows, as if the database went away mid-stream (the injector the unit tests
  use too, from tests/faults.py).

Serve it with the production server settings, one worker so the gate is shared:

    DATABASE_URL=sqlite:///... gunicorn -c gunicorn.conf.py --workers 1 \
        'tests.e2e.server:create_gated_app()'
"""

from __future__ import annotations

import threading

from flask import Blueprint, Flask, jsonify, request

from web import create_app, signals
from web.db import get_engine

from ..faults import FaultInjector

HOLD_LIMIT_SECONDS = 60
"""A held stream goes on by itself after this long, so a failed test never hangs a worker."""


class Gate:
    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self.waiting = 0
        self.ended: list[dict] = []

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def on_rows_sent(self, sender: Flask, rows: int) -> None:
        if self._open.is_set():
            return
        with self._lock:
            self.waiting += 1
        try:
            self._open.wait(HOLD_LIMIT_SECONDS)
        finally:
            with self._lock:
                self.waiting -= 1

    def on_stream_ended(self, sender: Flask, report) -> None:
        with self._lock:
            self.ended.append(report.as_dict())

    def blueprint(self) -> Blueprint:
        bp = Blueprint("test_gate", __name__, url_prefix="/_test")

        @bp.post("/gate/hold")
        def hold():
            self.hold()
            return jsonify(held=True)

        @bp.post("/gate/release")
        def release():
            self.release()
            return jsonify(held=False)

        @bp.get("/gate")
        def status():
            return jsonify(held=not self._open.is_set(), waiting=self.waiting)

        @bp.get("/streams")
        def streams():
            with self._lock:
                return jsonify(self.ended)

        return bp


def fault_blueprint(faults: FaultInjector) -> Blueprint:
    """``POST /_test/fault?after=N``: the next query fails after N rows (tests/faults.py)."""
    bp = Blueprint("test_faults", __name__, url_prefix="/_test")

    @bp.post("/fault")
    def arm():
        rows = request.args.get("after", 0, type=int)
        faults.fail_next_select_after(rows)
        return jsonify(armed=rows)

    return bp


def create_gated_app() -> Flask:
    app = create_app()
    gate = Gate()
    signals.rows_sent.connect(gate.on_rows_sent, sender=app, weak=False)
    signals.stream_ended.connect(gate.on_stream_ended, sender=app, weak=False)
    app.register_blueprint(gate.blueprint())
    app.register_blueprint(fault_blueprint(FaultInjector(get_engine(app))))
    return app
