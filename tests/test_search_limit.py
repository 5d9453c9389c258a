"""The search box takes up to 100 characters, the limit the README documents."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("char", ["x", "é"])
def test_a_search_of_100_characters_is_accepted(client, char):
    """Literal lengths, not the constant under test: a changed limit must fail here."""
    response = client.get("/stocks", query_string={"q": char * 100})
    assert response.status_code == 200
    assert "No stocks match this view." in response.get_data(as_text=True)


@pytest.mark.parametrize("char", ["x", "é"])
def test_a_search_of_101_characters_is_refused(client, char):
    response = client.get("/stocks", query_string={"q": char * 101})
    assert response.status_code == 400
    assert "at most 100 characters" in response.get_data(as_text=True)
