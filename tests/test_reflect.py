"""STREAMTABLE_TABLE: the app serves a table of awkward shape that the database already has.

The tables are made here, with SQLAlchemy Core, so the same shapes run on SQLite and on
PostgreSQL: a text key (no integer id), an integer key, a composite key, no key at all, 40
columns, names with spaces and quotes, NULL-heavy columns, BLOBs, very wide text and
hostile values.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime

import pytest
from flask import Flask
from flask import request as flask_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    select,
    text,
)
from sqlalchemy.engine import make_url

from tests.conftest import held_stream, leave_mid_stream
from web import create_app, planner
from web.db import get_engine, make_engine
from web.reflect import NoSuchTable
from web.render import renderers_for
from web.served import served_table
from web.spec import FullTextIndex, Kind
from web.view import View, parameters

WIDE_ROWS = 2_000  # more than the first chunk and a row group: a stream can be left midway
HOSTILE = '=HYPERLINK("http://evil","x")<img src=x onerror=alert(1)>'
ODD_NAMES = ["first name", 'say "hi"', "it's", "a,b"]  # a comma: cols= cannot name it


def _tables() -> MetaData:
    metadata = MetaData()
    Table(
        "places",  # a text key: no integer id anywhere
        metadata,
        Column("code", String(8), primary_key=True),
        Column("name", Text, nullable=False),
        Column("population", BigInteger, index=True),
        Column("founded", Date),
    )
    Table(
        "events",  # an integer key
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("at", DateTime, nullable=False, index=True),
        Column("kind", String(10), nullable=False, index=True),  # few values: a facet
        Column("payload", LargeBinary),
    )
    Table(
        "pairs",  # a composite key
        metadata,
        Column("region", String(10), primary_key=True),
        Column("year", Integer, primary_key=True),
        Column("value", Float),
    )
    Table(
        "odd shapes",  # no key at all, 40 columns
        metadata,
        *(Column(name, Text) for name in ODD_NAMES),
        Column("notes", Text),  # very wide
        Column("maybe", Integer),  # NULL in nine rows of ten
        Column("photo", LargeBinary),
        Column("price", Numeric(10, 2)),
        *(Column(f"c{i:02}", Integer if i % 2 else Text) for i in range(32)),
    )
    return metadata


def _fill(url: str) -> None:
    engine = make_engine(url)
    metadata = _tables()
    metadata.create_all(engine)
    t = metadata.tables
    with engine.begin() as connection:
        connection.execute(
            t["places"].insert(),
            [
                {
                    "code": f"P{i}" if i else "A B/é",
                    "name": HOSTILE if i == 1 else f"Place {i}",
                    "population": None if i % 3 == 0 else i * 1000,
                    "founded": date(2000, 1, 1 + i % 28),
                }
                for i in range(100)
            ],
        )
        connection.execute(
            t["events"].insert(),
            [
                {
                    "id": i,
                    "at": datetime(2026, 11, 1 + i % 30, 12),
                    "kind": ("in", "out")[i % 2],
                    "payload": b"\x00" * 2048,
                }
                for i in range(1, 61)
            ],
        )
        connection.execute(
            t["pairs"].insert(),
            [
                {"region": region, "year": year, "value": year / 7}
                for region in ("North", "South")
                for year in range(2000, 2010)
            ],
        )
        odd = []
        for i in range(WIDE_ROWS):
            row = {name: f"{name} {i}" for name in ODD_NAMES}
            row |= {f"c{n:02}": (n * i if n % 2 else f"t{n}") for n in range(32)}
            row |= {
                "notes": "w" * 100_000 if i == 5 else ("<b>bold</b>" if i == 6 else None),
                "maybe": i if i % 10 == 0 else None,
                "photo": b"\x00\xff" * 600 if i % 2 else None,
                "price": 12.5,
            }
            odd.append(row)
        odd[7]["first name"] = HOSTILE
        connection.execute(t["odd shapes"].insert(), odd)
    engine.dispose()


def _execute(url: str, *statements: str) -> None:
    """Run SQL on the test's database, as someone else than the app would."""
    engine = make_engine(url)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    engine.dispose()


@pytest.fixture
def own_tables(new_database: Callable[..., str]) -> str:
    url = new_database()
    _fill(url)
    return url


@pytest.fixture
def serve(own_tables: str) -> Iterator[Callable[..., Flask]]:
    """Call with a table's name for an app serving it."""
    made: list[Flask] = []

    def make(name: str, **settings) -> Flask:
        config = {"TESTING": True, "DATABASE_URL": own_tables, "TABLE": name, **settings}
        made.append(create_app(config))
        return made[-1]

    yield make
    for app in made:
        get_engine(app).dispose()


