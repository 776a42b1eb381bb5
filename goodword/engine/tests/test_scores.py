from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goodword.engine.scores import Measure, csat_normalise, nps_category, nps_score, parse_measure


@pytest.mark.parametrize(
    ("score", "category"),
    [
        (0, "detractor"),
        (6, "detractor"),
        (7, "passive"),
        (8, "passive"),
        (9, "promoter"),
        (10, "promoter"),
    ],
)
def test_nps_categories_follow_the_net_promoter_bands(score: int, category: str) -> None:
    assert nps_category(score) == category


@pytest.mark.parametrize("raw", ["11", "-1", "7.5", "seven", ""])
def test_an_nps_answer_outside_0_to_10_is_refused_in_words(raw: str) -> None:
    with pytest.raises(ValueError, match="0 to 10"):
        nps_score(raw)


def test_an_nps_answer_may_be_written_as_a_decimal() -> None:
    assert nps_score(" 9.0 ") == 9


@pytest.mark.parametrize(
    ("raw", "scale", "value"),
    [
        ("1", "1-5", 0.0),
        ("5", "1-5", 1.0),
        ("4", "1-5", 0.75),
        ("1", "1-10", 0.0),
        ("10", "1-10", 1.0),
        ("7", "1-10", 6 / 9),
        ("Good", "good-bad", 1.0),
        ("bad", "good-bad", 0.0),
        ("satisfied", "good-bad", 1.0),
        ("4.5", "1-5", 0.875),
    ],
)
def test_csat_is_normalised_linearly_from_the_scales_lowest_point(
    raw: str, scale: str, value: float
) -> None:
    assert csat_normalise(raw, scale) == pytest.approx(value)


@pytest.mark.parametrize(
    ("raw", "scale", "words"),
    [
        ("0", "1-5", "outside the 1-5 scale"),
        ("6", "1-5", "outside"),
        ("11", "1-10", "outside"),
        ("great", "1-5", "not a number"),
        ("meh", "good-bad", "not good or bad"),
        ("3", "1-7", "is not one of"),
    ],
)
def test_a_rating_off_its_scale_is_refused(raw: str, scale: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        csat_normalise(raw, scale)


@given(st.integers(min_value=1, max_value=10))
def test_every_rating_on_1_to_10_lands_within_0_and_1(rating: int) -> None:
    assert 0.0 <= csat_normalise(str(rating), "1-10") <= 1.0


def test_measures_parse_to_count_or_the_sum_of_a_property() -> None:
    assert parse_measure("count") == Measure("count")
    assert parse_measure("sum:minutes_saved") == Measure("sum", "minutes_saved")
    assert str(parse_measure("sum:minutes_saved")) == "sum:minutes_saved"


@pytest.mark.parametrize("raw", ["sum:", "sum", "avg:x", "sum:two words", "COUNT"])
def test_other_measures_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="count or sum:<property>"):
        parse_measure(raw)
