"""The app's error page for an unknown path (404) and a method a route does not take (405)."""

from __future__ import annotations

import pytest

from web.security import SECURITY_HEADERS

HTMX = {"HX-Request": "true"}


def test_unknown_path_gets_the_error_page_with_404(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<h1>Page not found</h1>" in page
    assert "There is no page at /nope." in page
    assert 'href="/stocks"' in page, "a link back to the table"
    assert "Traceback" not in page


def test_method_a_route_does_not_take_gets_the_error_page_with_405(client):
    response = client.post("/stocks")
    assert response.status_code == 405
    page = response.get_data(as_text=True)
    assert "<h1>Method not allowed</h1>" in page
    assert "/stocks does not take POST requests." in page
    assert 'href="/stocks"' in page
    assert "GET" in response.headers["Allow"], "Werkzeug's Allow header is kept"


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("POST", "/stocks")])
def test_error_page_carries_the_security_headers(client, method, path):
    response = client.open(path, method=method)
    assert response.status_code in (404, 405)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name


def test_error_page_escapes_the_path(client):
    page = client.get("/<script>x</script>").get_data(as_text=True)
    assert "<script>x" not in page
    assert "&lt;script&gt;x" in page


def test_htmx_gets_only_the_message_beside_the_controls(client):
    response = client.get("/nope", headers=HTMX)
    assert response.status_code == 404
    assert response.get_data(as_text=True).strip() == "There is no page at /nope."
    assert response.headers["HX-Retarget"] == "#view-error"
    assert response.headers["HX-Reswap"] == "innerHTML"


def test_bad_view_keeps_its_own_heading(client):
    response = client.get("/stocks?sort=nope")
    assert response.status_code == 400
    assert "<h1>That view does not exist</h1>" in response.get_data(as_text=True)
