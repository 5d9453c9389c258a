"""Seeded tickers look like real ones: 1 to 5 capital letters, short ones included."""

from __future__ import annotations

import re
from collections import Counter

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