def _rows(html: str) -> list[list[str]]:
    """The cells of the page's rows (its row groups), links taken out."""
    groups = re.findall(r'<tbody class="g">(.*?)</tbody>', html, flags=re.DOTALL)
    rows = [row for group in groups for row in re.findall(r"<tr>(.*?)(?=<tr>|$)", group, re.S)]
    return [[re.sub(r"<a [^>]*>|</a>", "", c) for c in re.split(r"<td[^>]*>", r)[1:]] for r in rows]


def test_the_spec_is_reflected_from_the_database(serve):
    places = served_table(serve("places"))
    assert places.keys == ("code", "name", "population", "founded")
    assert [c.label for c in places.columns] == ["Code", "Name", "Population", "Founded"]
    kinds = [c.kind for c in places.columns]
    assert kinds == [Kind.TEXT, Kind.TEXT, Kind.NUMBER, Kind.TIME]
    assert [c.nullable for c in places.columns] == [False, False, True, True]
    assert [c.indexed for c in places.columns] == [True, False, True, False]
    assert places.row_key.key == "code" and places.tiebreak == ("code",)
    pairs = served_table(serve("pairs"))
    assert pairs.tiebreak == ("region", "year") and pairs.row_key is None
    assert pairs.column("region").kind is Kind.ENUM  # an index lists its two values
    assert pairs.column("region").choices == ("North", "South")
    odd = served_table(serve("odd shapes"))
    assert len(odd.columns) == 40 and odd.tiebreak == () and odd.row_key is None
    assert odd.column("photo").kind is Kind.BLOB
    assert odd.slug == "odd-shapes"


def test_the_root_leads_to_the_served_table_and_the_stock_table_is_not_served(serve):
    client = serve("odd shapes").test_client()
    assert client.get("/").headers["Location"] == "/odd-shapes"
    assert client.get("/stocks").status_code == 404


def test_a_table_the_database_lacks_stops_the_app_naming_the_tables_it_has(own_tables):
    with pytest.raises(NoSuchTable, match=r"no table 'nope'; its tables: .*events.*places"):
        create_app({"TESTING": True, "DATABASE_URL": own_tables, "TABLE": "nope"})


def test_a_table_without_a_key_streams_its_awkward_values_inert(serve):
    page = serve("odd shapes").test_client().get("/odd-shapes").get_data(as_text=True)
    rows = _rows(page)
    assert len(rows) == WIDE_ROWS and all(len(row) == 40 for row in rows)
    by_name = {row[0]: row for row in rows}
    hostile = by_name[
        "=HYPERLINK(&#34;http://evil&#34;,&#34;x&#34;)&lt;img src=x onerror=alert(1)&gt;"
    ]
    assert hostile[1] == 'say "hi" 7'.replace('"', "&#34;")
    assert "<img" not in page and "<b>bold" not in page
    assert by_name["first name 5"][4] == "w" * 100_000  # whole, escaped; CSS clips it
    assert by_name["first name 1"][6] == "1,200 bytes"  # a BLOB is its size, not its bytes
    assert by_name["first name 2"][6] == "" and by_name["first name 2"][5] == ""  # NULLs
    assert by_name["first name 10"][5] == "10"
    assert "\\x00" not in page and "\x00" not in page
    headers = re.findall(r'<th scope="col"[^>]*>\s*<a [^>]*>([^<]*)</a>', page)
    assert headers[:4] == ["First name", "Say &#34;hi&#34;", "It&#39;s", "A,b"]


def test_the_exports_of_a_reflected_table_keep_its_names_and_defuse_formulas(serve):
    client = serve("odd shapes").test_client()
    records = list(csv.reader(io.StringIO(client.get("/odd-shapes.csv").get_data(as_text=True))))
    header, rows = records[0], records[1:]
    assert header[:4] == ODD_NAMES and len(header) == 40 and len(rows) == WIDE_ROWS
    hostile = next(row for row in rows if row[1] == 'say "hi" 7')
    assert hostile[0] == "'" + HOSTILE  # a spreadsheet would run it: defused
    photo = header.index("photo")
    assert {row[photo] for row in rows} == {"", "1200"}
    lines = client.get("/odd-shapes.ndjson").get_data(as_text=True).splitlines()
    first = json.loads(lines[0])
    assert list(first) == header and len(lines) == WIDE_ROWS
    document = client.get("/odd-shapes.json?maybe__gte=1990").get_json()
    assert [row["maybe"] for row in document["rows"]] == [1990]
    assert document["rows"][0]["photo"] is None and document["rows"][0]["price"] == 12.5


