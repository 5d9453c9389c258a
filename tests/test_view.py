"""The query string: parsed into a View, validated, and turned into the right rows."""

from __future__ import annotations

import pytest
from flask import url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from web.db import get_engine
from web.filters import parse as parse_filter
from web.models import STOCKS, stocks
from web.view import InvalidView, View

MAX_SEARCH_LENGTH = 100  # the documented default of the setting
EXCHANGES = STOCKS.column("exchange").choices
SECTORS = STOCKS.column("sector").choices


def parse(query: str = "", **args) -> View:
    from urllib.parse import parse_qsl

    args = MultiDict(parse_qsl(query, keep_blank_values=True) or args)
    return View.from_args(args, STOCKS, MAX_SEARCH_LENGTH)


def make(sort: str = "symbol", descending: bool = False, q: str | None = None, **filters) -> View:
    """A view of the stock table; ``filters`` by enum column, e.g. ``sector="Energy"``."""
    chosen = tuple(
        parse_filter(c, "in", [filters.pop(c.key)]) for c in STOCKS.enums if c.key in filters
    )
    assert not filters, f"not enum columns: {filters}"
    return View(STOCKS, sort, descending, chosen, q)


def test_defaults():
    assert parse() == make(sort="symbol", descending=False) == View.default(STOCKS)
    assert parse("sort=&dir=&exchange=&sector=&q=") == make()


def test_every_parameter():
    view = parse("sort=price&dir=desc&exchange=NYSE&sector=Energy&q=acme")
    assert view == make("price", True, "acme", exchange="NYSE", sector="Energy")


def test_unknown_parameters_are_ignored():
    assert parse("utm_source=mail&page=2") == make()


def test_the_same_value_twice_is_accepted():
    assert parse("sort=price&sort=price").sort == "price"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sort=password", "sort must be one of: symbol, name"),
        ("sort=id", "sort must be one of"),
        ("dir=up", "dir must be asc or desc"),
        ("exchange=Moon", "exchange must be one of: NYSE"),
        ("sector=energy", "sector must be one of"),
        ("q=" + "x" * (MAX_SEARCH_LENGTH + 1), f"at most {MAX_SEARCH_LENGTH} characters"),
        ("q=a%00b", "control characters"),
        ("sort=price&sort=volume", "give sort at most once"),
    ],
)
def test_bad_values_are_refused_with_a_message(query, message):
    with pytest.raises(InvalidView, match=message):
        parse(query)


def test_args_round_trip_and_leave_defaults_out():
    view = make("volume", True, "a&b", sector="Utilities")
    assert view.args() == {"sort": "volume", "dir": "desc", "sector": "Utilities", "q": "a&b"}
    assert View.from_args(MultiDict(view.args()), STOCKS, MAX_SEARCH_LENGTH) == view
    assert make().args() == {}


@pytest.mark.parametrize(
    "query",
    [
        "",
        "sort=price&dir=desc",
        "exchange=NYSE&exchange=TSX&sector=Health+Care&price__gte=1.5",
        "q=Smith+%26+Wesson+%3CClass+A%3E%2Fx%3F%23%25+caf%C3%A9&cols=symbol,name",
        "updated_at__lte=2026-11-30T16:00:00%2B01:00&name__contains=O%27Brien+%22x%22",
    ],
)
def test_a_views_url_is_what_url_for_writes(app, query):
    view = parse(query)
    with app.test_request_context():
        assert view.url(url_for("stocks.table")) == url_for("stocks.table", **view.args())


def test_clicking_a_header_sorts_by_it_then_reverses():
    view = make()
    assert view.sorted_by("price") == make("price", False)
    assert view.sorted_by("price").sorted_by("price") == make("price", True)
    assert view.sorted_by("symbol") == make("symbol", True)


def all_rows(app) -> list[dict]:
    with get_engine(app).connect() as conn:
        return [row._asdict() for row in conn.execute(select(stocks))]


