"""Turn lists of rows into HTML: the per-row loop of the whole app lives here.

Rows are f-strings, not templates: one ``render_template`` per row streamed ~5k rows/s
here, a batched f-string ~200k rows/s. The markup leans on HTML's optional end tags
(``</td>``, ``</tr>``) to send a fifth fewer bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import Row

try:
    # markupsafe's C escaper without the Markup wrapper: ~0.8 us/row faster than html.escape.
    from markupsafe import _escape_inner as escape_text
except ImportError:  # pragma: no cover - a markupsafe that moved it; same output, slower
    from html import escape as escape_text

ROW_GROUP_OPEN = '<div class="g"><table>'
ROW_GROUP_CLOSE = "</table></div>"


def html_rows(rows: Sequence[Row]) -> str:
    """One ``<tr>`` per row, in the column order of :data:`web.view.COLUMNS`."""
    e = escape_text
    return "".join(
        [
            f"<tr><td>{e(symbol)}<td>{e(name)}<td>{e(exchange)}<td>{e(sector)}"
            f"<td>{price:,.2f}<td>{change:+.2f}<td>{volume:,}<td>{cap:,}<td>{e(updated)}"
            for symbol, name, exchange, sector, price, change, volume, cap, updated in rows
        ]
    )


def html_row_groups(batches: Iterable[Sequence[Row]], group_rows: int) -> Iterator[str]:
    """Render batches of rows, wrapped in row groups of at least ``group_rows`` rows.

    Each group is its own fixed-layout table in a ``content-visibility: auto`` block, so
    the browser lays out only the groups on screen (see ``static/css/stocks.css``).
    """
    in_group = 0
    for rows in batches:
        html = html_rows(rows)
        if not in_group:
            html = ROW_GROUP_OPEN + html
        in_group += len(rows)
        if in_group >= group_rows:
            html += ROW_GROUP_CLOSE
            in_group = 0
        yield html
    if in_group:
        yield ROW_GROUP_CLOSE