def test_sorting_is_offered_on_every_column_and_the_page_says_which_are_fast(serve):
    client = serve("places").test_client()
    page = client.get("/places").get_data(as_text=True)
    assert "Fast sorts (indexed): Code, Population." in page
    assert page.count('class="unindexed"') == 2  # name and founded
    descending = _rows(client.get("/places?sort=name&dir=desc").get_data(as_text=True))
    names = [row[1] for row in descending]
    assert names == sorted(names, reverse=True)


def test_ties_are_ordered_by_the_composite_key(serve):
    client = serve("pairs").test_client()
    rows = _rows(client.get("/pairs?sort=value&dir=desc").get_data(as_text=True))
    assert [row[:2] for row in rows[:3]] == [
        ["South", "2009"],
        ["North", "2009"],
        ["South", "2008"],
    ]


def test_search_covers_the_text_columns_and_says_there_is_no_full_text_index(serve):
    client = serve("places").test_client()
    page = client.get("/places?q=place 4").get_data(as_text=True)
    assert "No full-text index: a search reads the text columns of every row" in page
    assert {row[1] for row in _rows(page)} == {"Place 4", *(f"Place {n}" for n in range(40, 50))}
    assert client.get("/pairs?q=x").status_code == 404  # not the served table
    pairs = serve("pairs").test_client().get("/pairs?q=North")
    assert pairs.status_code == 400 and "no text columns to search" in pairs.get_data(as_text=True)


def _searched_through(app: Flask, query: str) -> tuple[list[list[str]], str]:
    """The rows of ``/places?{query}`` and the plan SQLite reports for its matches."""
    page = app.test_client().get(f"/places?{query}").get_data(as_text=True)
    engine = get_engine(app)
    with app.test_request_context(f"/places?{query}"):
        view = View.from_args(flask_request.args, served_table(app), 100)
        statement = planner.plan(engine, view, count_seconds=0).rest_statement(0)
    with engine.connect() as connection:
        sql = statement.compile(engine, compile_kwargs={"literal_binds": True})
        steps = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
    return _rows(page), " | ".join(step[-1] for step in steps)


# As sqlite-utils writes it (enable-fts --tokenize trigram --create-triggers): brackets.
TRIGRAM_FTS = (
    "CREATE VIRTUAL TABLE [places_fts] USING FTS5 ([code], [name], tokenize='trigram', "
    "content=[places])",
    "INSERT INTO places_fts (rowid, code, name) SELECT rowid, code, name FROM places",
)


def test_a_trigram_index_of_a_reflected_table_finds_a_searchs_matches(serve, own_tables):
    if make_url(own_tables).get_backend_name() != "sqlite":
        pytest.skip("PostgreSQL's planner picks its trigram indexes itself")
    before, walked = _searched_through(serve("places"), "q=place 4&sort=population")
    assert "VIRTUAL TABLE" not in walked
    _execute(own_tables, *TRIGRAM_FTS)
    app = serve("places")
    assert served_table(app).full_text == FullTextIndex("places_fts", ("code", "name"))
    page = app.test_client().get("/places").get_data(as_text=True)
    assert "Search finds its matches through the full-text index places_fts (of code, name)" in page
    for query in ("q=place 4&sort=population", "name__contains=ace 4", "q=PLACE 4&sort=code"):
        rows, plan = _searched_through(app, query)
        assert "SCAN places_fts VIRTUAL TABLE" in plan, query
        assert rows == _searched_through(serve("places", COUNT_SECONDS=0), query)[0]
    assert _searched_through(app, "q=place 4&sort=population")[0] == before


def test_a_trigram_index_serves_only_the_searches_of_the_columns_it_covers(serve, own_tables):
    if make_url(own_tables).get_backend_name() != "sqlite":
        pytest.skip("PostgreSQL's planner picks its trigram indexes itself")
    _execute(
        own_tables,
        "CREATE VIRTUAL TABLE places_fts USING fts5(name, tokenize='trigram', content='places')",
        "INSERT INTO places_fts (rowid, name) SELECT rowid, name FROM places",
    )
    app = serve("places")
    rows, plan = _searched_through(app, "q=p12")  # the search covers the code too
    assert "VIRTUAL TABLE" not in plan
    assert [row[0] for row in rows] == ["P12"]  # found by its code alone
    assert "SCAN places_fts VIRTUAL TABLE" in _searched_through(app, "name__contains=ace 12")[1]


