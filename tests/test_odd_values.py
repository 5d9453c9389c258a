"""Values are rendered by their type, safely, whatever the storage holds.

PostgreSQL keeps NaN and +-Infinity in a ``double precision`` column; SQLite keeps text in an
integer column when it is given text. Neither may produce JSON that is not JSON, a cell
that escapes its column, a footer that says "nan", or a page that blames the database.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import replace

import pytest

from web import outputs, render
from web.models import STOCKS
from web.render import renderers_for
from web.seeding import generate_rows
from web.streams import Tally

from .stock_rows import add_stock

NAN, INF = float("nan"), float("inf")
ROW = ("ZQO", "Odd & Co", "NYSE", "Energy", 1.5, -2.25, 10, 20, "2026-01-02 03:04:05")
INJECTION = '1,"injected":true'


def strict_json(text: str) -> object:
    """json.loads, but refusing NaN and Infinity, which Python's parser takes by default."""

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def odd(**values) -> tuple:
    row = dict(zip(STOCKS.keys, ROW, strict=True)) | values
    return tuple(row[key] for key in STOCKS.keys)


def rendered(row: tuple) -> tuple[str, list[str], dict, dict]:
    """The row as each output renders it: HTML, a CSV record, an NDJSON and a JSON object."""
    renderers = renderers_for(STOCKS)
    (record,) = csv.reader(io.StringIO(renderers.csv([row])))
    ndjson = strict_json(renderers.ndjson([row]))
    document = strict_json("[" + renderers.json([row]) + "]")[0]
    return renderers.html([row]), record, ndjson, document


def test_nan_and_infinity_are_json_null_and_named_in_html_and_csv():
    html, record, ndjson, document = rendered(odd(price=NAN, change_pct=-INF, market_cap=INF))
    assert "<td>NaN<td class=d>-Infinity<td>10<td>Infinity<td>" in html
    assert record[4:8] == ["NaN", "-Infinity", "10", "Infinity"]
    for line in (ndjson, document):
        assert line["price"] is None and line["change_pct"] is None
        assert line["market_cap"] is None and line["volume"] == 10


def test_text_in_a_number_column_goes_out_as_text_never_as_markup_or_json():
    formula = '=HYPERLINK("http://x")'
    html, record, ndjson, document = rendered(odd(volume=INJECTION, price=formula))
    assert "<td>=HYPERLINK(&#34;http://x&#34;)<td class=d>-2.25" in html
    assert "<td>1,&#34;injected&#34;:true<td>" in html
    assert record[4] == "'" + formula and record[6] == INJECTION
    for line in (ndjson, document):
        assert line["volume"] == INJECTION and line["price"] == formula
        assert "injected" not in line


def test_a_blob_or_a_float_in_an_integer_column_is_shown_as_what_it_is():
    html, record, ndjson, _ = rendered(odd(volume=2.5, market_cap=b"<\xff>"))
    assert "<td>2.5<td>&lt;\ufffd&gt;<td>" in html
    assert record[6:8] == ["2.5", "<\ufffd>"]
    assert ndjson["volume"] == 2.5 and ndjson["market_cap"] == "<\ufffd>"


def test_the_safe_loops_write_ordinary_rows_exactly_as_the_fast_ones():
    """A chunk may take either loop: the reader must not see which."""
    rows = [row[1:] for block in generate_rows(2_000, seed=3) for row in block]
    renderers = renderers_for(STOCKS)
    for output in (renderers.html, renderers.csv, renderers.ndjson, renderers.json):
        assert output.safe(rows) == output.fast(rows)


def test_ordinary_rows_take_the_fast_loop_and_odd_ones_the_safe_one():
    renderers = renderers_for(STOCKS)
    assert renderers.ndjson.fast([ROW]) == renderers.ndjson([ROW])
    with pytest.raises(render.OddValue):
        renderers.ndjson.fast([odd(price=NAN)])
    assert renderers.ndjson([ROW, odd(price=NAN)]) == renderers.ndjson.safe([ROW, odd(price=NAN)])


