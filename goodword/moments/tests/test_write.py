"""The short cuts the moments write takes on SQLite give exactly Django's own text."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from goodword.moments.services import json_text, sqlite_datetime

VALUES = st.one_of(
    st.text(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
)


@given(
    value=st.one_of(
        st.dictionaries(st.text(), VALUES, max_size=5),
        st.dictionaries(st.integers(), st.text(), max_size=2),
        VALUES,
    )
)
def test_json_text_is_json_dumps(value: Any) -> None:
    assert json_text(value) == json.dumps(value)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite short cut")
@given(
    moment=st.datetimes(
        min_value=dt.datetime(1900, 1, 1),
        max_value=dt.datetime(2200, 1, 1),
        timezones=st.sampled_from([dt.UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Kolkata")]),
    )
)
def test_sqlite_datetime_is_djangos_own_text(moment: dt.datetime) -> None:
    assert sqlite_datetime(moment) == connection.ops.adapt_datetimefield_value(moment)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="must have a time zone"):
        sqlite_datetime(dt.datetime(2026, 1, 1))
