"""The column headers of a sorted page link to the next view a click should show."""

from __future__ import annotations

import re

import pytest


def header_link(page: str, label: str) -> tuple[str, str, str]:
    """(href, data-sort, data-dir) of the header link labelled ``label``."""
    match = re.search(
        rf'<a href="([^"]*)" data-sort="([^"]*)" data-dir="([^"]*)">{re.escape(label)}</a>', page
    )
    assert match, f"no header link for {label!r}"
    return match[1].replace("&amp;", "&"), match[2], match[3]


@pytest.mark.parametrize(
    ("query", "label", "reversed_href"),
    [
        ("sort=price", "Price", "/stocks?sort=price&dir=desc"),
        ("sort=price&dir=desc", "Price", "/stocks?sort=price"),
        ("sort=volume&sector=Energy", "Volume", "/stocks?sort=volume&dir=desc&sector=Energy"),
    ],
)
def test_clicking_the_current_sort_header_reverses_it(client, query, label, reversed_href):
    """The sort key of a page comes from its query string: a string equal to the column's
    key but not the same object, so the comparison must be by value."""
    page = client.get(f"/stocks?{query}").get_data(as_text=True)
    href, sort, direction = header_link(page, label)
    assert href == reversed_href
    assert (sort, direction) == (label.lower(), "desc" if "dir=desc" in href else "asc")
    assert client.get(href).status_code == 200


def test_clicking_another_header_sorts_by_it_ascending(client):
    page = client.get("/stocks?sort=price&dir=desc").get_data(as_text=True)
    assert header_link(page, "Volume") == ("/stocks?sort=volume", "volume", "asc")
