"""The filters of each column kind: parsed from the URL, refused with a message, and
selecting exactly the rows a person means; facet counts equal to SQL's GROUP BY."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import func, select, true
from werkzeug.datastructures import MultiDict

from web.db import get_engine
from web.models import STOCKS, stocks
from web.view import InvalidView, View

MAX_SEARCH_LENGTH = 100


def parse(query: str) -> View:
    return View.from_args(MultiDict(parse_qsl(query, keep_blank_values=True)), STOCKS, 100)


def all_rows(app) -> list[dict]:
    with get_engine(app).connect() as conn:
        return [row._asdict() for row in conn.execute(select(stocks))]


def symbols(app, view: View) -> set[str]:
    statement = view.statement().with_only_columns(stocks.c.symbol)
    with get_engine(app).connect() as conn:
        return set(conn.scalars(statement))


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("price__gte=250", lambda r: r["price"] >= 250),
        ("price__lte=250", lambda r: r["price"] <= 250),
        ("price__gt=250&price__lt=300", lambda r: 250 < r["price"] < 300),
        ("change_pct__lt=-2.5", lambda r: r["change_pct"] < -2.5),
        ("volume__gte=1000000", lambda r: r["volume"] >= 1_000_000),
        ("market_cap__lte=5e9", lambda r: r["market_cap"] <= 5e9),
        ("name__contains=ENERGY", lambda r: "energy" in r["name"].lower()),
        ("name__startswith=aurora", lambda r: r["name"].lower().startswith("aurora")),
        ("exchange=NYSE&exchange=LSE", lambda r: r["exchange"] in ("NYSE", "LSE")),
        (
            "sector=Energy&exchange=NYSE&price__gte=100",
            lambda r: r["sector"] == "Energy" and r["exchange"] == "NYSE" and r["price"] >= 100,
        ),
    ],
)
def test_each_filter_keeps_exactly_the_rows_it_names(app, query, keep):
    expected = {r["symbol"] for r in all_rows(app) if keep(r)}
    assert expected, "the seeded rows must exercise the filter"
    assert symbols(app, parse(query)) == expected


def test_symbol_equals_finds_one_row(app):
    symbol = all_rows(app)[7]["symbol"]
    assert symbols(app, parse(f"symbol__exact={symbol}")) == {symbol}


def test_time_bounds_take_dates_times_and_zones(app):
    times = sorted(r["updated_at"] for r in all_rows(app))
    middle = times[len(times) // 2]
    day = middle.date().isoformat()
    on_or_before_day = {
        r["symbol"] for r in all_rows(app) if r["updated_at"].date() <= middle.date()
    }
    assert symbols(app, parse(f"updated_at__lte={day}")) == on_or_before_day, "the whole day"
    after_day = {r["symbol"] for r in all_rows(app) if r["updated_at"].date() > middle.date()}
    assert symbols(app, parse(f"updated_at__gt={day}")) == after_day
    since = {r["symbol"] for r in all_rows(app) if r["updated_at"] >= middle}
    assert symbols(app, parse(f"updated_at__gte={middle.isoformat()}")) == since
    # The same instant written at UTC+02:00, its "+" escaped or (typed) as a space.
    local = (middle + timedelta(hours=2)).isoformat()
    assert symbols(app, parse(f"updated_at__gte={local}%2B02:00")) == since
    assert symbols(app, parse(f"updated_at__gte={local}+02:00")) == since


def test_canonical_args_keep_the_order_of_the_spec_and_leave_defaults_out():
    view = parse("price__gte=100&cols=symbol,price&sector=Utilities&sector=Energy&sort=price")
    assert view.items() == [
        ("sort", "price"),
        ("sector", "Energy"),  # in the spec's order of choices
        ("sector", "Utilities"),
        ("price__gte", "100"),
        ("cols", "symbol,price"),
    ]
    assert parse("&".join(f"{k}={v}" for k, v in view.items())) == view
    assert parse("cols=" + ",".join(STOCKS.keys)).cols is None, "all columns is the default"


def test_the_filter_menu_fields_become_the_parameter_they_stand_for():
    menu = "_filter_column=price&_filter_op=gte&_filter_value=100"
    assert parse(menu) == parse("price__gte=100")
    assert parse("_filter_column=name&_filter_op=&_filter_value=acme") == parse(
        "name__contains=acme"
    ), "no operator: the column's first"
    assert parse("_filter_column=price&_filter_op=gte&_filter_value=") == parse(""), "left empty"


def test_a_chip_a_facet_and_clear_all_lead_to_the_views_they_say():
    view = parse("sector=Energy&price__gte=100&q=acme&sort=volume")
    [sector, price] = view.filters
    assert view.without(price) == parse("sector=Energy&q=acme&sort=volume")
    assert view.cleared() == parse("sort=volume")
    assert view.toggled("sector", "Utilities") == parse(
        "sector=Energy&sector=Utilities&price__gte=100&q=acme&sort=volume"
    )
    assert view.toggled("sector", "Energy") == parse("price__gte=100&q=acme&sort=volume")
    assert sector.describe() == "Sector is Energy" and price.describe() == "Price ≥ 100"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("price__gte=abc", "'abc' is not a number"),
        ("price__gte=nan", "is not a number"),
        ("price__gte=1e999", "is not a number"),
        ("price__contains=5", "price is a number: filter it with price__gte, price__lte"),
        ("price=5", "price needs an operator: price__gte"),
        ("name__gte=a", "name is text: filter it with name__contains, name__startswith"),
        ("sector__contains=En", "sector is a choice: filter it with sector"),
        ("sector=Moon", "sector must be one of: Communication Services"),
        ("nope__gte=1", "nope__gte: no column 'nope'"),
        ("updated_at__lte=yesterday", "is not a date or time"),
        ("updated_at__lte=2026-02-30", "is not a date or time"),
        ("price__gte=1&price__gte=2", "give price__gte at most once"),
        ("cols=symbol,password", "cols: no column 'password'"),
        ("_filter_column=password&_filter_value=1", "_filter_column: no column 'password'"),
        ("_filter_column=price&_filter_op=like&_filter_value=1", "price is a number"),
    ],
)
def test_bad_filters_are_refused_with_what_to_fix(query, message):
    with pytest.raises(InvalidView, match=message.replace("(", r"\(")):
        parse(query)


def test_bad_filters_are_a_400_with_the_message(client):
    response = client.get("/stocks?price__gte=abc")
    assert response.status_code == 400
    assert "is not a number" in response.get_data(as_text=True)
    fragment = client.get("/stocks?price__gte=abc", headers={"HX-Request": "true"})
    assert fragment.status_code == 400 and fragment.headers["HX-Retarget"] == "#view-error"


@pytest.mark.parametrize(
    "query", ["", "sector=Energy&sector=Materials", "price__gte=200&exchange=NYSE", "q=solar"]
)
def test_facet_counts_and_the_footer_equal_group_by_and_count(app, client, query):
    view = parse(query)
    condition = view.statement().whereclause
    if condition is None:
        condition = true()
    with get_engine(app).connect() as conn:
        total = conn.scalar(select(func.count()).select_from(stocks).where(condition))
        expected = {
            key: Counter(
                dict(
                    conn.execute(
                        select(stocks.c[key], func.count()).where(condition).group_by(stocks.c[key])
                    ).all()
                )
            )
            for key in ("exchange", "sector")
        }
    page = client.get(f"/stocks?{query}").get_data(as_text=True)
    assert f'data-rows="{total}"' in page
    final = page.split('id="facets-final"', 1)[1]
    for key in ("exchange", "sector"):
        section = final.split(f"<h2>{STOCKS.column(key).label}</h2>", 1)[1].split("</ul>", 1)[0]
        shown = {value: int(count.replace(",", "")) for value, count in _counts(section)}
        assert shown == dict(expected[key]), key


def _counts(section: str) -> list[tuple[str, str]]:
    return re.findall(r'data-value="([^"]+)">([\d,]+)<', section)
