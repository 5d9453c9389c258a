"""How a view's rows are read fast: which index serves its first rows, which the rest.

:meth:`View.statement` says which rows, in which order. A filtered view can be read two
ways, and neither wins everywhere (measured at 1M SQLite rows, ``sector=Energy``, 91k
matches, sorted by symbol):

- **walk the sort index**, testing each row against the filters: the first row in 0.05 ms,
  but the whole view is a walk over the table in index order, 5.0 s of random reads; and
  a filter that keeps few rows (``price__gte=999``: 977) or none is a walk over the whole
  table before even the first row (a search for a word nothing contains: 4.1 s);
- **read the matches** through the filters' indexes (or the full-text index,
  :mod:`web.search_index`) and sort them: the whole view in 0.21 s, but its first row waits
  for the sort (0.14 s for Energy, growing with the matches; 2.8 ms for the 977).

So a :class:`~web.db.Plan` does both: its ``head`` walks the sort index for the first batch
of rows, within the ``SORT_WALK_SECONDS`` setting (10 ms), and sends what it found by then;
its ``rows`` read the matches and sort them, skipping the rows the head sent. A view whose
walk finds nothing within the budget (its matches are few, or far apart in the sort order)
is read from its matches from the start, and few matches sort quickly. Whole views come at
the matches' speed (Energy: 0.21 s, not 5.0 s), and a first batch at the walk's.

PostgreSQL keeps statistics, so its planner is asked the same two questions in the query's
shape instead of being steered: the head has a ``LIMIT`` (it then prefers a plan that starts
fast), the rest has none. A cursor's query is still planned for its first 10% of rows
(``cursor_tuple_fraction``), so few counted matches are planned for all of theirs
(``Plan.whole``): then it prefers the plan that ends first.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Engine, Select, func, literal, select
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnClause, UnaryExpression
from sqlalchemy.sql.visitors import replacement_traverse

from . import search_index
from .db import Plan, count_within
from .filters import Op
from .spec import ColumnSpec, Kind
from .view import View

MATCHES_TO_SORT = 200_000
"""The most matches a plan sorts after its head: sorting them is the stall between the
head's rows and the rest (measured at 1M SQLite rows: 91k Energy rows in 0.2 s). A view
with more walks the sort index throughout: as slow in all (5 s for the 1M walk), but its
rows keep coming, and the page shows at most ``MAX_ROWS`` anyway."""


FEW_MATCHES = 500
"""Matches few enough to sort at once, with no head first. Their sort is the wait before
the first row, and it depends on how they are found: 1,014 rows of ``price__gte=990``
through the price index first in 12 ms, but 1,576 of "solar inc" through the full-text
index (a random read of each row) first in 39 ms by price, against 15 ms with a head
walking the sort index first (measured at 1M rows). Above this, a head goes first."""

POSTGRESQL_FEW_MATCHES = 5_000
"""The same on PostgreSQL for a view that searches no text: its planner reads counted
matches through a bitmap of a B-tree index and sorts them in a few ms (1,014 rows of
``price__gte=990``: first in 5-7 ms, against 48-58 ms with a head, for which it walked
the symbol index past 61k rows, expecting 9,007 matches; measured at 1M rows). A search's
matches stay at :data:`FEW_MATCHES`: 1,576 of "solar inc" came first in 22 ms sorted
whole, in 14-16 ms with a head."""


def plan(engine: Engine, view: View, count_seconds: float = 0.0, fts: bool | None = None) -> Plan:
    """The plan for ``view`` on ``engine``'s database.

    ``count_seconds``: how long the view's matches may be counted to choose (the page's
    early total counts the same, so a page pays for one count, remembered until the data
    changes: :func:`web.db.count_within`); 0 chooses without. ``fts``: whether the SQLite
    full-text index exists (looked up when not given).
    """
    statement = view.statement()
    if not view.conditions():
        return Plan(statement)  # every row: the sort index alone serves it
    if not view.q and all(kept.column.key == view.sort for kept in view.filters):
        return Plan(statement, how="a range of the sort index")  # the filter is the sort's
    if engine.dialect.name != "sqlite":
        return _postgresql_plan(engine, view, statement, count_seconds)
    if fts is None and _indexed_terms(view):  # looked up once, for the count and the plan
        fts = search_index.has_fts(engine, view.spec)
    candidates = _candidates(engine, view, fts)
    if count_seconds > 0:
        matches = count_within(engine, count_statement(engine, view, fts), count_seconds)
        # Too many to sort, or to count in time through the filters' indexes (~20M index
        # entries a second): walk the sort index all along. A search's count also reads
        # each match's row (its text is checked), so it may run out with few matches:
        # 25k for "robotics" take ~40 ms; its matches are read from the index all the same.
        too_slow = matches is None and not candidates
        if too_slow or (matches is not None and matches > MATCHES_TO_SORT):
            return Plan(_walking_sort_index(view), how="sort index")
        if matches is not None and matches <= FEW_MATCHES:
            return Plan(_sorted(statement, view, candidates), how="the matches")
    matches = _sorted(statement, view, candidates)
    return Plan(matches, head=_walking_sort_index(view), how="sort index, then the matches")


def _postgresql_plan(engine: Engine, view: View, statement: Select, count_seconds: float) -> Plan:
    """PostgreSQL's planner, asked with the query's shape. Told ``LIMIT 50``, it walks the
    sort index expecting matches soon; for a rare search that is a walk of the whole table
    (q=zyx, 58 of 1M rows: 340-540 ms to the first row), while its trigram index finds them
    all at once. So few matches, counted (through that index), are asked for without a
    limit and planned whole: the planner then reads them through the index and sorts them."""
    if _short_terms(view):
        statement = _without_trigram_index(view)
    if count_seconds > 0:
        matches = count_within(engine, count_statement(engine, view), count_seconds)
        few = FEW_MATCHES if _indexed_terms(view) else POSTGRESQL_FEW_MATCHES
        if matches is not None and matches <= few:
            return Plan(statement, how="the matches", whole=True)
    return Plan(statement, head=statement, how="head by the planner, then the matches")


def _short_terms(view: View) -> bool:
    """Whether the view searches text for a term too short for a trigram index."""
    if view.q and not search_index.indexable(view.q):
        return True
    return any(
        kept.column.kind is Kind.TEXT
        and kept.op in (Op.CONTAINS, Op.STARTSWITH)
        and not search_index.indexable(kept.values[0])
        for kept in view.filters
    )


def _without_trigram_index(view: View) -> Select:
    """PostgreSQL: the view with its text columns tested as ``column || ''``, which no
    index serves. Given a term of 1-2 characters, pg_trgm's GIN index has no trigram to
    look up and reads all of itself (q=ab at 1M rows: 1.5-1.8 s to the first row, against
    62 ms walking the sort index)."""
    return _with_conditions(view, _unindexed_text(view))


def _unindexed_text(view: View):
    """A replacement (for :func:`_conditions_with`) of each text column by ``column || ''``."""
    texts = {id(view.spec.table.c[c.key]) for c in view.spec.columns if c.kind is Kind.TEXT}

    def unindexed(element):
        if id(element) in texts:
            return element.op("||")(literal("")).self_group()
        return None

    return unindexed


def _sorted(statement: Select, view: View, candidates: list[ColumnElement[bool]]) -> Select:
    """The matches, read through the filters' (or the full-text) indexes, then sorted."""
    return statement.where(*candidates).order_by(None).order_by(*map(_unindexed, view.order()))


