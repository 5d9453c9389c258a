"""streamtable: stream a large database table to the browser as one progressive HTML page."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from . import (
    admission,
    compression,
    db,
    errors,
    health,
    render,
    security,
    served,
    settings,
    signals,
    streams,
)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    settings.init_app(app, test_config)

    db.init_app(app)
    admission.init_app(app)
    compression.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    served.init_app(app)
    render.init_app(app, served.served_table(app))

    # One log line per stream, through Flask's logger (stderr unless logging is configured).
    if app.logger.level == logging.NOTSET:
        app.logger.setLevel(app.config["LOG_LEVEL"])
    signals.stream_ended.connect(streams.log_report, sender=app, weak=False)

    from . import stocks

    app.register_blueprint(stocks.bp)
    app.register_blueprint(health.bp)
    app.add_url_rule("/", endpoint="index", view_func=stocks.index)
    return app
