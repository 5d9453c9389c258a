"""A stream cancelled on purpose is normal: no error in the browser's console.

A newer request replaces the one in flight (``hx-sync ... :replace``), and sorting while the
page itself still streams stops that download (``window.stop()``). Neither may log an
error; a request that really fails still must.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import ConsoleMessage, Error, Page, expect

from .conftest import E2E_ROWS
from .servers import GateClient

pytestmark = pytest.mark.e2e


@pytest.fixture
def console_errors(page: Page) -> Iterator[list[str]]:
    """Every error the page logs or throws, as text, from the moment the test starts."""
    errors: list[str] = []

    def logged(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text}")

    def thrown(error: Error) -> None:
        errors.append(f"uncaught: {error.name}: {error.message}")

    page.on("console", logged)
    page.on("pageerror", thrown)
    yield errors
    page.remove_listener("console", logged)
    page.remove_listener("pageerror", thrown)


def settle(page: Page) -> None:
    """Until the last view has streamed to its end and the page is idle again."""
    expect(page.locator("#stream-end")).to_be_attached()
    expect(page.locator("#stocks")).to_have_attribute("aria-busy", "false")


def test_a_search_replacing_one_in_flight_logs_no_error(
    page: Page, gate: GateClient, console_errors: list[str]
):
    page.goto("/stocks")
    settle(page)
    gate.hold()
    page.get_by_label("Search").fill("a")
    gate.wait_until_waiting(1)
    page.get_by_label("Search").fill("ab")
    expect(page).to_have_url(re.compile(r"q=ab$"))
    gate.wait_until_waiting(2)
    gate.release()
    settle(page)
    assert console_errors == []


def test_sorting_while_the_page_still_streams_logs_no_error(
    page: Page, gate: GateClient, console_errors: list[str]
):
    gate.hold()
    page.goto("/stocks", wait_until="commit")
    expect(page.locator(".g tr").first).to_be_visible()
    gate.wait_until_waiting(1)
    page.get_by_role("link", name="Volume", exact=True).click()
    expect(page).to_have_url(re.compile(r"/stocks\?sort=volume$"))
    gate.release()
    expect(page.locator("#stream-end")).to_have_attribute("data-rows", str(E2E_ROWS))
    settle(page)
    assert console_errors == []


def test_two_quick_sorts_log_no_error(page: Page, gate: GateClient, console_errors: list[str]):
    page.goto("/stocks")
    settle(page)
    gate.hold()
    page.get_by_role("link", name="Volume", exact=True).click()
    gate.wait_until_waiting(1)
    page.get_by_role("link", name="Change %", exact=True).click()
    expect(page).to_have_url(re.compile(r"sort=change_pct"))
    gate.wait_until_waiting(2)
    gate.release()
    settle(page)
    assert console_errors == []


def test_a_request_that_really_fails_is_still_logged(page: Page):
    page.goto("/stocks")
    settle(page)
    page.route(lambda url: "sort=volume" in url, lambda route: route.abort("connectionreset"))
    # Chromium logs the failed load itself too; the error that must show is htmx's own.
    with page.expect_console_message(
        lambda message: message.type == "error" and "htmx:error" in message.text, timeout=15_000
    ):
        page.get_by_role("link", name="Volume", exact=True).click()
