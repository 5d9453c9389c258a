"""What the user asked to see, and the select statement that shows it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, String, cast, select

from .models import stocks


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool = False


COLUMNS = (
    Column("symbol", "Symbol"),
    Column("name", "Name"),
    Column("exchange", "Exchange"),
    Column("sector", "Sector"),
    Column("price", "Price", numeric=True),
    Column("change_pct", "Change %", numeric=True),
    Column("volume", "Volume", numeric=True),
    Column("market_cap", "Market cap", numeric=True),
    Column("updated_at", "Updated (UTC)"),
)


@dataclass(frozen=True)
class View:
    sort: str = "symbol"
    descending: bool = False

    def statement(self) -> Select:
        """The rows of this view, in the column order the renderers expect.

        Ordered by the sort column, then id, so ties keep a stable order and the
        ``(column, id)`` index serves the first row at once.
        """
        columns = [stocks.c[column.key] for column in COLUMNS]
        # The timestamp as text: SQLite and PostgreSQL print the same, and no per-row parsing.
        columns[-1] = cast(stocks.c.updated_at, String)
        order = [stocks.c[self.sort], stocks.c.id]
        if self.descending:
            order = [column.desc() for column in order]
        return select(*columns).order_by(*order)