@pytest.mark.parametrize(
    ("create", "why"),
    [
        (
            "CREATE VIRTUAL TABLE places_fts USING fts5(name, content='places')",
            "its tokenizer finds words",
        ),
        (
            "CREATE VIRTUAL TABLE places_fts USING fts5(name, content='places', "
            "tokenize='trigram case_sensitive 1')",
            "it tells capitals apart",
        ),
        ("CREATE VIRTUAL TABLE places_fts USING fts4(name, content='places')", "only an FTS5"),
        (
            "CREATE VIRTUAL TABLE places_fts USING fts5(title, content='places', "
            "tokenize='trigram')",
            "it indexes columns the table does not have",
        ),
        (
            "CREATE INDEX places_fts ON places USING gin (to_tsvector('simple', name))",
            "it indexes words",
        ),
        (
            "CREATE INDEX places_fts ON places USING gin (lower(name) gin_trgm_ops)",
            "it is on an expression",
        ),
    ],
)
def test_a_full_text_index_a_search_cannot_use_is_named_with_the_reason(
    serve, own_tables, create, why
):
    postgresql = make_url(own_tables).get_backend_name() == "postgresql"
    if postgresql != create.startswith("CREATE INDEX"):
        pytest.skip("an index of the other database")
    _execute(
        own_tables, *(["CREATE EXTENSION IF NOT EXISTS pg_trgm"] if postgresql else []), create
    )
    app = serve("places")
    assert served_table(app).full_text.name == "places_fts"
    page = app.test_client().get("/places").get_data(as_text=True)
    assert f"the full-text index places_fts is not used, as {why}" in page
    if not postgresql:
        assert "VIRTUAL TABLE" not in _searched_through(app, "q=place 4")[1]


def test_a_trigram_index_on_the_column_is_one_postgresql_uses(serve, own_tables):
    if make_url(own_tables).get_backend_name() != "postgresql":
        pytest.skip("SQLite's trigram index is an FTS5 table (the test above)")
    _execute(
        own_tables,
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        "CREATE INDEX places_trgm ON places USING gin (name gin_trgm_ops)",
    )
    page = serve("places").test_client().get("/places").get_data(as_text=True)
    assert "Search finds its matches through the full-text index places_trgm." in page


def test_filters_and_facets_follow_the_column_kinds(serve):
    client = serve("events").test_client()
    page = client.get("/events?kind=in&at__gte=2026-11-29").get_data(as_text=True)
    assert [row[0] for row in _rows(page)] == ["28", "58"]  # days 29 and 30
    assert '<option value="at">' in page and '<option value="kind">' not in page  # a menu
    facets = page.split('id="facets-final"')[1]
    assert re.search(r">in</a> <span class=\"count\" data-value=\"in\">2<", facets)
    odd = serve("odd shapes").test_client()
    for query, message in [
        ("photo__gte=5", "photo is binary data: it cannot be filtered"),
        ("photo=5", "photo is binary data: it cannot be filtered"),
        ("maybe__gte=lots", "maybe: &#39;lots&#39; is not a number"),
        ("maybe__contains=1", "maybe is a number: filter it with maybe__gte"),
        ("sort=nope", "sort must be one of: first name, say"),
        ("kind=in", None),  # not a column of this table: ignored
    ]:
        response = odd.get(f"/odd-shapes?{query}")
        if message is None:  # the view without it
            assert response.headers["Location"] == "/odd-shapes"
        else:
            assert response.status_code == 400, query
            assert message in response.get_data(as_text=True), query


def test_row_pages_exist_only_for_a_one_column_key(serve):
    places = serve("places").test_client()
    page = places.get("/places").get_data(as_text=True)
    assert "<a href=places/A%20B%2F%C3%A9>A B/é</a>" in page
    assert "Rows have no pages" not in page
    row = places.get("/places/A%20B%2F%C3%A9")
    assert row.status_code == 200 and "Place 0" in row.get_data(as_text=True)
    assert places.get("/places/P1.json").get_json()["name"] == HOSTILE
    assert places.get("/places/nope").status_code == 404
    events = serve("events").test_client()
    assert "<a href=events/7>7</a>" in events.get("/events").get_data(as_text=True)
    assert events.get("/events/7.json").get_json()["kind"] == "out"
    assert '<dd class="right">2,048 bytes</dd>' in events.get("/events/7").get_data(as_text=True)
    assert events.get("/events/seven").status_code == 404
    pairs = serve("pairs").test_client()
    assert "Rows have no pages of their own" in pairs.get("/pairs").get_data(as_text=True)
    assert pairs.get("/pairs/North").status_code == 404


