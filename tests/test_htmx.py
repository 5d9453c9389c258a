"""The htmx re-stream: multipart/mixed parts that htmx swaps as each one completes."""

from __future__ import annotations

import email
import email.policy
import re

from web import multipart

from .conftest import SEEDED_ROWS, table_cells

HTMX = {"HX-Request": "true"}


def parse_parts(body: bytes, content_type: str) -> list:
    """Parse with the standard library's MIME parser, as an independent check."""
    message = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.HTTP
    )
    assert message.is_multipart()
    return list(message.iter_parts())


def test_restream_is_multipart_with_one_part_per_row_group(client):
    response = client.get("/stocks?sort=price&dir=desc&sector=&q=", headers=HTMX)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == multipart.CONTENT_TYPE
    assert "HX-Request" in response.vary
    parts = parse_parts(response.get_data(), response.headers["Content-Type"])

    reset, *groups, summary, facets = [p for p in parts if p["HX-Target"] != "#facets"] + [
        parts[-1]
    ]
    # Part one: a fresh header and an empty table, and the canonical URL to show.
    assert reset["HX-Target"] == "#stocks" and reset["HX-Swap"] == "innerHTML"
    assert reset["HX-Push-Url"] == "/stocks?sort=price&dir=desc"
    head = reset.get_payload(decode=True).decode()
    assert re.search(r'<table id="rows"[^>]*>\s*<thead.*</thead>\s*</table>', head, re.S)
    assert 'aria-sort="descending"' in head
    assert 'id="exports" class="exports" aria-label="Download this view" hx-swap-oob="true"' in head

    assert all(g["HX-Target"] == "#rows" and g["HX-Swap"] == "beforeend" for g in groups)
    html = "".join(g.get_payload(decode=True).decode() for g in groups)
    assert html.count("<tr>") == SEEDED_ROWS
    assert all(g.get_payload(decode=True).decode().startswith('<tbody class="g">') for g in groups)
    prices = [float(row["price"].replace(",", "")) for row in table_cells(html)]
    assert len(prices) == SEEDED_ROWS
    assert prices == sorted(prices, reverse=True)

    assert summary["HX-Target"] == "#stocks" and summary["HX-Swap"] == "beforeend"
    assert f'data-rows="{SEEDED_ROWS}"' in summary.get_payload(decode=True).decode()
    # The last part: the final facet counts (the ones before it came as the rows did).
    assert facets["HX-Target"] == "#facets" and 'data-final="true"' in str(facets)


def test_every_part_declares_its_exact_length(client):
    """Checked on a view with rows, and counted: a part without a length would not be
    matched at all, so the loop alone would pass without one."""
    body = client.get("/stocks", headers=HTMX).get_data()
    delimiter = f"\r\n--{multipart.BOUNDARY}".encode()
    checked = 0
    for match in re.finditer(rb"Content-Length: (\d+)\r\n\r\n", body):
        end = match.end() + int(match[1])
        assert body[end : end + len(delimiter)] == delimiter
        checked += 1
    parts = body.count(delimiter) - 1  # the closing delimiter opens no part
    assert checked == parts > 2  # the reset, row groups, the summary
    assert body.endswith(multipart.END)


def test_parts_are_sent_as_they_are_ready(client):
    response = client.get("/stocks", headers=HTMX, buffered=False)
    chunks = iter(response.response)
    assert b"HX-Push-Url" in next(chunks)  # the reset goes out before the query runs
    first_rows = next(chunks)
    assert first_rows.count(b"<tr>") == 50
    response.close()
