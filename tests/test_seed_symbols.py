"""Seeded tickers look like real ones (1 to 5 capital letters, short ones included), and the
generator makes exactly the rows and columns asked for."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from web import seeding
from web.models import STOCKS
from web.seeding import generate_rows


def test_seeded_tickers_have_one_to_five_letters_in_their_natural_shares():
    """Every ticker of up to 5 letters is equally likely, so about 1 in 27 has 4 letters
    and most have 5. A decoding that made every ticker 5 letters long would also alias
    codes past 26**5 onto others: duplicate tickers in a large table."""
    symbols = [row[1] for block in generate_rows(20_000, seed=0) for row in block]
    assert all(re.fullmatch(r"[A-Z]{1,5}", symbol) for symbol in symbols)
    assert len(set(symbols)) == len(symbols)
    lengths = Counter(len(symbol) for symbol in symbols)
    assert 0.02 < lengths[4] / len(symbols) < 0.06, lengths
    assert lengths[3] > 0, lengths


def test_ticker_codes_decode_one_to_one_through_each_length():
    """Codes 0-25 are the 1-letter tickers, the next 26**2 the 2-letter ones, and so on,
    each ticker once (the first letter varies fastest: 26 is AA, 27 is BA)."""
    bounds = [26, 26 + 26**2, 26 + 26**2 + 26**3]
    symbols = seeding._symbols(np.arange(bounds[-1] + 5))
    assert symbols[:2] + symbols[26:28] == ["A", "B", "AA", "BA"]
    assert len(set(symbols)) == len(symbols)
    lengths = [len(symbol) for symbol in symbols]
    assert lengths == [1] * 26 + [2] * 26**2 + [3] * 26**3 + [4] * 5


def test_a_seed_of_several_blocks_has_exactly_the_rows_asked_for():
    rows = seeding.BLOCK_ROWS + 7
    ids = [row[0] for block in generate_rows(rows, seed=2) for row in block]
    assert ids == list(range(1, rows + 1))


def test_a_generator_out_of_step_with_the_spec_names_the_column():
    columns = {key: [None] for key in STOCKS.keys} | {"nope": [1]}
    with pytest.raises(seeding.SeedError, match=r"\['nope'\]"):
        seeding._in_spec_order(columns, 1)
    del columns["nope"], columns["price"]
    with pytest.raises(seeding.SeedError, match=r"\['price'\]"):
        seeding._in_spec_order(columns, 1)