def test_first_rows_come_before_the_end_and_leaving_releases_the_connection(serve):
    app = serve("odd shapes", FIRST_BATCH_ROWS=10, CHUNK_ROWS=100)
    response, rest = held_stream(app.test_client(), "/odd-shapes")
    assert b"stream-end" not in next(rest)  # rows streamed, more to come
    response.close()
    streaming, after = leave_mid_stream(app, app.test_client(), "/odd-shapes.csv")
    assert (streaming, after) == (1, 0)


def test_a_primary_key_declared_without_not_null_still_names_row_pages(serve, own_tables):
    """SQLite lets an old table's text key be NULL unless declared NOT NULL; it is a key all
    the same (PostgreSQL makes it NOT NULL itself)."""
    _execute(
        own_tables,
        "CREATE TABLE legacy (code VARCHAR(8) PRIMARY KEY, n INTEGER)",
        "INSERT INTO legacy VALUES ('k1', 1), ('k2', 2)",
    )
    client = serve("legacy").test_client()
    assert "<a href=legacy/k2>k2</a>" in client.get("/legacy").get_data(as_text=True)
    assert client.get("/legacy/k2.json").get_json() == {"code": "k2", "n": 2}


@pytest.mark.parametrize("name", ["places", "events", "pairs"])
def test_ordinary_rows_of_a_reflected_table_take_the_fast_loops(serve, name):
    """The generated loops write each column as its spec says; only an odd value sends a
    chunk to the safe loops (web/render.py). A reflected spec must fit its own rows."""
    app = serve(name)
    spec = served_table(app)
    with get_engine(app).connect() as connection:
        rows = connection.execute(select(*spec.select_list())).all()
    renderers = renderers_for(spec)
    for render in (renderers.html, renderers.csv, renderers.ndjson, renderers.json):
        assert render.fast(rows) == render.safe(rows)


@pytest.fixture
def odd_client(serve):
    return serve("odd shapes").test_client()


ODD_PARAMETERS = st.sampled_from(
    [*ODD_NAMES, "photo", "photo__gte", "maybe__gte", "price__lt", "notes__contains", "sort", "q"]
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    query=st.lists(
        st.tuples(
            ODD_PARAMETERS | st.text(max_size=12),
            st.sampled_from([*ODD_NAMES, "photo", "1e999", "nan", "5", "desc", ""])
            | st.text(max_size=40),
        ),
        max_size=4,
    ),
    path=st.sampled_from(["/odd-shapes", "/odd-shapes.csv", "/odd-shapes.json", "/odd-shapes/1"]),
)
def test_no_query_makes_a_reflected_table_fail(odd_client, query, path):
    with odd_client.get(path, query_string=query) as response:
        assert response.status_code < 500, (path, query)
        body = response.get_data()
    if response.status_code == 200 and path == "/odd-shapes":
        assert body.rstrip().endswith(b"</html>")


def test_every_parameter_of_a_reflected_table_is_described(serve):
    described = parameters(served_table(serve("odd shapes")), max_search_length=100)
    assert described["first name__contains"].startswith("only rows whose first name contains")
    assert "photo__gte" not in described and "maybe__gte" in described
    pairs = parameters(served_table(serve("pairs")), max_search_length=100)
    assert pairs["q"] == "none: Pairs has no text columns to search"


def test_a_table_named_like_a_path_of_the_app_is_served_beside_it(serve, own_tables):
    _execute(own_tables, "CREATE TABLE health (status TEXT)", "INSERT INTO health VALUES ('fine')")
    client = serve("health").test_client()
    assert client.get("/").headers["Location"] == "/health-table"
    assert client.get("/health").get_data(as_text=True) == "ok\n"
    assert client.get("/health-table.json").get_json()["rows"] == [{"status": "fine"}]


def test_a_reflected_table_is_searched_without_the_seeds_own_index(serve, own_tables):
    """The stock table's full-text index is named after its table (web/search_index.py);
    a reflected table's namesake is not ours to use, and its rows have no id for it."""
    if make_url(own_tables).get_backend_name() == "sqlite":
        _execute(own_tables, "CREATE VIRTUAL TABLE places_search USING fts5(name)")
    page = serve("places").test_client().get("/places?q=place 4").get_data(as_text=True)
    assert len(_rows(page)) == 11
