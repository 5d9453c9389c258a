"""Sorting, filtering, searching and exporting in a real browser, with htmx and without JS.

With JavaScript, each control re-streams only the rows (htmx and its multipart extension);
without it, the same controls are plain links and a GET form and the whole page streams.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from web.models import STOCKS

from .conftest import E2E_ROWS, traverse
from .servers import GateClient

pytestmark = pytest.mark.e2e


def load(tab: Page, path: str = "/stocks") -> None:
    tab.goto(path)
    expect(tab.locator("#stream-end")).to_be_attached()


def column(tab: Page, key: str) -> list[str]:
    """The texts of one column of the table, by its key in the spec."""
    index = STOCKS.keys.index(key) + 1
    # textContent: rows off screen are not rendered (content-visibility), so no innerText.
    return tab.locator(f"#rows td:nth-child({index})").all_text_contents()


def number(text: str) -> float:
    return float(text.replace(",", ""))


def mark_document(tab: Page, mode: str) -> None:
    """With htmx, a marker that survives only if the page is never reloaded."""
    if mode == "htmx":
        tab.evaluate("window.sameDocument = true")


def assert_same_document(tab: Page, mode: str) -> None:
    if mode == "htmx":
        assert tab.evaluate("window.sameDocument === true"), "the page was reloaded"


def test_sort_by_clicking_a_header(tab: Page, mode: str):
    load(tab)
    mark_document(tab, mode)
    tab.get_by_role("link", name="Price", exact=True).click()
    expect(tab).to_have_url(re.compile(r"/stocks\?sort=price$"))
    expect(tab.locator("th[aria-sort=ascending]")).to_have_text("Price")
    expect(tab.locator("#stream-end")).to_have_attribute("data-rows", str(E2E_ROWS))
    prices = [number(text) for text in column(tab, "price")]
    assert len(prices) == E2E_ROWS and prices == sorted(prices)

    tab.get_by_role("link", name="Price", exact=True).click()
    expect(tab).to_have_url(re.compile(r"/stocks\?sort=price&dir=desc$"))
    expect(tab.locator("th[aria-sort=descending]")).to_have_text("Price")
    expect(tab.locator("#stream-end")).to_have_attribute("data-rows", str(E2E_ROWS))
    prices = [number(text) for text in column(tab, "price")]
    assert prices == sorted(prices, reverse=True)
    assert_same_document(tab, mode)


def test_filter_and_search(tab: Page, mode: str):
    load(tab)
    mark_document(tab, mode)
    tab.get_by_label("Sector").select_option("Energy")
    if mode == "no-js":
        tab.get_by_role("button", name="Show").click()
    expect(tab).to_have_url(re.compile(r"sector=Energy"))
    expect(tab.locator("#stream-end")).to_be_attached()
    sectors = column(tab, "sector")
    assert sectors and set(sectors) == {"Energy"}

    tab.get_by_label("Search").fill("solar")
    if mode == "no-js":
        tab.get_by_label("Search").press("Enter")
    expect(tab).to_have_url(re.compile(r"sector=Energy&q=solar"))
    expect(tab.locator("#stream-end")).to_be_attached()
    names = column(tab, "name")
    symbols = column(tab, "symbol")
    assert names and all(
        "solar" in name.lower() or symbol.startswith("SOLAR")
        for name, symbol in zip(names, symbols, strict=True)
    )
    assert int(tab.locator("#stream-end").get_attribute("data-rows")) == len(names)
    assert_same_document(tab, mode)


def test_a_search_with_no_matches_says_so(tab: Page, mode: str):
    load(tab)
    tab.get_by_label("Search").fill("no such stock")
    tab.get_by_label("Search").press("Enter")
    expect(tab.locator("#stream-end")).to_contain_text("No stocks match this view.")
    expect(tab.locator(".g tr")).to_have_count(0)


def test_bad_input_shows_a_message(tab: Page, mode: str, base_url: str):
    response = tab.goto("/stocks?sort=password")
    assert response.status == 400
    expect(tab.get_by_role("alert")).to_contain_text("sort must be one of")


def test_back_and_forward_restore_the_view(tab: Page, mode: str):
    load(tab)
    tab.get_by_role("link", name="Volume", exact=True).click()
    expect(tab).to_have_url(re.compile(r"sort=volume$"))
    expect(tab.locator("#stream-end")).to_be_attached()
    tab.get_by_label("Exchange").select_option("LSE")
    if mode == "no-js":
        tab.get_by_role("button", name="Show").click()
    expect(tab).to_have_url(re.compile(r"sort=volume&exchange=LSE$"))
    expect(tab.locator("#stream-end")).to_be_attached()
    filtered = int(tab.locator("#stream-end").get_attribute("data-rows"))
    assert filtered < E2E_ROWS

    traverse(tab, "back", js=mode == "htmx")
    expect(tab).to_have_url(re.compile(r"sort=volume$"))
    expect(tab.locator("#stream-end")).to_have_attribute("data-rows", str(E2E_ROWS))
    expect(tab.get_by_label("Exchange")).to_have_value("")
    expect(tab.locator("th[aria-sort=ascending]")).to_have_text("Volume")

    traverse(tab, "forward", js=mode == "htmx")
    expect(tab).to_have_url(re.compile(r"exchange=LSE$"))
    expect(tab.locator("#stream-end")).to_have_attribute("data-rows", str(filtered))
    expect(tab.get_by_label("Exchange")).to_have_value("LSE")


def test_first_rows_of_a_new_view_show_before_its_stream_completes(
    tab: Page, mode: str, gate: GateClient
):
    load(tab)
    gate.hold()
    tab.get_by_role("link", name="Change %", exact=True).click(no_wait_after=True)
    expect(tab.locator("th[aria-sort=ascending]")).to_have_text("Change %")
    expect(tab.locator(".g tr").first).to_be_visible()
    gate.wait_until_waiting(1)  # the server is provably still holding the new stream open
    expect(tab.locator("#stream-end")).to_have_count(0)
    if mode == "htmx":
        expect(tab.locator("#stocks")).to_have_attribute("aria-busy", "true")
        expect(tab.locator("#progress")).to_contain_text("rows so far")

    gate.release()
    expect(tab.locator("#stream-end")).to_have_attribute("data-rows", str(E2E_ROWS))
    if mode == "htmx":
        expect(tab.locator("#stocks")).to_have_attribute("aria-busy", "false")
        expect(tab.locator("#progress")).to_have_text("")


def test_a_new_request_cancels_the_one_in_flight(page: Page, gate: GateClient):
    mark = gate.mark()
    load(page)
    gate.hold()
    page.get_by_label("Search").fill("a")
    expect(page).to_have_url(re.compile(r"q=a$"))
    gate.wait_until_waiting(1)
    page.get_by_label("Search").fill("ab")
    expect(page).to_have_url(re.compile(r"q=ab$"))
    gate.wait_until_waiting(2)
    gate.release()
    expect(page.locator("#stream-end")).to_be_attached()
    symbols = column(page, "symbol")
    names = column(page, "name")
    assert all("ab" in f"{s} {n}".lower() for s, n in zip(symbols, names, strict=True))
    outcomes = gate.wait_for_outcomes(
        {"/stocks?q=a": "aborted", "/stocks?q=ab": "completed"}, since=mark
    )
    assert outcomes


def test_sorting_while_the_page_still_streams_restreams_in_place(page: Page, gate: GateClient):
    mark = gate.mark()
    gate.hold()
    page.goto("/stocks", wait_until="commit")
    expect(page.locator(".g tr").first).to_be_visible()
    gate.wait_until_waiting(1)
    page.evaluate("window.sameDocument = true")

    page.get_by_role("link", name="Volume", exact=True).click()
    expect(page.locator("th[aria-sort=ascending]")).to_have_text("Volume")
    expect(page).to_have_url(re.compile(r"/stocks\?sort=volume$"))
    gate.release()
    expect(page.locator("#stream-end")).to_have_attribute("data-rows", str(E2E_ROWS))
    volumes = [number(text) for text in column(page, "volume")]
    assert len(volumes) == E2E_ROWS and volumes == sorted(volumes)
    assert page.evaluate("window.sameDocument === true")
    gate.wait_for_outcomes({"/stocks": "aborted", "/stocks?sort=volume": "completed"}, since=mark)


def test_exports_download_the_current_view(tab: Page, mode: str):
    load(tab, "/stocks?sector=Utilities&sort=price&dir=desc")
    expected_rows = int(tab.locator("#stream-end").get_attribute("data-rows"))

    with tab.expect_download() as download:
        tab.get_by_role("link", name="CSV", exact=True).click()
    assert download.value.suggested_filename == ("stocks-sort-price-dir-desc-sector-utilities.csv")
    with open(download.value.path(), newline="", encoding="utf-8") as file:
        records = list(csv.reader(file))
    assert records[0][:2] == ["symbol", "name"]
    assert len(records) == expected_rows + 1
    sector, price = STOCKS.keys.index("sector"), STOCKS.keys.index("price")
    assert {record[sector] for record in records[1:]} == {"Utilities"}
    prices = [float(record[price]) for record in records[1:]]
    assert prices == sorted(prices, reverse=True)

    with tab.expect_download() as download:
        tab.get_by_role("link", name="NDJSON", exact=True).click()
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(lines) == expected_rows
    assert [json.loads(line)["symbol"] for line in lines] == [r[0] for r in records[1:]]


def test_back_forward_back_in_quick_succession_show_the_view_the_address_says(
    page: Page, gate: GateClient
):
    """Each step comes while the page it restores is still streaming (the gate holds it):
    the page must already handle the next step itself, not only once it has loaded."""
    load(page)
    for name, sort in (("Price", "price"), ("Volume", "volume")):
        page.get_by_role("link", name=name).click()
        expect(page).to_have_url(re.compile(rf"\?sort={sort}$"))
        expect(page.locator("#stream-end")).to_be_attached()

    gate.hold()
    for direction, url, header in (
        ("back", r"\?sort=price$", "Price"),
        ("back", r"/stocks$", "Symbol"),
        ("forward", r"\?sort=price$", "Price"),
        ("back", r"/stocks$", "Symbol"),
    ):
        getattr(page, f"go_{direction}")(wait_until="commit")
        expect(page).to_have_url(re.compile(url))
        expect(page.locator("th[aria-sort=ascending]")).to_have_text(header)
        expect(page.locator(".g tr").first).to_be_attached()
        expect(page.locator("#stream-end")).to_have_count(0)  # still streaming

    gate.release()
    expect(page.locator("#stream-end")).to_have_attribute("data-rows", str(E2E_ROWS))
    symbols = column(page, "symbol")
    assert len(symbols) == E2E_ROWS and symbols == sorted(symbols)
