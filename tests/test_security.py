"""Security headers on every response, and hostile data rendered as text."""

from __future__ import annotations

import pytest

from web.security import SECURITY_HEADERS


@pytest.mark.parametrize(
    "path", ["/", "/stocks", "/stocks.csv", "/stocks?sort=bad", "/nowhere", "/static/favicon.svg"]
)
def test_every_response_carries_the_security_headers(client, path):
    with client.get(path) as response:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)


def test_the_policy_forbids_inline_code_and_framing():
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


def test_templates_have_no_inline_scripts_styles_or_handlers(client):
    import re

    page = client.get("/stocks").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "inline <script>"
    assert "<style" not in page and " style=" not in page
    assert not re.search(r"\son[a-z]+=", page), "inline event handler"
    assert "hx-on" not in page
