"""The table in a phone's or a narrow window's width: it scrolls sideways in its own area,
its header on top, and every cell can be brought into view and seen whole (each row group's
`content-visibility` clips what lies outside its box)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from web.models import STOCKS

from .conftest import E2E_ROWS

pytestmark = pytest.mark.e2e

COLUMNS = STOCKS.columns

# Where a cell is after scrolling it into view (the nearest way, as keyboard focus does), and
# whether it is what the reader sees there: the element at its middle is the cell, and its
# box lies inside the area it scrolls in (the nearest ancestor that scrolls sideways, or the
# window). A cell that a group's paint containment cuts off fails the first.
SEEN = """(cell) => {
  cell.scrollIntoView({block: "nearest", inline: "nearest"});
  let area = cell.parentElement;
  while (area && !["auto", "scroll"].includes(getComputedStyle(area).overflowX)) {
    area = area.parentElement;
  }
  const corner = area ? area.getBoundingClientRect() : {left: 0, top: 0};
  const view = {
    left: corner.left, top: corner.top,
    right: corner.left + (area ? area.clientWidth : innerWidth),
    bottom: corner.top + (area ? area.clientHeight : innerHeight),
  };
  const box = cell.getBoundingClientRect();
  const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return {
    hit: cell.contains(hit),
    inside: box.width > 0 && box.height > 0 && box.left >= view.left - 0.5 &&
      box.right <= view.right + 0.5 && box.top >= view.top - 0.5 && box.bottom <= view.bottom + 0.5,
    left: box.left, view_left: view.left, width: box.width,
  };
}"""


@pytest.fixture(scope="module", params=[390, 768, 1024], ids=lambda width: f"{width}px")
def narrow(request: pytest.FixtureRequest, browser: Browser, base_url: str) -> Iterator[Page]:
    """The whole table, loaded once per width: a phone (390 px), a tablet (768) or a small
    laptop window (1024). Each test scrolls it where it looks."""
    context = browser.new_context(
        base_url=base_url, viewport={"width": request.param, "height": 700}
    )
    page = context.new_page()
    page.goto("/stocks")
    expect(page.locator("#stream-end")).to_have_attribute("data-rows", str(E2E_ROWS))
    yield page
    context.close()


def seen(cell: Locator) -> dict:
    return cell.evaluate(SEEN)


@pytest.mark.parametrize("row", [1, 1_500, E2E_ROWS], ids=["first", "third-group", "last"])
def test_every_cell_of_a_row_can_be_scrolled_into_view_and_seen(narrow: Page, row: int):
    cells = narrow.locator(f":nth-match(.g tr, {row})").locator("td")
    for position, column in enumerate(COLUMNS):
        where = seen(cells.nth(position))
        assert where["inside"] and where["hit"], f"{column.key} of row {row}: {where}"


def test_every_header_can_be_scrolled_into_view_and_read_whole(narrow: Page):
    headers = narrow.locator(".stocks-head th")
    for position, column in enumerate(COLUMNS):
        header = headers.nth(position)
        where = seen(header)
        assert where["inside"] and where["hit"], f"header {column.key}: {where}"
        assert header.evaluate("th => th.scrollWidth <= th.clientWidth"), f"{column.key} is cut"


def test_columns_keep_their_widths_and_the_flexible_ones_their_minimum(narrow: Page):
    widths = (
        narrow.locator(".g tr")
        .first.locator("td")
        .evaluate_all(
            "cells => cells.map(cell => cell.getBoundingClientRect().width / "
            "parseFloat(getComputedStyle(document.documentElement).fontSize))"
        )
    )
    for width, column in zip(widths, COLUMNS, strict=True):
        wanted = float((column.width or column.min_width).removesuffix("rem"))
        assert width >= wanted - 0.05, f"{column.key}: {width:.2f}rem, not {wanted}rem"


def test_every_sector_name_shows_whole(narrow: Page):
    cut = narrow.locator(f".g td:nth-child({STOCKS.keys.index('sector') + 1})").evaluate_all(
        "cells => [...new Set(cells.filter(c => c.scrollWidth > c.clientWidth)"
        ".map(c => c.textContent))]"
    )
    assert cut == []


def test_a_cell_too_narrow_for_its_text_shows_it_whole_on_hover(narrow: Page):
    names = narrow.locator(f".g td:nth-child({STOCKS.keys.index('name') + 1})")
    longest = names.evaluate_all(
        "cells => cells.reduce((a, b) => (b.scrollWidth > a.scrollWidth ? b : a)).textContent"
    )
    cell = names.filter(has_text=longest).first
    assert cell.evaluate("c => c.scrollWidth > c.clientWidth")  # cut, at this width
    cell.scroll_into_view_if_needed()
    cell.hover()
    expect(cell).to_have_attribute("title", longest)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_headers_look_alike_and_follow_the_colour_scheme(browser: Browser, base_url: str, scheme):
    context = browser.new_context(base_url=base_url, color_scheme=scheme)
    page = context.new_page()
    page.goto("/stocks?sector=Energy&q=solar")
    expect(page.locator("#stream-end")).to_be_attached()
    colours = page.locator(".stocks-head th").evaluate_all(
        "cells => cells.map(c => getComputedStyle(c).color)"
    )
    assert len(set(colours)) == 1, f"a header stands apart, as if disabled: {colours}"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    red, green, blue = (int(v) for v in re.findall(r"\d+", background)[:3])
    dark = (red + green + blue) / 3 < 80
    assert dark == (scheme == "dark"), f"{scheme} scheme, body background {background}"
    context.close()
