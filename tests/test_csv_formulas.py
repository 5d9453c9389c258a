"""Text a spreadsheet would run as a formula is defused in CSV exports (OWASP's list)."""

from __future__ import annotations

import csv
import io

import pytest

from .stock_rows import add_stock


def exported_names(client, query: str) -> dict[str, str]:
    text = client.get(f"/stocks.csv?{query}").get_data(as_text=True)
    records = list(csv.reader(io.StringIO(text, newline="")))
    return {record[0]: record[1] for record in records[1:]}


@pytest.mark.parametrize(
    "prefix", ["=", "+", "-", "@", "\t", "\r"], ids=["equals", "plus", "minus", "at", "tab", "cr"]
)
def test_a_name_starting_with_a_formula_prefix_gets_an_apostrophe(app, client, prefix):
    name = f"{prefix}1+cmd|' /C calc'!A0"
    add_stock(app, symbol="ZQF1", name=name)
    assert exported_names(client, "q=ZQF1") == {"ZQF1": "'" + name}


def test_other_names_are_exported_as_they_are(app, client):
    """Only a leading prefix is a formula: the same characters inside a name stay as is."""
    names = {"ZQF2": "A=B+C-D@E", "ZQF3": "Plain & Co", "ZQF4": "'Quoted'"}
    for symbol, name in names.items():
        add_stock(app, symbol=symbol, name=name)
    assert exported_names(client, "q=ZQF") == names


@pytest.mark.parametrize(
    "prefix",
    [" =", "\n=", " \t+", "\u3000-", "\uff1d", "\uff0b", "\uff0d", "\uff20", " \uff1d"],
    ids=[
        "space",
        "newline",
        "space-tab",
        "ideographic-space",
        "fw-equals",
        "fw-plus",
        "fw-minus",
        "fw-at",
        "space-fw-equals",
    ],
)
def test_a_formula_behind_whitespace_or_in_fullwidth_is_defused_too(app, client, prefix):
    """A cell a reader trims, or text NFKC folds to ASCII, would still be a formula."""
    name = f"{prefix}1+cmd|' /C calc'!A0"
    add_stock(app, symbol="ZQF5", name=name)
    assert exported_names(client, "q=ZQF5") == {"ZQF5": "'" + name}


def test_leading_whitespace_alone_is_left_as_it_is(app, client):
    names = {"ZQF6": " Acme", "ZQF7": "\nAcme", "ZQF8": "Acme \uff1d"}
    for symbol, name in names.items():
        add_stock(app, symbol=symbol, name=name)
    assert exported_names(client, "q=ZQF") == names