def count_statement(engine: Engine, view: View, fts: bool | None = None) -> Select:
    """The view's ``COUNT``, through the full-text index for its search; on PostgreSQL a
    term too short for trigrams kept off its index, as the view's rows are (the count of
    q=ab through pg_trgm's index read all of it, past its statement timeout: 6.5 s of 10M
    rows before the first row)."""
    table = view.spec.table
    if engine.dialect.name == "postgresql" and _short_terms(view):
        conditions = _conditions_with(view, _unindexed_text(view))
    else:
        conditions = matching(engine, view, fts)
    return select(func.count()).select_from(table).where(*conditions)


def _unindexed(term: ColumnElement) -> ColumnElement:
    """The same order or test with SQLite's unary ``+`` on its column: no index can serve
    it (the documented way to steer SQLite's planner), and its value and collation are the
    column's own."""
    return replacement_traverse(term, {}, _plus)


def _plus(element):
    if isinstance(element, ColumnClause) and element.table is not None:
        return UnaryExpression(element, operator=operators.custom_op("+"), type_=element.type)
    return None


def _walking_sort_index(view: View) -> Select:
    """The view's statement with every filter's column unindexed but the sort column's,
    so SQLite walks the sort index (a filter on the sort column narrows that walk)."""
    sort = view.spec.table.c[view.sort]

    def unindexed_unless_sorted(element):
        return None if element is sort else _plus(element)

    return _with_conditions(view, unindexed_unless_sorted)


def _with_conditions(view: View, replace) -> Select:
    """The view's statement, each element of its conditions passed through ``replace``
    (its replacement, or None to keep it): the columns shown and the order stay as they are."""
    conditions = _conditions_with(view, replace)
    return select(*view.shown.select_list()).where(*conditions).order_by(*view.order())


def _conditions_with(view: View, replace) -> list[ColumnElement[bool]]:
    return [replacement_traverse(c, {}, replace) for c in view.conditions()]


def matching(engine: Engine, view: View, fts: bool | None = None) -> list[ColumnElement[bool]]:
    """The view's conditions, and what lets an index find its rows: the ones to count."""
    return [*view.conditions(), *_candidates(engine, view, fts)]


def _candidates(engine: Engine, view: View, fts: bool | None) -> list[ColumnElement[bool]]:
    """SQLite: ``id IN`` the full-text index's matches of each term it can look up (none
    when there is no index a search can use: web/search_index.py). PostgreSQL's planner
    uses its trigram indexes for the view's own ``LIKE``."""
    terms = _indexed_terms(view)
    index = search_index.usable_index(engine, view.spec, fts) if terms else None
    if index is None:
        return []
    return [
        search_index.fts_candidates(view.spec, index, term)
        for term, columns in terms
        if {column.key for column in columns} <= set(index.columns)
    ]


def _indexed_terms(view: View) -> list[tuple[str, tuple[ColumnSpec, ...]]]:
    """(term, columns) for each term a trigram index can look up: the search, and each
    ``__contains`` / ``__startswith`` filter's on a free-text column."""
    terms = [(view.q, view.spec.searched)] if view.q and search_index.indexable(view.q) else []
    for kept in view.filters:
        if kept.column.kind is Kind.TEXT and kept.op in (Op.CONTAINS, Op.STARTSWITH):
            (term,) = kept.values
            if search_index.indexable(term):
                terms.append((term, (kept.column,)))
    return terms
