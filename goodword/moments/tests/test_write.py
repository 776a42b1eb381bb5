"""The short cuts the moments write takes give exactly Django's own text: on SQLite row by
row, and in Arrow for whole columns of findings."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from goodword.moments.services import (
    UTC_US,
    json_strings,
    json_text,
    sqlite_datetime,
    sqlite_datetimes,
    utc_minutes,
)

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


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite short cut")
@given(
    moments=st.lists(
        st.datetimes(
            min_value=dt.datetime(1, 1, 2),
            max_value=dt.datetime(9999, 12, 30),
            timezones=st.sampled_from([dt.UTC, ZoneInfo("America/New_York")]),
        ),
        max_size=20,
    )
)
def test_sqlite_datetimes_in_arrow_are_djangos_own_text(moments: list[dt.datetime]) -> None:
    column = pa.array(moments, UTC_US)
    assert sqlite_datetimes(column).to_pylist() == [
        connection.ops.adapt_datetimefield_value(m) for m in moments
    ]


@given(
    moments=st.lists(
        st.datetimes(
            # Before the year 1000, strftime leaves the year unpadded ("999-01-01"); Arrow's
            # ISO text pads it, as the evidence had better.
            min_value=dt.datetime(1000, 1, 2),
            max_value=dt.datetime(9999, 12, 30),
            timezones=st.sampled_from([dt.UTC, ZoneInfo("Asia/Kolkata")]),
        ),
        max_size=20,
    )
)
def test_utc_minutes_in_arrow_are_strftime(moments: list[dt.datetime]) -> None:
    column = pa.chunked_array([pa.array(moments, UTC_US)])
    assert utc_minutes(column).to_pylist() == [
        f"{m.astimezone(dt.UTC):%Y-%m-%d %H:%M}" for m in moments
    ]


@given(texts=st.lists(st.one_of(st.text(), st.none(), st.from_regex(r"[ -~]*")), max_size=20))
def test_json_strings_in_arrow_are_json_dumps(texts: list[str | None]) -> None:
    assert json_strings(pa.array(texts, pa.string())).to_pylist() == [json.dumps(t) for t in texts]
    chunked = pa.chunked_array([pa.array(texts[:3], pa.string()), pa.array(texts[3:], pa.string())])
    assert json_strings(chunked).to_pylist() == [json.dumps(t) for t in texts]
