"""The app's error page for addresses it does not serve: an unknown path (404) or a
method a route does not take (405), instead of Werkzeug's bare page; and for a stream
turned away because the server is busy (503 with ``Retry-After``, web/admission.py).

The security headers still apply: Flask runs the ``after_request`` hooks on a handler's
response too.
"""

from __future__ import annotations

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, ServiceUnavailable

from .served import served_table
from .stocks import is_htmx

TITLES = {
    NotFound.code: "Page not found",
    MethodNotAllowed.code: "Method not allowed",
    ServiceUnavailable.code: "The server is busy",
}
BESIDE_THE_CONTROLS = {"HX-Retarget": "#view-error", "HX-Reswap": "innerHTML"}


def init_app(app: Flask) -> None:
    for code in TITLES:
        app.register_error_handler(code, page_for)


def page_for(error: HTTPException):
    message = error_message(error)
    # Werkzeug's headers minus its Content-Type: a 405 keeps its Allow header, a 503 its
    # Retry-After.
    headers = {name: value for name, value in error.get_headers() if name != "Content-Type"}
    if is_htmx():
        # htmx shows it beside the controls (as a 400 is shown); no page around it.
        fragment = render_template("stocks/_error.html", message=message)
        return fragment, error.code, headers | BESIDE_THE_CONTROLS
    title = TITLES[error.code]
    page = render_template("error.html", title=title, message=message, spec=served_table())
    return page, error.code, headers


def error_message(error: HTTPException) -> str:
    if isinstance(error, MethodNotAllowed):
        return f"{request.path} does not take {request.method} requests."
    if error.description != type(error).description:  # the app's own words: "no stock 'X'"
        return error.description
    return f"There is no page at {request.path}."
