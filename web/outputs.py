"""One object per output: what a stream's bytes look like, from its opening to its closing.

An output is made inside the request (it renders what needs the request: the page's head,
URLs) and then asked by :func:`web.streams.stream`, outside it, for its opening, each
chunk of rows and its closing. It also says what a failure mid-stream does to it
(:attr:`BaseOutput.ends_cleanly`) and whether ``MAX_ROWS`` applies. Adding an output (a JSON
document, say) is one new class here, listed in :data:`EXPORTS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from time import perf_counter
from typing import Any, ClassVar

from flask import current_app, render_template, url_for
from sqlalchemy import Row

from . import multipart, stylesheet
from .counting import early_total
from .db import get_engine
from .filters import OPS, SYMBOLS, Op
from .render import Renderers, renderers_for
from .spec import Kind
from .streams import Ending, Tally
from .view import View, describe

ROWS_PART = {"HX-Target": "#rows", "HX-Swap": "beforeend"}
SUMMARY_PART = {"HX-Target": "#stocks", "HX-Swap": "beforeend"}


class BaseOutput:
    """The defaults of an output (see :class:`web.streams.Output`)."""

    content_type: ClassVar[str]
    ends_cleanly: ClassVar[bool] = True
    """A failure mid-stream gives a closing that says so (a well-formed end, an error row);
    False: the transfer is cut short, so the client sees it incomplete (a CSV has no place
    for a note, and a truncated file that looks whole would be worse)."""
    capped: ClassVar[bool] = True  # MAX_ROWS applies: a browser has to hold every row
    shows_totals: ClassVar[bool] = True  # the closing shows the footer's figures

    def __init__(self, view: View, renderers: Renderers | None = None) -> None:
        self.view = view
        self.renderers = renderers or renderers_for(view.shown)

    @property
    def headers(self) -> Mapping[str, str]:
        return {}

    def opening(self) -> bytes:
        return b""

    def rows(self, rows: Sequence[Row]) -> bytes:
        raise NotImplementedError

    def progress(self, tally: Tally) -> bytes:
        return b""

    def closing(self, end: Ending) -> bytes:
        return b""


def page_context(view: View) -> dict[str, Any]:
    """What the page's templates are rendered with. URLs are made here, in the request:
    the closing and the facets are rendered after it, when ``url_for`` no longer works."""
    table_url = url_for("stocks.table")
    return dict(
        view=view,
        table_url=table_url,
        spec=view.spec,
        shown=view.shown,
        max_search_length=current_app.config["MAX_SEARCH_LENGTH"],
        view_url=url_for("stocks.table", **view.args()),
        columns_css_url=stylesheet.url(view.shown, view.spec),
        total=early_total(get_engine(), view, current_app.config["COUNT_SECONDS"]),
        filter_ops=[(op, SYMBOLS[op]) for op in Op if op is not Op.IN],
        # The filter menu's columns: those filtered by an operator (an enum has its menu).
        filter_columns=[c for c in view.spec.columns if c.kind is not Kind.ENUM and OPS[c.kind]],
        facet_urls={
            column.key: {
                choice: view.toggled(column.key, choice).url(table_url) for choice in column.choices
            }
            for _, column in view.shown.facets
        },
    )


class _Templated(BaseOutput):
    """An output whose closing is rendered from templates once the stream's end is known,
    outside the request: the templates are looked up and the context built in it."""

    def __init__(self, view: View, renderers: Renderers | None = None) -> None:
        super().__init__(view, renderers)
        self.context = page_context(view)

    def _later(self, name: str):
        template = current_app.jinja_env.get_template(name)
        return lambda end: template.render(end=end, **self.context).encode()


class Page(_Templated):
    """The whole HTML page: head and controls, row groups, footer (the end marker)."""

    content_type = "text/html; charset=utf-8"

    def __init__(self, view: View, renderers: Renderers | None = None) -> None:
        super().__init__(view, renderers)
        self._head = render_template("stocks/page_head.html", **self.context).encode()
        self._foot = self._later("stocks/page_foot.html")  # the footer, then the facets
        self._html = self.renderers.html

    def opening(self) -> bytes:
        return self._head

    def rows(self, rows: Sequence[Row]) -> bytes:
        return self._html(rows).encode()

    def closing(self, end: Ending) -> bytes:
        return self._foot(end)


FACETS_PART = {"HX-Target": "#facets", "HX-Swap": "outerHTML"}

FACET_SECONDS = 0.5
"""How often an htmx re-stream sends the facet counts so far: a person sees them grow, and
a part of a few KB every half second costs nothing against the rows."""


class Restream(_Templated):
    """An htmx re-stream (multipart/mixed, see :mod:`web.multipart`): part one resets the
    table (a new header, empty rows), the filter controls and the facets, and updates the
    URL; then one part per row group, with the facet counts so far every
    :data:`FACET_SECONDS`; the last parts add a notice, if any, the footer and the final
    counts."""

    content_type = multipart.CONTENT_TYPE

    def __init__(self, view: View, renderers: Renderers | None = None) -> None:
        super().__init__(view, renderers)
        self._opening = multipart.part(
            render_template("stocks/_restream.html", **self.context).encode(),
            {
                "HX-Target": "#stocks",
                "HX-Swap": "innerHTML",
                "HX-Push-Url": self.context["view_url"],
            },
        )
        self._notice = self._later("stocks/_notice.html")
        self._summary = self._later("stocks/_summary.html")
        self._facets = current_app.jinja_env.get_template("stocks/_facets.html")
        self._html = self.renderers.html
        self._facets_due = 0.0

    def opening(self) -> bytes:
        return self._opening

    def rows(self, rows: Sequence[Row]) -> bytes:
        return multipart.part(self._html(rows).encode(), ROWS_PART)

    def progress(self, tally: Tally) -> bytes:
        if not tally.facets or perf_counter() < self._facets_due:
            return b""
        self._facets_due = perf_counter() + FACET_SECONDS
        return self._facets_part(tally, final=False)

    def _facets_part(self, tally: Tally, final: bool) -> bytes:
        html = self._facets.render(tally=tally, final=final, **self.context)
        return multipart.part(html.encode(), FACETS_PART)

    def closing(self, end: Ending) -> bytes:
        parts = [multipart.part(self._notice(end), ROWS_PART)] if end.early else []
        parts.append(multipart.part(self._summary(end), SUMMARY_PART))
        if end.summary.facets:
            parts.append(self._facets_part(end.summary, final=True))
        return b"".join([*parts, multipart.END])


class _Export(BaseOutput):
    """A download of the view. Not limited to MAX_ROWS (like Datasette's streamed CSV): no
    browser renders these."""

    suffix: ClassVar[str]
    download: ClassVar[bool] = True  # saved as a file (Content-Disposition), not shown
    ends_cleanly = False
    capped = False
    shows_totals = False

    @property
    def headers(self) -> Mapping[str, str]:
        if not self.download:
            return {}
        name = "-".join(filter(None, [self.view.spec.name, describe(self.view.args())]))
        return {"Content-Disposition": f'attachment; filename="{name}.{self.suffix}"'}


class CsvExport(_Export):
    """RFC 4180 with a header line; text cells that a spreadsheet would run are defused."""

    suffix = "csv"
    content_type = "text/csv; charset=utf-8; header=present"

    def opening(self) -> bytes:
        return self.renderers.csv_header.encode()

    def rows(self, rows: Sequence[Row]) -> bytes:
        return self.renderers.csv(rows).encode()


class NdjsonExport(_Export):
    """One JSON object per line; timestamps as ISO 8601 UTC, NULL as null."""

    suffix = "ndjson"
    content_type = "application/x-ndjson"

    def rows(self, rows: Sequence[Row]) -> bytes:
        return self.renderers.ndjson(rows).encode()


class JsonDocument(_Export):
    """The view as one JSON document, streamed: ``{"rows": [...], "count": N, "outcome":
    "completed"}``. The count and outcome come last, as the page's footer does; a stream cut
    short (a failure, a timeout, a lost connection) is never valid JSON, so no client can
    take it for the whole view. Shown in the browser, not downloaded: it is the JSON API."""

    suffix = "json"
    content_type = "application/json"
    download = False

    def __init__(self, view: View, renderers: Renderers | None = None) -> None:
        super().__init__(view, renderers)
        self._between = ""  # no comma before the first chunk's rows

    def opening(self) -> bytes:
        return b'{"rows":['

    def rows(self, rows: Sequence[Row]) -> bytes:
        data = (self._between + self.renderers.json(rows)).encode()
        self._between = ","
        return data

    def closing(self, end: Ending) -> bytes:
        return f'],"count":{end.summary.rows},"outcome":"{end.outcome}"}}\n'.encode()


EXPORTS: Mapping[str, type[_Export]] = {
    export.suffix: export for export in (CsvExport, NdjsonExport, JsonDocument)
}
