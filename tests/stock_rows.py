"""Rows added to a test's database by plain SQL, independent of the app's models."""

from __future__ import annotations

from itertools import count

from sqlalchemy import text

from web.db import get_engine

_ids = count(900_000)

COLUMNS = "id, symbol, name, exchange, sector, price, change_pct, volume, market_cap, updated_at"


def add_stock(app, **values) -> dict:
    """Insert one stock (defaults for what is not given) and return its values."""
    row = dict(
        id=next(_ids),
        symbol="ZZZZ",
        name="x",
        exchange="NYSE",
        sector="Energy",
        price=1.5,
        change_pct=-2.25,
        volume=10,
        market_cap=20,
        updated_at="2026-01-02 03:04:05",
    )
    row.update(values)
    placeholders = ", ".join(f":{name.strip()}" for name in COLUMNS.split(","))
    with get_engine(app).begin() as conn:
        conn.execute(text(f"INSERT INTO stocks ({COLUMNS}) VALUES ({placeholders})"), row)
    return row