def test_the_footer_averages_only_finite_numbers():
    summary = Tally(STOCKS, totals=True)
    summary.add([odd(price=NAN), odd(price=INF), odd(price="text"), odd(price=4.0, market_cap=2e9)])
    assert summary.rows == 4
    assert dict(summary.figures())["average price"] == "4.00"


def exported(client, fmt: str, query: str) -> str:
    response = client.get(f"/stocks.{fmt}?{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_non_finite_prices_in_the_database_stream_as_valid_json_and_a_sound_footer(app, client):
    # SQLite stores NaN as NULL (which the column refuses), so it gets the infinities only.
    nan = NAN if app.extensions["streamtable.engine"].dialect.name == "postgresql" else INF
    add_stock(app, symbol="ZQN1", price=nan, change_pct=-INF)
    add_stock(app, symbol="ZQN2", price=INF, change_pct=1.0)
    add_stock(app, symbol="ZQN3", price=3.0)

    lines = [strict_json(line) for line in exported(client, "ndjson", "q=ZQN").splitlines()]
    assert [line["price"] for line in lines] == [None, None, 3.0]
    document = strict_json(exported(client, "json", "q=ZQN"))
    assert document["count"] == 3 and document["outcome"] == "completed"

    page = client.get("/stocks?q=ZQN").get_data(as_text=True)
    assert "average price 3.00" in page and 'data-outcome="completed"' in page
    assert "<td>Infinity<td>+1.00<td>" in page


def test_text_in_an_integer_column_of_sqlite_goes_out_quoted(app, client):
    if app.extensions["streamtable.engine"].dialect.name != "sqlite":
        pytest.skip("PostgreSQL's typed columns refuse text in a bigint: nothing to render")
    add_stock(app, symbol="ZQT1", volume=INJECTION, market_cap="=1+1")

    (line,) = [strict_json(line) for line in exported(client, "ndjson", "q=ZQT1").splitlines()]
    assert line["volume"] == INJECTION and "injected" not in line
    records = list(csv.reader(io.StringIO(exported(client, "csv", "q=ZQT1"), newline="")))
    assert records[1][6:8] == [INJECTION, "'=1+1"]
    page = client.get("/stocks?q=ZQT1").get_data(as_text=True)
    assert 'data-outcome="completed"' in page and "1,&#34;injected&#34;:true" in page
    assert "average price 1.50" in page and "total market cap 0.0 bn" in page


def test_a_rendering_error_is_reported_as_the_apps_not_the_databases(client, caplog, monkeypatch):
    def broken(rows):
        raise RuntimeError("a renderer bug")

    def with_a_bug(table):
        return replace(renderers_for(table), html=broken)

    monkeypatch.setattr(outputs, "renderers_for", with_a_bug)
    with caplog.at_level(logging.INFO):
        page = client.get("/stocks").get_data(as_text=True)
    assert 'data-outcome="failed"' in page
    assert "the app could not show the rows after the first 0" in page
    assert "the database failed" not in page
    (error,) = [r for r in caplog.records if "failed after" in r.getMessage()]
    assert "rendering error" in error.getMessage()
    (line,) = [r for r in caplog.records if r.getMessage().startswith("stream {")]
    assert json.loads(line.getMessage().removeprefix("stream "))["failure"] == "rendering"


def test_the_row_page_and_its_json_show_odd_values_by_their_type(app, client):
    sqlite = app.extensions["streamtable.engine"].dialect.name == "sqlite"
    odd_volume = INJECTION if sqlite else 10  # PostgreSQL refuses text in a bigint
    add_stock(app, symbol="ZQR1", volume=odd_volume, price=INF, change_pct=-INF)
    page = client.get("/stocks/ZQR1")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<dd class="right">Infinity</dd>' in html and ">-Infinity</dd>" in html
    if sqlite:
        assert ">1,&#34;injected&#34;:true</dd>" in html
    row = strict_json(client.get("/stocks/ZQR1.json").get_data(as_text=True))
    assert row["price"] is None and row["volume"] == odd_volume
