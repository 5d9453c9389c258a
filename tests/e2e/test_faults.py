"""A database failing mid-stream: the browser shows an error row and a well-formed end."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import E2E_ROWS
from .servers import GateClient

pytestmark = pytest.mark.e2e


def assert_failed_visibly(page: Page) -> None:
    alert = page.get_by_role("alert").filter(has_text="The table stopped early")
    expect(alert).to_be_visible()
    expect(page.locator("#stream-end")).to_have_attribute("data-outcome", "failed")
    shown = int(re.search(r"failed after ([\d,]+) rows", alert.inner_text())[1].replace(",", ""))
    assert 1000 <= shown < E2E_ROWS  # the cursor failed after 1,000 rows, read in batches
    expect(page.locator(".g:not(.notice) tr")).to_have_count(shown)
    expect(page.locator("#stream-end")).to_have_attribute("data-rows", str(shown))


def test_the_page_ends_with_an_error_row(page: Page, gate: GateClient):
    gate.fail_next_query_after(1000)
    page.goto("/stocks")
    assert_failed_visibly(page)
    assert page.get_by_role("table").count() == 1  # the document is still well-formed


def test_a_restream_ends_with_an_error_row(page: Page, gate: GateClient):
    page.goto("/stocks")
    expect(page.locator("#stream-end")).to_have_attribute("data-outcome", "completed")
    gate.fail_next_query_after(1000)
    page.get_by_role("link", name="Volume", exact=True).click()
    expect(page).to_have_url("/stocks?sort=volume")
    assert_failed_visibly(page)
