"""Settings are data: each is defined once, documented in README, checked when the app starts."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from web import create_app
from web.db import get_engine
from web.models import STOCKS
from web.settings import SETTINGS, InvalidSetting

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def readme_table(first_header: str) -> dict[str, list[str]]:
    """The README table whose first column is headed ``first_header``: first cell -> cells."""
    lines = README.split(f"| {first_header}", 1)[1].splitlines()[2:]
    rows = {}
    for line in lines:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_every_setting_is_in_readme_with_its_default():
    documented = readme_table("setting ")
    assert list(documented) == [setting.variable for setting in SETTINGS]
    for setting in SETTINGS:
        if setting.default is not None:
            default = json.dumps(
                list(setting.default) if isinstance(setting.default, tuple) else setting.default
            )
            assert documented[setting.variable][0] == f"`{default}`", setting.name


def test_readme_lists_the_sort_columns_of_the_spec():
    sort = readme_table("parameter ")["sort"][0]
    listed = re.findall(r"`(\w+)`", sort.split("(")[0])
    assert listed == list(STOCKS.sort_keys)


def test_readme_lists_the_choices_of_each_enum_column():
    parameters = readme_table("parameter ")
    for column in STOCKS.enums:
        text = parameters[column.key][0]
        named = [choice for choice in column.choices if f"`{choice}`" in text]
        assert named == list(column.choices) or f"the {len(column.choices)}" in text


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("STREAMTABLE_CHUNK_ROWS", "lots", "STREAMTABLE_CHUNK_ROWS must be int, not 'lots'"),
        ("STREAMTABLE_MAX_ROWS", "true", "STREAMTABLE_MAX_ROWS must be int, not True"),
        ("STREAMTABLE_FLUSH_SECONDS", '"0.25"', "must be int or float"),
        ("STREAMTABLE_COMPRESSION", '"gzip"', "must be list or tuple"),
    ],
)
def test_a_setting_of_the_wrong_type_stops_the_app_with_its_name(
    monkeypatch, tmp_path, variable, value, message
):
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidSetting, match=re.escape(message)):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})


def test_settings_from_the_environment_reach_the_app(monkeypatch, tmp_path):
    monkeypatch.setenv("STREAMTABLE_MAX_SEARCH_LENGTH", "12")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    app = create_app()
    assert app.config["MAX_SEARCH_LENGTH"] == 12
    assert app.config["DATABASE_URL"].endswith("env.db")
    get_engine(app).dispose()


def test_the_search_box_holds_as_many_characters_as_a_search_may_have(app_with):
    client = app_with(MAX_SEARCH_LENGTH=7).test_client()
    assert 'maxlength="7"' in client.get("/stocks").get_data(as_text=True)
    assert client.get("/stocks?q=1234567").status_code == 200
    response = client.get("/stocks?q=12345678")
    assert response.status_code == 400
    assert "at most 7 characters" in response.get_data(as_text=True)


@pytest.fixture
def fresh_app_logger():
    """The app's logger as a process starts: its level not set (apps share the logger)."""
    logger = logging.getLogger("web")
    level = logger.level
    logger.setLevel(logging.NOTSET)
    yield logger
    logger.setLevel(level)


@pytest.mark.parametrize("level", ["INFO", "WARNING"])
def test_the_app_logs_at_the_level_it_is_given(app_with, fresh_app_logger, level):
    """Under gunicorn nothing else sets the app logger's level: without LOG_LEVEL applied,
    the per-stream INFO lines would never be written."""
    assert app_with(LOG_LEVEL=level).logger.level == getattr(logging, level)


def test_a_level_set_by_the_deployment_is_kept(app_with, fresh_app_logger):
    fresh_app_logger.setLevel(logging.ERROR)
    assert app_with(LOG_LEVEL="INFO").logger.level == logging.ERROR
