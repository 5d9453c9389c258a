"""The table spec is the one definition of the columns: everything else follows from it.

The stock table is checked against its spec (never against a copied column list), and a
spec made here, with nullable columns and awkward names, shows what any table gets.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from sqlalchemy import BigInteger, Double, String, inspect

from web.db import get_engine
from web.models import STOCKS, stocks
from web.render import renderers_for
from web.spec import (
    COUNT,
    MONEY,
    SIGNED,
    TEXT,
    UTC_TIMESTAMP,
    Aggregate,
    ColumnSpec,
    Format,
    Kind,
    Summary,
    TableSpec,
)
from web.streams import Tally

NULLABLE = TableSpec(
    name="screener",
    title="Screener",
    noun=("row", "rows"),
    columns=(
        ColumnSpec("symbol", "Symbol", String(16), Kind.TEXT, TEXT, unique=True),
        ColumnSpec("note", "Note", String(40), Kind.TEXT, TEXT, nullable=True),
        ColumnSpec(
            "dividend_yield",
            "Dividend yield",
            Double(),
            Kind.NUMBER,
            MONEY,
            nullable=True,
            summary=Summary(Aggregate.AVERAGE, "average yield", ".2f"),
        ),
        ColumnSpec("change", "Change", Double(), Kind.NUMBER, SIGNED, nullable=True),
        ColumnSpec("shares", "Shares", BigInteger(), Kind.NUMBER, COUNT, nullable=True),
        ColumnSpec("seen", "Seen", String(20), Kind.TIME, UTC_TIMESTAMP, nullable=True),
    ),
)
NULL_ROW = ("AB", None, None, None, None, None)
FULL_ROW = ("CD", "=1+1", 2.5, -1.25, 1234, "2026-11-20 16:00:00")


def test_the_table_has_the_spec_columns_and_an_index_per_sort(app):
    inspector = inspect(get_engine(app))
    columns = {column["name"]: column for column in inspector.get_columns(stocks.name)}
    assert list(columns) == ["id", *STOCKS.keys]
    for spec in STOCKS.columns:
        assert columns[spec.key]["nullable"] == spec.nullable, spec.key
    indexed = {tuple(index["column_names"]) for index in inspector.get_indexes(stocks.name)}
    for spec in STOCKS.columns:
        expected = (spec.key,) if spec.unique else (spec.key, "id")
        assert (expected in indexed) == spec.sortable, spec.key


def test_exports_name_the_spec_columns_in_order(client):
    header = client.get("/stocks.csv").get_data(as_text=True).splitlines()[0]
    assert header.split(",") == list(STOCKS.keys)
    first = client.get("/stocks.ndjson").get_data(as_text=True).splitlines()[0]
    assert list(json.loads(first)) == list(STOCKS.keys)


def test_the_header_shows_the_spec_labels_in_order(client):
    page = client.get("/stocks").get_data(as_text=True)
    labels = re.findall(r'data-dir="(?:asc|desc)">([^<]+)</a></th>', page)
    assert labels == [column.label for column in STOCKS.columns]


def test_the_column_stylesheet_follows_the_spec_and_the_settings(app_with):
    client = app_with(CHUNK_ROWS=7).test_client()
    page = client.get("/stocks").get_data(as_text=True)
    (href,) = re.findall(r'href="(/columns\.css\?v=\w+)"', page)
    css = client.get(href).get_data(as_text=True)
    for position, column in enumerate(STOCKS.columns, start=1):
        rule = re.search(rf":nth-child\({position}\) \{{([^}}]*)\}}", css)
        if column.width:
            assert f"width: {column.width}" in rule.group(1), column.key
        assert ("text-align: right" in (rule.group(1) if rule else "")) == (
            column.kind is Kind.NUMBER
        ), column.key
    assert "calc(7 * var(--row-height))" in css


def test_the_column_stylesheet_may_be_cached_and_revalidated(client):
    page = client.get("/stocks").get_data(as_text=True)
    (href,) = re.findall(r'href="(/columns\.css\?v=\w+)"', page)
    response = client.get(href)
    assert response.cache_control.immutable and response.cache_control.max_age > 86_400
    again = client.get("/columns.css", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert not client.get("/columns.css?v=old").cache_control.immutable


def test_nulls_are_an_empty_cell_an_empty_field_and_json_null():
    renderers = renderers_for(NULLABLE)
    html = renderers.html([NULL_ROW])
    assert "<tr><td>AB<td><td><td><td><td></tbody>" in html

    (record,) = csv.reader(io.StringIO(renderers.csv([NULL_ROW])))
    assert record == ["AB", "", "", "", "", ""]

    line = json.loads(renderers.ndjson([NULL_ROW]))
    assert line == {
        "symbol": "AB",
        "note": None,
        "dividend_yield": None,
        "change": None,
        "shares": None,
        "seen": None,
    }


def test_nullable_columns_still_format_their_values():
    renderers = renderers_for(NULLABLE)
    assert "<td>CD<td>=1+1<td>2.50<td>-1.25<td>1,234<td>2026-11-20 16:00:00" in renderers.html(
        [FULL_ROW]
    )
    (record,) = csv.reader(io.StringIO(renderers.csv([FULL_ROW])))
    assert record == ["CD", "'=1+1", "2.5", "-1.25", "1234", "2026-11-20 16:00:00"]
    assert json.loads(renderers.ndjson([FULL_ROW]))["seen"] == "2026-11-20T16:00:00Z"


def test_the_footer_skips_nulls_when_it_averages():
    summary = Tally(NULLABLE, totals=True)
    summary.add([NULL_ROW, FULL_ROW, ("EF", None, 3.5, None, None, None)])
    assert summary.rows == 3
    assert summary.figures() == [("average yield", "3.00")]
    empty = Tally(NULLABLE, totals=True)
    empty.add([NULL_ROW])
    assert empty.figures() == [("average yield", "n/a")]


@pytest.mark.parametrize(
    "odd",
    ['it\'s "quoted"', "it's", "back\\slash", "{braces}", "naïve", "new\nline", "plain name"],
)
def test_column_names_never_become_code(odd):
    table = TableSpec(
        name="odd",
        title="Odd",
        noun=("row", "rows"),
        columns=(ColumnSpec(odd, "Odd", String(10), Kind.TEXT, TEXT),),
    )
    renderers = renderers_for(table)
    assert json.loads(renderers.ndjson([("x",)])) == {odd: "x"}
    (header,) = csv.reader(io.StringIO(renderers.csv_header))
    assert header == [odd]
    assert renderers.html([("<b>",)]).count("&lt;b&gt;") == 1


def test_a_bad_format_spec_is_refused_when_the_renderers_are_made():
    bad = ColumnSpec("x", "X", Double(), Kind.NUMBER, Format("}{", "value", "number"))
    table = TableSpec(name="bad", title="Bad", noun=("row", "rows"), columns=(bad,))
    with pytest.raises(ValueError, match="not a format spec"):
        renderers_for(table)


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ((ColumnSpec("id", "Id", String(4), Kind.TEXT, TEXT),), "'id' is the row id"),
        (
            (
                ColumnSpec("a", "A", String(4), Kind.TEXT, TEXT),
                ColumnSpec("a", "A", String(4), Kind.TEXT, TEXT),
            ),
            "column keys repeat",
        ),
    ],
)
def test_a_spec_that_cannot_work_is_refused(columns, message):
    with pytest.raises(ValueError, match=message):
        TableSpec(name="t", title="T", noun=("row", "rows"), columns=columns)


def test_an_enum_column_needs_its_choices():
    with pytest.raises(ValueError, match="needs its choices"):
        ColumnSpec("e", "E", String(4), Kind.ENUM, TEXT)


def test_a_column_is_not_null_unless_declared_nullable(app):
    """NOT NULL is the default: only a column that says so pays for NULL checks per row."""
    assert ColumnSpec("x", "X", String(4), Kind.TEXT, TEXT).nullable is False
    columns = inspect(get_engine(app)).get_columns(stocks.name)
    assert [c["name"] for c in columns if c["nullable"]] == [
        column.key for column in STOCKS.columns if column.nullable
    ]
