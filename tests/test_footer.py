"""The footer's figures (stocks, average price, total market cap) match the database."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from web.db import get_engine

from .stock_rows import add_stock

HTMX = {"HX-Request": "true"}


def expected_footer(app, where: str = "", **params) -> tuple[str, str, str]:
    """The three figures as the footer prints them, computed by SQL, not by the app."""
    query = f"SELECT count(*), avg(price), sum(market_cap) FROM stocks {where}"
    with get_engine(app).connect() as conn:
        rows, average, market_cap = conn.execute(text(query), params).one()
    market_cap = int(market_cap)  # PostgreSQL sums bigints as numeric (a Decimal)
    return f"{rows:,}", f"{average:,.2f}", f"{market_cap / 1e9:,.1f}"


def footer_figures(body: str) -> tuple[str, str, str]:
    match = re.search(
        r"([\d,]+) stocks?\s+· average price ([\d,.]+)\s+· total market cap ([\d,.]+) bn", body
    )
    assert match, "no summary in the footer"
    return match[1], match[2], match[3]


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
@pytest.mark.parametrize(
    ("query", "where", "params"),
    [
        ("", "", {}),
        ("?sector=Energy", "WHERE sector = :sector", {"sector": "Energy"}),
        (
            "?exchange=TSX&sort=price&dir=desc",
            "WHERE exchange = :exchange",
            {"exchange": "TSX"},
        ),
    ],
    ids=["all", "sector", "exchange-sorted"],
)
def test_footer_shows_the_average_price_and_total_market_cap_of_the_view(
    app, client, headers, query, where, params
):
    """The app sums the rows as they stream by; SQL over the same rows must agree."""
    body = client.get(f"/stocks{query}", headers=headers).get_data(as_text=True)
    assert footer_figures(body) == expected_footer(app, where, **params)


def test_footer_of_a_single_stock_shows_its_own_price_and_cap(app, client):
    add_stock(app, symbol="ZQZQ", name="Only one", price=1234.5, market_cap=56_780_000_000)
    body = client.get("/stocks?q=ZQZQ").get_data(as_text=True)
    assert footer_figures(body) == ("1", "1,234.50", "56.8")
    assert "1 stock\n" in body
