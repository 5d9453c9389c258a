"""One table to assistive technology, however its rows arrive; no axe-core violations on
the page, after a re-stream or on the error pages, in either colour scheme; and the keyboard:
the focus stays on a header that sorted, and a menu's arrow keys stream one view."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from web.models import STOCKS

from .conftest import E2E_ROWS

COLUMNS = STOCKS.columns

pytestmark = pytest.mark.e2e


def assert_one_table(page: Page, rows: int) -> None:
    expect(page.get_by_role("table")).to_have_count(1)
    table = page.get_by_role("table", name="Stocks")
    expect(table).to_have_attribute("aria-colcount", str(len(COLUMNS)))
    headers = table.get_by_role("columnheader")
    expect(headers).to_have_count(len(COLUMNS))
    for header, column in zip(headers.all(), COLUMNS, strict=True):
        expect(header).to_contain_text(column.label)
    expect(table.get_by_role("row")).to_have_count(rows + 1)  # the header row too
    first = table.get_by_role("row").nth(1)
    expect(first.get_by_role("cell")).to_have_count(len(COLUMNS))


def test_one_table_with_headers_rows_and_cells(page: Page):
    page.goto("/stocks")
    expect(page.locator("#stream-end")).to_be_attached()
    assert_one_table(page, E2E_ROWS)
    snapshot = page.get_by_role("table").aria_snapshot()
    assert snapshot.startswith('- table "Stocks":')
    assert '- columnheader "Symbol"' in snapshot


def test_still_one_table_after_an_htmx_restream(page: Page):
    page.goto("/stocks")
    expect(page.locator("#stream-end")).to_be_attached()
    page.get_by_label("Sector").select_option("Financials")
    # Waited for in the page first: while Playwright polls the URL, the page's timers (and
    # htmx's request) can stall for seconds on a loaded machine.
    expect(page.locator("#exports a").first).to_have_attribute("href", re.compile("Financials"))
    expect(page).to_have_url("/stocks?sector=Financials")
    expect(page.locator("#stream-end")).to_be_attached()
    rows = int(page.locator("#stream-end").get_attribute("data-rows"))
    assert 0 < rows < E2E_ROWS
    assert_one_table(page, rows)


# axe-core, vendored for the tests only (tests/e2e/vendor/README.md).
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
SMALL_VIEW = "/stocks?sector=Energy&q=solar"  # a few rows: the whole page audited in seconds


@pytest.fixture(params=["light", "dark"])
def audited(request: pytest.FixtureRequest, browser: Browser, base_url: str) -> Iterator[Page]:
    """A page in either colour scheme that axe-core can be injected into: the app's
    Content-Security-Policy rightly refuses an injected script, so this context bypasses it."""
    context = browser.new_context(base_url=base_url, bypass_csp=True, color_scheme=request.param)
    yield context.new_page()
    context.close()


def axe_violations(page: Page) -> list[str]:
    """Every violation axe-core finds in the page as it is now, one line each."""
    page.add_script_tag(path=AXE)
    return page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations.map(
             (v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target)}`)"""
    )


def test_the_page_has_no_axe_violations(audited: Page):
    audited.goto(SMALL_VIEW)
    expect(audited.locator("#stream-end")).to_be_attached()
    assert 0 < int(audited.locator("#stream-end").get_attribute("data-rows")) < 100
    assert axe_violations(audited) == []


def test_the_page_after_an_htmx_restream_has_no_axe_violations(audited: Page):
    audited.goto(SMALL_VIEW)
    expect(audited.locator("#stream-end")).to_be_attached()
    audited.get_by_role("link", name="Price").click()
    expect(audited).to_have_url(re.compile(r"sort=price"))
    expect(audited.locator("#stream-end")).to_be_attached()
    expect(audited.locator("#stocks")).to_have_attribute("aria-busy", "false")
    assert axe_violations(audited) == []


@pytest.mark.parametrize("path, status", [("/nope", 404), ("/stocks?sort=password", 400)])
def test_the_error_pages_have_no_axe_violations(audited: Page, path: str, status: int):
    assert audited.goto(path).status == status
    assert axe_violations(audited) == []


def test_enter_on_a_header_sorts_and_leaves_the_focus_on_that_header(page: Page):
    page.goto(SMALL_VIEW)
    expect(page.locator("#stream-end")).to_be_attached()
    page.get_by_role("link", name="Price").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"sort=price&sector="))
    expect(page.locator("th[aria-sort=ascending]")).to_have_text("Price")
    expect(page.get_by_role("link", name="Price")).to_be_focused()

    page.keyboard.press("Enter")  # again: the order reverses, the focus stays
    expect(page).to_have_url(re.compile(r"sort=price&dir=desc&sector="))
    expect(page.locator("th[aria-sort=descending]")).to_have_text("Price")
    expect(page.get_by_role("link", name="Price")).to_be_focused()


def test_arrow_keys_on_a_menu_stream_the_view_chosen_last_not_one_per_key(page: Page):
    # The page's clock stands still while the keys go in, however slowly a loaded machine
    # sends them; it runs again once they are all in.
    page.clock.install()
    page.goto("/stocks")
    expect(page.locator("#stream-end")).to_be_attached()
    expect(page.locator("#stocks")).to_have_attribute("aria-busy", "false")
    page.clock.pause_at(page.evaluate("Date.now()") + 1_000)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    menu = page.get_by_label("Sector")
    menu.focus()
    for _ in range(3):
        menu.press("ArrowDown")  # a closed menu takes each key as a new choice
    chosen = STOCKS.column("sector").choices[2]
    expect(menu).to_have_value(chosen)
    assert requested == [], "a view streamed before the keys paused"
    page.clock.resume()
    encoded = re.escape(chosen).replace(r"\ ", r"(\+|%20)")
    # Waited for in the page: while Playwright polls the URL, the page's timers stall here.
    expect(page.locator("#exports a").first).to_have_attribute("href", re.compile(encoded))
    expect(page).to_have_url(re.compile(rf"sector={encoded}$"))
    expect(page.locator("#stream-end")).to_be_attached()
    expect(page.locator("#stocks")).to_have_attribute("aria-busy", "false")
    views = [url for url in requested if "/stocks?" in url]
    assert len(views) == 1, views
    expect(menu).to_be_focused()
