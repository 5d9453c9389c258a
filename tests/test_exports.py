"""CSV, NDJSON and JSON exports of the current view, streamed with the same machinery."""

from __future__ import annotations

import csv
import io
import json

from web.models import STOCKS

from .conftest import SEEDED_ROWS, leave_mid_stream
from .stock_rows import add_stock


def test_csv_is_rfc4180_with_a_header_and_every_row(client):
    response = client.get("/stocks.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8; header=present"
    assert response.headers["Content-Disposition"] == 'attachment; filename="stocks.csv"'
    text = response.get_data(as_text=True)
    lines = text.split("\r\n")
    assert lines[0] == ",".join(STOCKS.keys)
    assert lines[-1] == "" and "\n" not in text.replace("\r\n", "")
    records = list(csv.reader(io.StringIO(text)))
    assert len(records) == SEEDED_ROWS + 1
    assert [r[0] for r in records[1:]] == sorted(r[0] for r in records[1:])


def test_csv_quotes_where_needed_and_defuses_formulas(app, client):
    add_stock(app, id=900_001, symbol="ZQ91", name='=HYPERLINK("http://x", "a, b")')
    add_stock(app, id=900_002, symbol="ZQ92", name="@SUM(A1)", sector="Energy")
    add_stock(app, id=900_003, symbol="ZQ93", name="-1+2", exchange="TSX")
    records = list(csv.reader(io.StringIO(client.get("/stocks.csv?q=zq9").get_data(as_text=True))))
    names = {record[0]: record[1] for record in records[1:]}
    assert names == {
        "ZQ91": '\'=HYPERLINK("http://x", "a, b")',
        "ZQ92": "'@SUM(A1)",
        "ZQ93": "'-1+2",
    }
    change = {record[0]: record[5] for record in records[1:]}
    assert change["ZQ91"] == "-2.25", "numbers stay numbers"


def test_ndjson_has_one_typed_object_per_line(app, client):
    add_stock(app, name='Q "uote" & <tag>\n')
    response = client.get("/stocks.ndjson?sort=price&dir=desc&q=ZZZZ")
    assert response.headers["Content-Type"] == "application/x-ndjson"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="stocks-sort-price-dir-desc-q-zzzz.ndjson"'
    )
    [record] = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert record == {
        **dict.fromkeys(STOCKS.keys),  # NULL for any column add_stock leaves out
        "symbol": "ZZZZ",
        "name": 'Q "uote" & <tag>\n',
        "exchange": "NYSE",
        "sector": "Energy",
        "price": 1.5,
        "change_pct": -2.25,
        "volume": 10,
        "market_cap": 20,
        "updated_at": "2026-01-02T03:04:05Z",
    }


def test_exports_follow_the_view(client):
    everything = client.get("/stocks.ndjson").get_data(as_text=True).splitlines()
    energy = client.get("/stocks.ndjson?sector=Energy").get_data(as_text=True).splitlines()
    assert len(everything) == SEEDED_ROWS
    assert 0 < len(energy) < SEEDED_ROWS
    assert all(json.loads(line)["sector"] == "Energy" for line in energy)


def test_exports_stream_in_chunks_and_release_the_connection(app, client):
    assert leave_mid_stream(app, client, "/stocks.csv") == (1, 0)


def test_download_names_are_safe(client):
    response = client.get('/stocks.csv?q=a"b/../c')
    assert response.headers["Content-Disposition"] == ('attachment; filename="stocks-q-a-b-c.csv"')


def test_json_is_one_document_with_the_rows_then_the_count_and_outcome(client):
    response = client.get("/stocks.json?sector=Energy")
    assert response.headers["Content-Type"] == "application/json"
    assert "Content-Disposition" not in response.headers, "shown, not downloaded"
    text = response.get_data(as_text=True)
    document = json.loads(text)
    assert list(document) == ["rows", "count", "outcome"], "the totals come last"
    assert document["outcome"] == "completed"
    assert document["count"] == len(document["rows"]) > 0
    assert all(row["sector"] == "Energy" for row in document["rows"])
    ndjson = client.get("/stocks.ndjson?sector=Energy").get_data(as_text=True)
    assert document["rows"] == [json.loads(line) for line in ndjson.splitlines()]


def test_json_of_an_empty_view_is_still_a_document(client):
    document = client.get("/stocks.json?q=no-such-stock").get_json()
    assert document == {"rows": [], "count": 0, "outcome": "completed"}


def test_json_rows_span_chunks_with_one_comma_between_each(app_with):
    app = app_with(CHUNK_ROWS=7, FIRST_BATCH_ROWS=3)
    document = app.test_client().get("/stocks.json").get_json()
    assert document["count"] == len(document["rows"]) == SEEDED_ROWS
