"""The column stylesheet: widths, alignment and tone per column, made from the table's spec.

Served at ``/columns.css`` after ``static/css/stocks.css``. Its rules address columns by
position (``nth-child``: cells carry no classes, a tenth fewer bytes a row), so a view that
shows other columns (``cols=``) gets its own: ``/columns.css?cols=symbol,price``. Each is
rendered once and versioned by a hash of its content, so browsers keep it for good.
"""

from __future__ import annotations

import hashlib

from flask import current_app, url_for

from .spec import TableSpec, Tone

EXTENSION_KEY = "streamtable.column_stylesheets"


def stylesheet(shown: TableSpec) -> tuple[str, str]:
    """The stylesheet of the columns ``shown``, and its digest (rendered once per choice)."""
    made = current_app.extensions.setdefault(EXTENSION_KEY, {})
    if shown.keys not in made:  # at most one per choice of columns: 2^columns, bounded
        css = current_app.jinja_env.get_template("stocks/columns.css").render(
            spec=shown, group_rows=current_app.config["CHUNK_ROWS"], Tone=Tone
        )
        made[shown.keys] = css, hashlib.sha256(css.encode()).hexdigest()[:12]
    return made[shown.keys]


def url(shown: TableSpec, full: TableSpec) -> str:
    """The versioned URL of the stylesheet for the columns ``shown`` of the table ``full``."""
    cols = {} if shown.keys == full.keys else {"cols": ",".join(shown.keys)}
    return url_for("stocks.columns_css", **cols, v=stylesheet(shown)[1])
