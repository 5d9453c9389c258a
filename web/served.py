"""Which table the app serves: the stock table, or the one ``STREAMTABLE_TABLE`` names.

Decided once, when the app starts: the routes (:mod:`web.stocks`), the renderers
(:mod:`web.render`), the health check and the error pages all ask :func:`served_table`.
A table the database does not have stops the app at start, naming the tables it has.
"""

from __future__ import annotations

from flask import Flask, current_app

from .db import get_engine
from .models import STOCKS
from .reflect import reflect
from .spec import TableSpec

EXTENSION_KEY = "streamtable.table"


def init_app(app: Flask) -> None:
    name = app.config["TABLE"]
    if not name:
        app.extensions[EXTENSION_KEY] = STOCKS
        return
    try:
        app.extensions[EXTENSION_KEY] = reflect(get_engine(app), name)
    except Exception:
        get_engine(app).dispose()  # an app that cannot start keeps no connection open
        raise


def served_table(app: Flask | None = None) -> TableSpec:
    return (app or current_app).extensions[EXTENSION_KEY]