def view_rows(app, view: View) -> list[tuple]:
    with get_engine(app).connect() as conn:
        return [tuple(row) for row in conn.execute(view.statement())]


@pytest.mark.parametrize("key", STOCKS.sort_keys)
@pytest.mark.parametrize("descending", [False, True])
def test_every_sort_order(app, key, descending):
    rows = all_rows(app)
    # NULL sorts as the smallest value on SQLite, as the largest on PostgreSQL.
    nulls_smallest = get_engine(app).dialect.name == "sqlite"

    def order(row: dict) -> tuple:
        return ((row[key] is None) != nulls_smallest, row[key], row["id"])

    expected = sorted(rows, key=order, reverse=descending)
    got = view_rows(app, make(key, descending))
    assert [row[0] for row in got] == [row["symbol"] for row in expected]


def test_filters_and_search_select_exactly_the_matching_rows(app):
    rows = all_rows(app)
    exchange, sector = EXCHANGES[0], SECTORS[3]
    got = view_rows(app, make(exchange=exchange, sector=sector))
    expected = [r for r in rows if r["exchange"] == exchange and r["sector"] == sector]
    assert len(got) == len(expected) > 0
    assert {row[0] for row in got} == {row["symbol"] for row in expected}

    got = view_rows(app, make(q="SOLAR"))
    expected = [r for r in rows if r["symbol"].startswith("SOLAR") or "solar" in r["name"].lower()]
    assert len(got) == len(expected) > 0


def test_search_wildcards_are_literal(app):
    assert view_rows(app, make(q="%")) == []
    assert view_rows(app, make(q="_")) == []


def test_the_select_list_is_the_spec_in_order():
    assert [column.name for column in make().statement().selected_columns] == list(STOCKS.keys)


@pytest.mark.parametrize(
    "query",
    ["sort=nope", "dir=sideways", "exchange=%3Cscript%3E", "sector=x", "q=" + "y" * 500],
)
def test_bad_views_get_400_with_a_message_never_a_500(client, query):
    for path in ("/stocks", "/stocks.csv", "/stocks.ndjson"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, path
        assert "must" in response.get_data(as_text=True)
        assert "<script>" not in response.get_data(as_text=True)


def test_bad_view_for_htmx_is_a_fragment_shown_beside_the_controls(client):
    response = client.get("/stocks?sort=nope", headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#view-error"
    assert response.headers["HX-Reswap"] == "innerHTML"
    body = response.get_data(as_text=True)
    assert "<html" not in body and "sort must be one of" in body


def test_page_links_every_column_header_to_its_sorted_view(client):
    page = client.get("/stocks?sort=price&dir=desc&sector=Energy").get_data(as_text=True)
    assert '<th scope="col" aria-sort="descending">' in page
    assert 'href="/stocks?sort=price&amp;sector=Energy" data-sort="price" data-dir="asc"' in page
    assert 'href="/stocks?sort=volume&amp;sector=Energy" data-sort="volume"' in page
    assert "<option selected>Energy</option>" in page
    assert 'href="/stocks.csv?sort=price&amp;dir=desc&amp;sector=Energy"' in page


def test_empty_result_says_so(client):
    page = client.get("/stocks?q=no-such-stock").get_data(as_text=True)
    assert "No stocks match this view." in page
    assert 'data-rows="0"' in page


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("q=&exchange=&sector=Energy&sort=symbol&dir=asc", "/stocks?sector=Energy"),
        ("q=+acme+&sort=price&dir=asc", "/stocks?sort=price&q=acme"),
        ("utm_source=x", "/stocks"),
    ],
)
def test_long_form_urls_lead_to_the_short_one(client, query, canonical):
    response = client.get(f"/stocks?{query}")
    assert response.status_code == 302
    assert response.headers["Location"] == canonical
    assert client.get(canonical).status_code == 200


def test_exports_too(client):
    response = client.get("/stocks.csv?sort=symbol&dir=asc&q=")
    assert (response.status_code, response.headers["Location"]) == (302, "/stocks.csv")
