"""The one table this app serves, declared once as a :class:`web.spec.TableSpec`.

Everything else (the SQLAlchemy table and its indexes, the select list, the renderers, the
exports' headers, the page's header and column styles) derives from :data:`STOCKS`.
Adding a column is a declaration here, plus values for it in the seed generator
(``web/seeding.py``); a nullable one the generator does not know is seeded as NULL.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, DateTime, Double, String
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import DeclarativeBase

from .spec import (
    BILLIONS,
    COUNT,
    MONEY,
    SIGNED,
    TEXT,
    UTC_TIMESTAMP,
    Aggregate,
    ColumnSpec,
    Kind,
    Search,
    Summary,
    TableSpec,
    Tone,
)

# Whole seconds, no microseconds: the text SQLite stores is the text PostgreSQL prints.
Timestamp = DateTime().with_variant(
    sqlite.DATETIME(
        storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d",
        regexp=r"(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)",
    ),
    "sqlite",
)

STOCKS = TableSpec(
    name="stocks",
    title="Stocks",
    noun=("stock", "stocks"),
    columns=(
        ColumnSpec(
            "symbol",
            "Symbol",
            String(16),
            Kind.TEXT,
            TEXT,
            width="6.5rem",
            tone=Tone.STRONG,
            unique=True,
            search=Search.PREFIX,
            links=True,
        ),
        ColumnSpec(
            "name",
            "Name",
            String(160),
            Kind.TEXT,
            TEXT,
            min_width="12rem",
            search=Search.CONTAINS,
        ),
        ColumnSpec(
            "exchange",
            "Exchange",
            String(16),
            Kind.ENUM,
            TEXT,
            width="7rem",
            facetable=True,
            choices=("NYSE", "NASDAQ", "LSE", "XETRA", "TSE", "HKEX", "Euronext", "TSX"),
        ),
        ColumnSpec(
            "sector",
            "Sector",
            String(40),
            Kind.ENUM,
            TEXT,
            width="14rem",  # "Communication Services" in full
            facetable=True,
            choices=(  # the 11 GICS sectors
                "Communication Services",
                "Consumer Discretionary",
                "Consumer Staples",
                "Energy",
                "Financials",
                "Health Care",
                "Industrials",
                "Information Technology",
                "Materials",
                "Real Estate",
                "Utilities",
            ),
        ),
        ColumnSpec(
            "price",
            "Price",
            Double(),
            Kind.NUMBER,
            MONEY,
            width="7rem",
            summary=Summary(Aggregate.AVERAGE, "average price", ",.2f"),
        ),
        ColumnSpec(
            "change_pct",
            "Change %",
            Double(),
            Kind.NUMBER,
            SIGNED,
            width="7rem",
            tone=Tone.SIGNED,
            percent=True,
        ),
        ColumnSpec("volume", "Volume", BigInteger(), Kind.NUMBER, COUNT, width="9.5rem"),
        ColumnSpec(
            "market_cap",
            "Market cap",
            BigInteger(),
            Kind.NUMBER,
            BILLIONS,
            width="8rem",
            summary=Summary(Aggregate.TOTAL, "total market cap", ",.1f", scale=1e9, unit="bn"),
        ),
        ColumnSpec(
            "updated_at",  # naive UTC
            "Updated (UTC)",
            Timestamp,
            Kind.TIME,
            UTC_TIMESTAMP,
            width="12.5rem",
            tone=Tone.MUTED,
        ),
    ),
)


stocks = STOCKS.table


class Base(DeclarativeBase):
    metadata = stocks.metadata


class Stock(Base):
    """The ORM view of a stock, for code that wants objects (the benchmark's classic app)."""

    __table__ = stocks
