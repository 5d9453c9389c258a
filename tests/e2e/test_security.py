"""In the browser: the strict Content-Security-Policy is never violated, and names that
look like markup show as text."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import traverse

pytestmark = pytest.mark.e2e

RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def watched(page: Page):
    """The page, recording every CSP violation and console error it reports."""
    page.add_init_script(RECORD_VIOLATIONS)
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page, errors
    assert page.evaluate("window.cspViolations") == []
    assert errors == []


def test_no_policy_violation_while_using_every_control(watched):
    page, errors = watched
    response = page.goto("/stocks")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("#stream-end")).to_be_attached()
    page.get_by_role("link", name="Price", exact=True).click()
    expect(page).to_have_url("/stocks?sort=price")
    page.get_by_label("Exchange").select_option("NYSE")
    expect(page).to_have_url("/stocks?sort=price&exchange=NYSE")

    page.get_by_label("Search").fill("a")
    expect(page).to_have_url("/stocks?sort=price&exchange=NYSE&q=a")
    expect(page.locator("#stream-end")).to_be_attached()
    traverse(page, "back")
    expect(page).to_have_url("/stocks?sort=price&exchange=NYSE")

    expect(page.locator("#stream-end")).to_be_attached()
    # A page older than the server's sectors: the refusal shows beside the controls and
    # the table stays as it was.
    page.locator("select[name=sector] option").nth(1).evaluate("option => option.value = 'Gone'")
    # Chromium reports every 4xx response on the console; this one is asked for.
    with page.expect_console_message(lambda message: "status of 400" in message.text):
        page.get_by_label("Sector").select_option("Gone")
    errors.remove(
        "Failed to load resource: the server responded with a status of 400 (BAD REQUEST)"
    )
    expect(page.locator("#view-error")).to_contain_text("sector must be one of")
    expect(page.locator("#stream-end")).to_be_attached()
    expect(page).to_have_url("/stocks?sort=price&exchange=NYSE")


def test_names_that_look_like_markup_show_as_text(watched):
    page, _ = watched
    page.goto("/stocks?q=class a")
    expect(page.locator("#stream-end")).to_be_attached()
    names = page.locator("#rows td:nth-child(2)").all_text_contents()
    assert names and all("<Class A>" in name for name in names)
    assert page.locator("#rows class").count() == 0  # no element was made of the text
