"""In a real browser, the table shows its first rows while the stream is still open."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import E2E_ROWS
from .servers import GateClient

pytestmark = pytest.mark.e2e


def test_first_rows_visible_before_the_stream_completes(page: Page, gate: GateClient):
    gate.hold()
    # "commit": the load event would wait for the end of the stream, which the gate holds.
    response = page.goto("/stocks", wait_until="commit")
    # Compressed, and still streaming: every chunk is flushed through the compressor.
    assert response.headers["content-encoding"] == "zstd"
    expect(page.locator(".g tr").first).to_be_visible()
    gate.wait_until_waiting(1)  # the server is provably still holding the stream open
    expect(page.locator("#stream-end")).to_have_count(0)

    gate.release()
    expect(page.locator("#stream-end")).to_have_attribute("data-rows", str(E2E_ROWS))


def test_whole_table_arrives_in_order_under_one_header(page: Page):
    page.goto("/")
    expect(page).to_have_url("/stocks")
    expect(page.locator("#stream-end")).to_have_attribute("data-rows", str(E2E_ROWS))
    assert page.locator(".g tr").count() == E2E_ROWS
    assert page.locator(".stocks-head th").all_inner_texts()[:2] == ["Symbol", "Name"]
    # textContent: rows off screen are not rendered (content-visibility), so have no innerText.
    symbols = page.locator(".g tr td:first-child").all_text_contents()
    assert symbols == sorted(symbols)


def test_columns_line_up_across_row_groups(page: Page):
    page.goto("/stocks")
    header = page.locator(".stocks-head th")
    last_group_row = page.locator(".g").last.locator("tr").first
    last_group_row.scroll_into_view_if_needed()
    for index in range(header.count()):
        head_box = header.nth(index).bounding_box()
        cell_box = last_group_row.locator("td").nth(index).bounding_box()
        assert abs(head_box["x"] - cell_box["x"]) < 1
        assert abs(head_box["width"] - cell_box["width"]) < 1
