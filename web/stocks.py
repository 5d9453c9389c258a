"""Routes: the table's page, its htmx re-stream, its exports and its column stylesheet.

The served table (:mod:`web.served`: the stock table, or the one ``STREAMTABLE_TABLE``
names) decides the paths: ``/stocks``, ``/stocks.csv``, ``/stocks/<key>``, or the same under
another table's name. Row pages exist only for a table whose rows have a one-column key.

Each streamed route reads top to bottom: parse the query string into a :class:`View`, pick
the output (:mod:`web.outputs`), stream (:func:`web.streams.stream`). Everything a stream
needs is read here, inside the request; the body generator runs without the request
context and may be closed on another thread after a disconnect.
"""

from __future__ import annotations

from time import perf_counter

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound

from . import planner, stylesheet
from .admission import admit_stream
from .counting import COUNT_SHARE
from .db import get_engine
from .outputs import EXPORTS, BaseOutput, Page, Restream
from .render import renderers_for
from .served import served_table
from .spec import Kind
from .streams import Source, StreamSettings, stream
from .view import InvalidView, View

bp = Blueprint("stocks", __name__)


@bp.record
def _add_routes(state: BlueprintSetupState) -> None:
    """The table's routes, at paths named after it (fixed only once the app knows it)."""
    table_spec = served_table(state.app)
    base = "/" + table_spec.slug
    state.add_url_rule(base, "table", table, methods=["GET"])
    state.add_url_rule(f"{base}.<any({', '.join(EXPORTS)}):fmt>", "export", export)
    if table_spec.row_key is not None:
        state.add_url_rule(f"{base}/<path:key>.json", "row_json", row_json)
        state.add_url_rule(f"{base}/<path:key>", "row_page", row_page)


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
    page = render_template(
        "error.html", title="That view does not exist", message=str(error), spec=served_table()
    )
    return page, 400


@bp.get("/columns.css")
def columns_css() -> Response:
    cols = request.args.get("cols", "")
    try:
        view = View.from_args(MultiDict({"cols": cols}), served_table(), 0)
    except InvalidView as error:
        return Response(f"/* {error} */", 400, content_type="text/css; charset=utf-8")
    css, digest = stylesheet.stylesheet(view.shown)
    response = Response(css, content_type="text/css; charset=utf-8")
    response.set_etag(digest)
    if request.args.get("v") == digest:
        response.cache_control.public = True
        response.cache_control.max_age = 365 * 86_400
        response.cache_control.immutable = True
    return response.make_conditional(request)


def parse_view() -> View:
    spec = served_table()
    return View.from_args(request.args, spec, current_app.config["MAX_SEARCH_LENGTH"])


def _canonical_redirect(view: View, endpoint: str, **values) -> Response | None:
    """A plain GET form sends every field, empty or default; send the browser to the
    short form of the same view, so the address bar holds a URL worth sharing."""
    if is_htmx() or sorted(request.args.items(multi=True)) == sorted(view.items()):
        return None
    return redirect(url_for(endpoint, **values, **view.args()))


def streamed(view: View, output: BaseOutput, started: float) -> Response:
    """The response that streams ``view`` through ``output``."""
    release = admit_stream()  # or a 503: every slot is taken (web/admission.py)
    try:
        config = current_app.config
        source = Source(
            app=current_app._get_current_object(),
            path=url_for(request.endpoint, **request.view_args, **view.args()),
            engine=get_engine(),
            plan=planner.plan(get_engine(), view, config["COUNT_SECONDS"] * COUNT_SHARE),
            table=view.shown,
            settings=StreamSettings.from_config(config, capped=output.capped),
            started=started,
            connection=request.environ.get("gunicorn.socket"),
        )
        response = Response(stream(source, output), content_type=output.content_type)
    except BaseException:  # no stream: its slot is free again
        release()
        raise
    response.call_on_close(release)
    response.headers.update(output.headers)
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass the stream through
    return response


def table() -> Response:
    started = perf_counter()
    view = parse_view()
    if redirect_to := _canonical_redirect(view, "stocks.table"):
        return redirect_to
    response = streamed(view, Restream(view) if is_htmx() else Page(view), started)
    response.vary.add("HX-Request")
    return response


def export(fmt: str) -> Response:
    started = perf_counter()
    view = parse_view()
    if redirect_to := _canonical_redirect(view, "stocks.export", fmt=fmt):
        return redirect_to
    return streamed(view, EXPORTS[fmt](view), started)


def _row(key: str):
    """The one row ``key`` names, by the spec's row key (``symbol``), or a 404 page."""
    spec = served_table()
    column = spec.row_key
    value = key
    if column.kind is Kind.NUMBER:  # an integer key: the database would not match text
        if not key.isdecimal() and not (key[:1] == "-" and key[1:].isdecimal()):
            abort(404, f"There is no {spec.noun[0]} {key!r}: its {column.label} is a number.")
        value = int(key)
    statement = select(*spec.select_list()).where(spec.table.c[column.key] == value)
    with get_engine().connect() as connection:
        row = connection.execute(statement).first()
    if row is None:
        raise NotFound(f"There is no {spec.noun[0]} {key!r}.")
    return row


def row_json(key: str) -> Response:
    """One row as a JSON object: the same keys and values as a row of ``/stocks.json``."""
    body = renderers_for(served_table()).json([_row(key)])
    return Response(body + "\n", content_type="application/json")


def row_page(key: str) -> str:
    """One row's page: every field, labelled, and a link to its JSON."""
    spec = served_table()
    row = _row(key)
    names = [row[i] for i, c in enumerate(spec.columns) if c.kind is Kind.TEXT][:2] or [key]
    title = " · ".join(str(name) for name in names)
    return render_template("stocks/row.html", spec=spec, row=row, key=key, title=title)
