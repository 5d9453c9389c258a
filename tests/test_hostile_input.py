"""Generated query strings and headers thrown at every route: never a 5xx, never a trace."""

from __future__ import annotations

from urllib.parse import quote_from_bytes, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from web.filters import Op
from web.models import STOCKS
from web.view import FORM_FILTER, parameters

PATHS = [
    "/",
    "/stocks",
    "/stocks.csv",
    "/stocks.ndjson",
    "/stocks.json",
    "/stocks.xml",
    "/stocks/",
    "/static/favicon.svg",
    "/static/../web/__init__.py",
    "/nowhere",
]
PARAMETERS = parameters(STOCKS, max_search_length=100)
CHOICES = [choice for column in STOCKS.enums for choice in column.choices]
NAMES = st.sampled_from(
    [*PARAMETERS, *FORM_FILTER, "", "sort[]", "_sort", "page", "q\x00", "price__in", "nope__gte"]
) | st.text(max_size=8)
VALUES = (
    st.sampled_from([*STOCKS.sort_keys, "asc", "desc", *CHOICES, *Op, "", " "])
    | st.sampled_from(["100", "-5.5", "1e999", "nan", "1_0", "2026-11-30", "2026-11-30T10:00Z"])
    | st.sampled_from(["symbol,price", "price,,name", "symbol,nope", "2026-02-30"])
    | st.text(max_size=120)
    | st.text(min_size=90, max_size=400)
)
QUERIES = st.lists(st.tuples(NAMES, VALUES), max_size=6).map(urlencode) | st.binary(
    max_size=120
).map(lambda raw: quote_from_bytes(raw, safe="=&%+"))
HEADER_VALUE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)
HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "HX-Request",
            "Accept-Encoding",
            "Accept",
            "HX-Target",
            "Range",
            "If-None-Match",
            "If-Modified-Since",
            "Cookie",
            "X-Forwarded-For",
            "Content-Type",
        ]
    ),
    HEADER_VALUE | st.sampled_from(["true", "zstd;q=0.5, br", "*", "bytes=0-10", "gzip;q=x"]),
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=st.sampled_from(PATHS), query=QUERIES, headers=HEADERS)
def test_no_input_makes_the_server_fail(client, path, query, headers):
    with client.get(path, query_string=query, headers=headers) as response:
        assert response.status_code < 500, (path, query, headers)
        body = response.get_data()  # the whole stream: it must not fail midway either
    if response.status_code == 400:
        assert b"Traceback" not in body
        assert len(body) < 20_000, "a short message, not a page of detail"
    page = response.mimetype == "text/html" and "Content-Encoding" not in response.headers
    if response.status_code == 200 and page:
        assert body.rstrip().endswith(b"</html>"), "a page that ended early"
