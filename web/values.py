"""What a value is, whatever the storage holds: a finite number, NaN or an infinity, or text.

SQLite keeps text in an integer column when it is given text, PostgreSQL keeps ``NaN`` and
``±Infinity`` in a ``double precision`` one, so a value need not be of its column's type.
The renderers' safe loops (:mod:`web.render`), the footer's sums (:mod:`web.streams`) and
the row page (:meth:`web.spec.ColumnSpec.display`) ask here, so all three agree.

NaN and the infinities are spelled as PostgreSQL spells them (what psql shows, what its
``COPY ... CSV`` writes, and what ``float()`` reads back): NaN, Infinity, -Infinity. JSON has
no form for them; :mod:`web.render` writes null.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

INF = float("inf")


def is_number(value: Any) -> bool:
    """An int, a float or a Decimal (a bool is not a number here)."""
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    if not is_number(value):
        return False
    return value.is_finite() if isinstance(value, Decimal) else -INF < value < INF


def non_finite_name(value: float | Decimal) -> str:
    if value != value:  # only NaN differs from itself
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def as_text(value: Any) -> str:
    """Any value as text: a non-finite number by its name, a BLOB as UTF-8 where it is."""
    if is_number(value) and not is_finite_number(value):
        return non_finite_name(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
