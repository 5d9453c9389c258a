"""A page per row: the symbol in each row links to it, it shows every field, and its JSON is
the row as /stocks.json has it. Numbers a person can read, with the exact figure kept."""

from __future__ import annotations

import json
import re
from urllib.parse import urljoin

import pytest

from .conftest import table_cells
from .stock_rows import add_stock


def row_link(page: str, symbol: str) -> str:
    [href] = re.findall(rf"<a href=([^ >]+)>{re.escape(symbol)}</a>", page)
    return urljoin("http://localhost/stocks", href)  # as a browser resolves it


@pytest.mark.parametrize("symbol", ["ODDA", "BRK.B", "A/B C", "AT&T", "<Z>", "ÉTÉ"])
def test_each_symbol_links_to_its_row_page(app, client, symbol):
    from markupsafe import escape

    add_stock(app, symbol=symbol, name="Oddly Named & Co", market_cap=13_867_645_106)
    page = client.get("/stocks?symbol__exact=" + symbol.replace("&", "%26")).get_data(True)
    url = row_link(page, str(escape(symbol)))
    assert url.startswith("http://localhost/stocks/")
    row = client.get(url.removeprefix("http://localhost"))
    assert row.status_code == 200
    text = row.get_data(as_text=True)
    assert f'<dd class="left">{escape(symbol)}</dd>' in text
    assert "13,867,645,106 (13.87 bn)" in text, "the exact figure beside the short one"
    as_json = client.get(url.removeprefix("http://localhost") + ".json")
    assert as_json.mimetype == "application/json"
    assert as_json.get_json()["symbol"] == symbol


def test_a_row_page_has_every_field_and_its_json_matches_the_export(client):
    export = client.get("/stocks.json").get_json()["rows"]
    first = export[0]
    page = client.get(f"/stocks/{first['symbol']}").get_data(as_text=True)
    for label in ("Symbol", "Name", "Exchange", "Sector", "Price", "Change %", "Volume"):
        assert f"<dt>{label}</dt>" in page
    assert f"{first['price']:,.2f}" in page
    assert client.get(f"/stocks/{first['symbol']}.json").get_json() == first


def test_an_unknown_row_is_the_apps_404(client):
    response = client.get("/stocks/NO-SUCH")
    assert response.status_code == 404
    assert "There is no stock &#39;NO-SUCH&#39;." in response.get_data(as_text=True)
    assert client.get("/stocks/NO-SUCH.json").status_code == 404


def test_market_cap_is_short_on_the_page_and_exact_in_the_exports(app, client):
    add_stock(app, symbol="QQCAPX", market_cap=1_040_000_000, change_pct=1.25)
    add_stock(app, symbol="QQCAPY", market_cap=999, change_pct=-0.5)
    page = client.get("/stocks?symbol__startswith=QQCAP").get_data(as_text=True)
    cells = {row["symbol"]: row for row in table_cells(page.split("</thead>")[1])}
    assert cells["QQCAPX"]["market_cap"] == "1.04 bn"
    assert cells["QQCAPY"]["market_cap"] == "0.00 bn"
    csv = client.get("/stocks.csv?symbol__startswith=QQCAP").get_data(as_text=True)
    assert ",1040000000," in csv and ",999," in csv
    rows = [
        json.loads(line)
        for line in client.get("/stocks.ndjson?symbol__startswith=QQCAP").text.splitlines()
    ]
    assert {r["symbol"]: r["market_cap"] for r in rows} == {"QQCAPX": 1_040_000_000, "QQCAPY": 999}


def test_a_fall_is_marked_for_its_colour_and_keeps_its_sign(app, client):
    add_stock(app, symbol="UPPP", change_pct=1.25)
    add_stock(app, symbol="DOWN", change_pct=-0.5)
    page = client.get("/stocks?symbol__exact=DOWN").get_data(as_text=True)
    assert "<td class=d>-0.50<td>" in page
    page = client.get("/stocks?symbol__exact=UPPP").get_data(as_text=True)
    assert "<td>+1.25<td>" in page and "class=d" not in page.split("<main>")[1]
