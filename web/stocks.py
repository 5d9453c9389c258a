"""Routes: the stock table page, its htmx re-stream, and its exports.

A request reads top to bottom: query string -> View -> select -> streamed body. Everything a
stream needs is read here, inside the request; the body generator runs without the request
context and may be closed on another thread after a disconnect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from time import perf_counter

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from . import multipart
from .db import get_engine
from .models import EXCHANGES, SECTORS
from .render import csv_header, csv_rows, html_row_group, ndjson_rows
from .streams import Ending, StreamSettings, stream
from .view import COLUMNS, SORT_KEYS, InvalidView, View, describe

bp = Blueprint("stocks", __name__)

ROWS_PART = {"HX-Target": "#rows", "HX-Swap": "beforeend"}
SUMMARY_PART = {"HX-Target": "#stocks", "HX-Swap": "beforeend"}
EXPORTS = {
    "csv": ("text/csv; charset=utf-8; header=present", csv_rows),
    "ndjson": ("application/x-ndjson", ndjson_rows),
}


def index() -> Response:
    return redirect(url_for("stocks.table"))


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


@bp.errorhandler(InvalidView)
def invalid_view(error: InvalidView):
    if is_htmx():
        # Show the message beside the controls and leave the table as it is.
        fragment = render_template("stocks/_error.html", message=str(error))
        return fragment, 400, {"HX-Retarget": "#view-error", "HX-Reswap": "innerHTML"}
    return render_template("error.html", message=str(error)), 400


def _streamed(view: View, started: float, opening: bytes, **settings) -> dict:
    """The arguments every stream of ``view`` shares; ``settings`` override the config's."""
    return dict(
        app=current_app._get_current_object(),
        path=url_for(request.endpoint, **request.view_args, **view.args()),
        engine=get_engine(),
        statement=view.statement(),
        settings=replace(StreamSettings.from_config(current_app.config), **settings),
        started=started,
        opening=opening,
    )


def _template_context(view: View) -> dict:
    return dict(
        view=view,
        columns=COLUMNS,
        exchanges=EXCHANGES,
        sectors=SECTORS,
        view_url=url_for("stocks.table", **view.args()),
    )


def _closing(template_name: str, context: dict) -> Callable[[Ending], str]:
    """Renders the end of a stream once its summary is known, outside the request."""
    template = current_app.jinja_env.get_template(template_name)
    return lambda end: template.render(end=end, **context)


def _canonical_redirect(view: View, endpoint: str, **values) -> Response | None:
    """A plain GET form sends every field, empty or default; send the browser to the
    short form of the same view, so the address bar holds a URL worth sharing."""
    if is_htmx() or sorted(request.args.items(multi=True)) == sorted(view.args().items()):
        return None
    return redirect(url_for(endpoint, **values, **view.args()))


@bp.get("/stocks")
def table() -> Response:
    started = perf_counter()
    view = View.from_args(request.args)
    if redirect_to := _canonical_redirect(view, "stocks.table"):
        return redirect_to
    context = _template_context(view)
    if is_htmx():
        # Part one resets the table (new header, empty rows) and updates the URL; then
        # one part per row group; the last part appends the summary.
        opening = multipart.part(
            render_template("stocks/_restream.html", **context).encode(),
            {"HX-Target": "#stocks", "HX-Swap": "innerHTML", "HX-Push-Url": context["view_url"]},
        )
        notice = _closing("stocks/_notice.html", context)
        summary = _closing("stocks/_summary.html", context)

        def closing(end: Ending) -> bytes:
            parts = [multipart.part(notice(end).encode(), ROWS_PART)] if end.notice else []
            parts += [multipart.part(summary(end).encode(), SUMMARY_PART), multipart.END]
            return b"".join(parts)

        body = stream(
            **_streamed(view, started, opening=opening),
            render=lambda rows: multipart.part(html_row_group(rows).encode(), ROWS_PART),
            closing=closing,
        )
        content_type = multipart.CONTENT_TYPE
    else:
        head = render_template("stocks/page_head.html", **context)
        foot = _closing("stocks/page_foot.html", context)
        body = stream(
            **_streamed(view, started, opening=head.encode()),
            render=lambda rows: html_row_group(rows).encode(),
            closing=lambda end: foot(end).encode(),
        )
        content_type = "text/html; charset=utf-8"
    response = Response(body, content_type=content_type)
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass the stream through
    response.vary.add("HX-Request")
    return response


@bp.get("/stocks.<any(csv, ndjson):fmt>")
def export(fmt: str) -> Response:
    started = perf_counter()
    view = View.from_args(request.args)
    if redirect_to := _canonical_redirect(view, "stocks.export", fmt=fmt):
        return redirect_to
    content_type, render_rows = EXPORTS[fmt]
    opening = csv_header(SORT_KEYS) if fmt == "csv" else ""
    body = stream(
        # Not limited to MAX_ROWS (like Datasette's streamed CSV): no browser renders these.
        **_streamed(view, started, opening=opening.encode(), max_rows=None),
        render=lambda rows: render_rows(rows).encode(),
        closing=lambda end: b"",
        end_cleanly_on_failure=False,  # a CSV has no place for a note: cut the transfer
    )
    name = "-".join(filter(None, ["stocks", describe(view.args())]))
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    response.headers["X-Accel-Buffering"] = "no"
    return response
