"""Turn chunks of rows into text: HTML row groups, CSV and NDJSON.

Each per-row loop of the app lives here. Rows are f-strings, not templates: one
``render_template`` per row streams ~15k rows/s (``make bench``'s classic baseline), a list
comprehension per chunk ~200k rows/s. Values arrive in the column order of
:data:`web.view.COLUMNS`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from sqlalchemy import Row

try:
    # markupsafe's C escaper without the Markup wrapper: ~0.8 us/row faster than html.escape.
    from markupsafe import _escape_inner as escape_text
except ImportError:  # pragma: no cover - a markupsafe that moved it; same output, slower
    from html import escape as escape_text


def html_row_group(rows: Sequence[Row]) -> str:
    """One row group: a fixed-layout table in a ``content-visibility: auto`` block.

    The browser lays out only the groups near the screen (static/css/stocks.css). Each
    group's table is a rowgroup of the one ``role="table"`` around them all, so assistive
    technology sees one table (templates/stocks/_table_open.html). The markup leans on
    HTML's optional end tags (``</td>``, ``</tr>``): a fifth fewer bytes.
    """
    e = escape_text
    return "".join(
        [
            '<div class="g"><table role="rowgroup">',
            *[
                f"<tr><td>{e(symbol)}<td>{e(name)}<td>{e(exchange)}<td>{e(sector)}"
                f"<td>{price:,.2f}<td>{change:+.2f}<td>{volume:,}<td>{cap:,}<td>{e(updated)}"
                for symbol, name, exchange, sector, price, change, volume, cap, updated in rows
            ],
            "</table></div>",
        ]
    )


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe (OWASP)."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_rows(rows: Sequence[Row]) -> str:
    """RFC 4180 records (CRLF line ends, quotes only where needed); text cells defused."""
    out = io.StringIO()
    c = _cell
    csv.writer(out).writerows(
        [
            (c(symbol), c(name), c(exchange), c(sector), price, change, volume, cap, updated)
            for symbol, name, exchange, sector, price, change, volume, cap, updated in rows
        ]
    )
    return out.getvalue()


def csv_header(keys: Sequence[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(keys)
    return out.getvalue()


def ndjson_rows(rows: Sequence[Row]) -> str:
    """One JSON object per line; timestamps as ISO 8601 UTC."""
    dumps = json.dumps
    return "".join(
        [
            f'{{"symbol":{dumps(symbol)},"name":{dumps(name)},"exchange":{dumps(exchange)},'
            f'"sector":{dumps(sector)},"price":{price!r},"change_pct":{change!r},'
            f'"volume":{volume},"market_cap":{cap},'
            f'"updated_at":{dumps(updated.replace(" ", "T") + "Z")}}}\n'
            for symbol, name, exchange, sector, price, change, volume, cap, updated in rows
        ]
    )
