"""Exploring in a real browser: the filter menu, chips, facets and a column choice, with
htmx and without JavaScript. The counts a person reads are checked against SQL."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import E2E_ROWS, traverse
from .servers import GateClient
from .test_views import assert_same_document, load, mark_document, number

pytestmark = pytest.mark.e2e


def cells(tab: Page, position: int) -> list[str]:
    return tab.locator(f"#rows tr td:nth-child({position})").all_text_contents()


def rows_shown(tab: Page) -> int:
    return int(tab.locator("#stream-end").get_attribute("data-rows"))


def test_the_filter_menu_adds_a_chip_and_the_chip_removes_it(tab: Page, mode: str):
    load(tab)
    mark_document(tab, mode)
    tab.get_by_label("Column").select_option("price")
    tab.get_by_label("Operator").select_option("gte")
    tab.get_by_label("Value").fill("400")
    tab.get_by_role("button", name="Add").click()
    expect(tab).to_have_url(re.compile(r"/stocks\?price__gte=400$"))
    expect(tab.locator("#stream-end")).to_be_attached()
    prices = [number(text) for text in cells(tab, 5)]
    assert prices and min(prices) >= 400 and len(prices) == rows_shown(tab) < E2E_ROWS
    chip = tab.get_by_role("link", name=re.compile("Price ≥ 400"))
    expect(chip).to_be_visible()
    expect(tab.get_by_label("Value")).to_have_value("")  # the menu is ready for the next

    # A second filter keeps the first (the chip's hidden field rides along).
    tab.get_by_label("Sector").select_option("Energy")
    if mode == "no-js":
        tab.get_by_role("button", name="Show").click()
    expect(tab).to_have_url(re.compile(r"sector=Energy&price__gte=400$"))
    expect(tab.locator("#stream-end")).to_be_attached()
    assert set(cells(tab, 4)) == {"Energy"}
    assert min(number(text) for text in cells(tab, 5)) >= 400

    chip.click()
    expect(tab).to_have_url(re.compile(r"/stocks\?sector=Energy$"))
    expect(tab.locator("#stream-end")).to_be_attached()
    expect(chip).to_have_count(0)
    assert min(number(text) for text in cells(tab, 5)) < 400

    tab.get_by_role("link", name="Clear all", exact=True).click()
    expect(tab).to_have_url(re.compile(r"/stocks$"))
    expect(tab.locator("#stream-end")).to_have_attribute("data-rows", str(E2E_ROWS))
    expect(tab.get_by_label("Sector")).to_have_value("")
    assert_same_document(tab, mode)


def test_a_bad_filter_value_says_what_to_fix(tab: Page, mode: str):
    load(tab)
    tab.get_by_label("Column").select_option("updated_at")
    tab.get_by_label("Operator").select_option("lte")
    tab.get_by_label("Value").fill("yesterday")
    tab.get_by_role("button", name="Add").click()
    expect(tab.get_by_role("alert")).to_contain_text("is not a date or time")
    if mode == "htmx":  # beside the controls; the table stays as it was
        expect(tab.locator("#stream-end")).to_have_attribute("data-rows", str(E2E_ROWS))


def test_facet_counts_match_the_rows_and_their_links_filter(tab: Page, mode: str):
    load(tab, "/stocks?sector=Utilities")
    facets = tab.locator(".facets[data-final]")  # no-js: after the footer; htmx: moved up
    expect(facets).to_have_attribute("data-final", "true")
    exchanges = cells(tab, 3)
    shown = {
        li.locator("a").text_content(): number(li.locator(".count").text_content())
        for li in facets.locator(".facet", has_text="Exchange").locator("li:has(.count)").all()
    }
    assert shown == {value: exchanges.count(value) for value in set(exchanges)}
    assert facets.locator(".facet", has_text="Sector").locator(".count").all_text_contents() == [
        f"{len(exchanges):,}"
    ]

    mark_document(tab, mode)
    first = max(shown, key=shown.get)
    facets.get_by_role("link", name=first, exact=True).click()
    expect(tab).to_have_url(re.compile(rf"sector=Utilities&exchange={first}$|exchange={first}"))
    expect(tab.locator("#stream-end")).to_have_attribute("data-rows", str(int(shown[first])))
    expect(tab.locator(".facets[data-final]")).to_have_attribute("data-final", "true")
    assert set(cells(tab, 3)) == {first}

    # A second sector from the facets: several values of one column.
    tab.locator(".facets[data-final]").get_by_role("link", name="+ Energy").click()
    expect(tab).to_have_url(re.compile(r"sector=Energy&sector=Utilities"))
    expect(tab.locator("#stream-end")).to_be_attached()
    assert set(cells(tab, 4)) == {"Energy", "Utilities"}
    chip = tab.get_by_role("link", name=re.compile("Sector is Energy or Utilities"))
    expect(chip).to_be_visible()
    assert_same_document(tab, mode)


def test_a_column_choice_shows_those_columns_and_exports_them(tab: Page, mode: str):
    load(tab, "/stocks?cols=symbol,price")
    expect(tab.locator(".stocks-head th")).to_have_text(["Symbol", "Price"])
    assert tab.locator(".g tr").first.locator("td").count() == 2
    # The stylesheet for this choice: Price (second here) is the right-aligned one.
    align = (
        tab.locator(".g tr")
        .first.locator("td")
        .nth(1)
        .evaluate("cell => getComputedStyle(cell).textAlign")
    )
    assert align == "right"
    href = tab.get_by_role("link", name="CSV", exact=True).get_attribute("href")
    assert href == "/stocks.csv?cols=symbol,price"

    mark_document(tab, mode)
    tab.get_by_role("link", name="Price", exact=True).click()  # sorting keeps the choice
    expect(tab).to_have_url(re.compile(r"sort=price&cols=symbol,price$"))
    expect(tab.locator("#stream-end")).to_have_attribute("data-rows", str(E2E_ROWS))
    expect(tab.locator(".stocks-head th")).to_have_text(["Symbol", "Price"])
    prices = [number(text) for text in cells(tab, 2)]
    assert prices == sorted(prices)
    assert_same_document(tab, mode)


def add_filter(tab: Page, column: str, op: str, value: str, **click) -> None:
    tab.get_by_label("Column").select_option(column)
    tab.get_by_label("Operator").select_option(op)
    tab.get_by_label("Value").fill(value)
    tab.get_by_role("button", name="Add").click(**click)


def test_first_rows_of_a_filtered_view_show_before_its_stream_completes(
    tab: Page, mode: str, gate: GateClient
):
    load(tab)
    gate.hold()
    add_filter(tab, "volume", "gte", "1000", no_wait_after=True)
    expect(tab.get_by_role("link", name=re.compile("Volume ≥ 1000"))).to_be_visible()
    expect(tab.locator(".g tr").first).to_be_visible()
    gate.wait_until_waiting(1)  # the server is provably still holding the new stream open
    expect(tab.locator("#stream-end")).to_have_count(0)
    gate.release()
    expect(tab.locator("#stream-end")).to_be_attached()
    assert min(number(text) for text in cells(tab, 7)) >= 1000


def test_back_and_forward_restore_filters_and_their_chips(tab: Page, mode: str):
    load(tab)
    add_filter(tab, "price", "lt", "50")
    expect(tab).to_have_url(re.compile(r"/stocks\?price__lt=50$"))
    expect(tab.locator("#stream-end")).to_be_attached()
    only_price = rows_shown(tab)
    tab.locator(".facets[data-final]").get_by_role("link", name="Energy", exact=True).click()
    expect(tab).to_have_url(re.compile(r"sector=Energy&price__lt=50$"))
    expect(tab.locator("#stream-end")).to_be_attached()
    both = rows_shown(tab)
    assert both < only_price

    traverse(tab, "back", js=mode == "htmx")
    expect(tab).to_have_url(re.compile(r"/stocks\?price__lt=50$"))
    expect(tab.locator("#stream-end")).to_have_attribute("data-rows", str(only_price))
    expect(tab.get_by_role("link", name=re.compile("Price < 50"))).to_be_visible()
    expect(tab.get_by_label("Sector")).to_have_value("")

    traverse(tab, "forward", js=mode == "htmx")
    expect(tab).to_have_url(re.compile(r"sector=Energy&price__lt=50$"))
    expect(tab.locator("#stream-end")).to_have_attribute("data-rows", str(both))
    expect(tab.get_by_label("Sector")).to_have_value("Energy")
