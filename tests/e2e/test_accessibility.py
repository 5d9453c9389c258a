"""The row groups are separate <table>s for speed, but one table to assistive technology."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

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
    expect(page).to_have_url("/stocks?sector=Financials")
    expect(page.locator("#stream-end")).to_be_attached()
    rows = int(page.locator("#stream-end").get_attribute("data-rows"))
    assert 0 < rows < E2E_ROWS
    assert_one_table(page, rows)
