# ruff: noqa: RUF001 - the sentences are checked as readers see them, with en dashes
from __future__ import annotations

import itertools
import math
import random
import statistics
import time
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goodword.engine import stats
from goodword.engine.stats import (
    Counted,
    Interval,
    headline,
    median_difference,
    median_difference_counts,
    median_interval,
    median_interval_counts,
    rate_ratio,
    wilson,
)

Z = 1.959963984540054


# Wilson score interval


def test_wilson_for_8_of_10_matches_the_formula_worked_by_hand() -> None:
    n, p = 10, 0.8
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z / (1 + Z**2 / n) * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))

    interval = wilson(8, 10)

    assert interval.values() == pytest.approx((0.8, centre - half, centre + half), rel=1e-12)
    assert interval.values() == pytest.approx((0.8, 0.4902, 0.9433), abs=5e-5)


def test_wilson_for_none_of_10_runs_from_exactly_0_to_z2_over_n_plus_z2() -> None:
    # With no successes the centre and half-width are equal: high = z² / (n + z²).
    interval = wilson(0, 10)

    assert interval.estimate == 0.0
    assert interval.low == 0.0
    assert interval.high == pytest.approx(Z**2 / (10 + Z**2), rel=1e-12)


def test_wilson_for_10_of_10_runs_from_n_over_n_plus_z2_to_exactly_1() -> None:
    interval = wilson(10, 10)

    assert interval.estimate == 1.0
    assert interval.low == pytest.approx(10 / (10 + Z**2), rel=1e-12)
    assert interval.high == 1.0


def test_wilson_matches_the_textbook_value_for_81_of_263() -> None:
    # The worked example in Wikipedia's "Binomial proportion confidence interval".
    interval = wilson(81, 263)

    assert round(interval.low or 0, 4) == 0.2553
    assert round(interval.high or 0, 4) == 0.3662


def test_wilson_without_trials_is_unknown_not_a_division_by_zero() -> None:
    interval = wilson(0, 0)

    assert interval == Interval(None, None, None)
    assert not interval.known
    assert not interval.excludes(0.5)


@pytest.mark.parametrize(("successes", "trials"), [(-1, 10), (11, 10), (0, -1)])
def test_impossible_counts_are_refused(successes: int, trials: int) -> None:
    with pytest.raises(ValueError, match="not a possible count"):
        wilson(successes, trials)
    with pytest.raises(ValueError, match="not a possible count"):
        rate_ratio(successes, trials, 1, 10)


@st.composite
def counts(draw: st.DrawFn, low: int = 0) -> tuple[int, int]:
    trials = draw(st.integers(min_value=max(1, low), max_value=100_000))
    return draw(st.integers(min_value=low, max_value=trials)), trials


@given(counts())
def test_a_wilson_interval_contains_its_estimate_within_0_and_1(count: tuple[int, int]) -> None:
    interval = wilson(*count)

    assert interval.values() is not None
    estimate, low, high = interval.values() or (0, 0, 0)
    assert 0.0 <= low <= estimate <= high <= 1.0


@given(counts(), st.integers(min_value=2, max_value=50))
def test_more_trials_at_the_same_rate_give_a_narrower_interval(
    count: tuple[int, int], factor: int
) -> None:
    successes, trials = count
    small = wilson(successes, trials)
    large = wilson(successes * factor, trials * factor)

    assert (large.high or 0) - (large.low or 0) < (small.high or 0) - (small.low or 0)


# Ratio of win rates (Katz)


def test_the_rate_ratio_matches_katz_worked_by_hand() -> None:
    ratio = (50 / 140) / (400 / 2310)
    se = math.sqrt(1 / 50 - 1 / 140 + 1 / 400 - 1 / 2310)

    interval = rate_ratio(50, 140, 400, 2310)

    expected = (ratio, ratio * math.exp(-Z * se), ratio * math.exp(Z * se))
    assert interval.values() == pytest.approx(expected, rel=1e-12)
    assert interval.values() == pytest.approx((2.0625, 1.6233, 2.6205), abs=5e-5)


@pytest.mark.parametrize(
    ("won_a", "n_a", "won_b", "n_b", "expected"),
    [
        (0, 50, 10, 50, Interval(0.0, None, None)),
        (10, 50, 0, 50, Interval(None, None, None)),
        (0, 0, 10, 50, Interval(None, None, None)),
        (10, 50, 0, 0, Interval(None, None, None)),
        (0, 50, 0, 50, Interval(None, None, None)),
    ],
)
def test_a_rate_ratio_with_no_wins_or_no_deals_cannot_tell(
    won_a: int, n_a: int, won_b: int, n_b: int, expected: Interval
) -> None:
    assert rate_ratio(won_a, n_a, won_b, n_b) == expected


@given(counts(low=1), counts(low=1))
def test_the_ratio_of_b_to_a_is_the_reciprocal_with_bounds_swapped(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    forward = rate_ratio(*a, *b).values()
    backward = rate_ratio(*b, *a).values()

    assert forward is not None
    assert backward is not None
    assert forward == pytest.approx((1 / backward[0], 1 / backward[2], 1 / backward[1]))


@given(counts(low=1), counts(low=1))
def test_a_rate_ratio_interval_contains_its_estimate(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    estimate, low, high = rate_ratio(*a, *b).values() or (0, 1, -1)

    assert 0 < low <= estimate <= high


# Bootstrap medians


def test_the_bootstrap_median_of_a_constant_is_that_constant() -> None:
    assert median_interval([7.0] * 30) == Interval(7.0, 7.0, 7.0)
    assert median_difference([10.0] * 5, [3.0] * 8) == Interval(7.0, 7.0, 7.0)


def test_fewer_than_two_values_give_a_median_without_an_interval() -> None:
    assert median_interval([]) == Interval(None, None, None)
    assert median_interval([4.0]) == Interval(4.0, None, None)
    assert median_difference([4.0], [1.0, 2.0, 3.0]) == Interval(2.0, None, None)
    assert median_difference([], [1.0, 2.0]) == Interval(None, None, None)


def test_missing_numbers_and_too_few_resamples_are_refused() -> None:
    with pytest.raises(ValueError, match="missing or infinite"):
        median_interval([1.0, math.nan, 3.0])
    with pytest.raises(ValueError, match="too few"):
        median_interval([1.0, 2.0], resamples=1)


@pytest.mark.parametrize("n", [4, 5])
def test_each_resampled_median_follows_the_exact_bootstrap_distribution(n: int) -> None:
    # Given every possible resample of n values, each equally likely (n**n of them)
    data = [float(value) for value in (2, 3, 5, 11, 13)[:n]]
    exact = Counter(statistics.median(draw) for draw in itertools.product(data, repeat=n))

    # When the constant-time shortcut draws 40,000 resample medians
    rng = random.Random(3)
    drawn = Counter(stats._resampled_median(rng, data) for _ in range(40_000))

    # Then each median turns up as often as it should (0.01 is about 4 standard errors)
    assert set(drawn) <= set(exact)
    for median, ways in exact.items():
        assert drawn[median] / 40_000 == pytest.approx(ways / n**n, abs=0.01)


@pytest.mark.parametrize("n", [40, 41])
def test_the_interval_agrees_with_resampling_by_choices_and_median(n: int) -> None:
    data = [float(x * x % 37) for x in range(n)]
    rng = random.Random(5)
    medians = [statistics.median(rng.choices(data, k=n)) for _ in range(20_000)]
    cuts = statistics.quantiles(medians, n=40, method="inclusive")

    interval = median_interval(data, seed=1, resamples=20_000)

    assert interval.estimate == statistics.median(data)
    assert interval.low == pytest.approx(cuts[0], abs=1.0)
    assert interval.high == pytest.approx(cuts[-1], abs=1.0)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=50)
@given(st.lists(finite, min_size=2, max_size=60), st.integers(0, 2**32), st.randoms())
def test_the_bootstrap_is_fixed_by_its_seed_whatever_the_order_of_values(
    values: list[float], seed: int, shuffler: random.Random
) -> None:
    shuffled = list(values)
    shuffler.shuffle(shuffled)

    first = median_interval(values, seed=seed, resamples=200)

    assert median_interval(values, seed=seed, resamples=200) == first
    assert median_interval(shuffled, seed=seed, resamples=200) == first


@settings(max_examples=50)
@given(
    st.lists(finite, min_size=2, max_size=40),
    st.lists(finite, min_size=2, max_size=40),
    st.randoms(),
)
def test_the_difference_is_invariant_to_the_order_within_each_group(
    a: list[float], b: list[float], shuffler: random.Random
) -> None:
    a_shuffled, b_shuffled = list(a), list(b)
    shuffler.shuffle(a_shuffled)
    shuffler.shuffle(b_shuffled)

    assert median_difference(a, b, seed=9, resamples=200) == median_difference(
        a_shuffled, b_shuffled, seed=9, resamples=200
    )


def test_different_seeds_give_different_draws() -> None:
    values = [float(x) for x in range(100)]

    assert median_interval(values, seed=1) != median_interval(values, seed=2)


def test_2000_resamples_of_5000_values_take_well_under_a_second() -> None:
    rng = random.Random(0)
    a = [rng.gammavariate(2, 20) for _ in range(5000)]
    b = [rng.gammavariate(2, 25) for _ in range(5000)]

    started = time.perf_counter()
    median_interval(a, resamples=2000)
    median_difference(a, b, resamples=2000)
    elapsed = time.perf_counter() - started

    assert elapsed < 0.5


# The headline


def test_a_clear_win_and_faster_close_read_as_the_example_sentence() -> None:
    sentence = headline(
        win_ratio=Interval(2.1, 1.6, 2.7),
        cycle_difference=Interval(-18.0, -27.0, -9.0),
        referred_closed=140,
        other_closed=2310,
    )

    assert sentence == (
        "Referred deals won 2.1× as often (95 % CI 1.6–2.7) and closed 18 days faster "
        "(95 % CI 9–27) than other deals, from 140 referred and 2,310 other closed deals."
    )


def test_a_win_ratio_interval_including_1_says_no_clear_difference() -> None:
    sentence = headline(
        win_ratio=Interval(1.08, 0.81, 1.44),
        cycle_difference=Interval(-18.4, -26.6, -9.2),
        referred_closed=140,
        other_closed=2310,
    )

    assert sentence == (
        "Referred deals closed 18 days faster (95 % CI 9–27) than other deals, with no clear "
        "difference in win rate yet (95 % CI 0.8–1.4), from 140 referred and 2,310 other "
        "closed deals."
    )


def test_a_slower_close_says_slower() -> None:
    sentence = headline(
        win_ratio=Interval(2.1, 1.6, 2.7),
        cycle_difference=Interval(12.5, 3.2, 20.0),
        referred_closed=140,
        other_closed=2310,
    )

    assert sentence == (
        "Referred deals won 2.1× as often (95 % CI 1.6–2.7) and closed 13 days slower "
        "(95 % CI 3–20) than other deals, from 140 referred and 2,310 other closed deals."
    )


def test_a_cycle_interval_including_0_says_no_clear_difference_in_words() -> None:
    sentence = headline(
        win_ratio=Interval(0.6, 0.41, 0.88),
        cycle_difference=Interval(1.0, -5.2, 8.0),
        referred_closed=60,
        other_closed=1200,
    )

    assert sentence == (
        "Referred deals won 0.6× as often (95 % CI 0.4–0.9) as other deals, with no clear "
        "difference in time to close yet (95 % CI 5 days faster to 8 days slower), from 60 "
        "referred and 1,200 other closed deals."
    )


def test_when_neither_measure_is_clear_the_sentence_says_so_for_both() -> None:
    sentence = headline(
        win_ratio=Interval(1.1, 0.8, 1.4),
        cycle_difference=Interval(-0.5, -1.4, 0.3),
        referred_closed=25,
        other_closed=25,
    )

    assert sentence == (
        "Referred deals show no clear difference from other deals yet in win rate "
        "(95 % CI 0.8–1.4) or time to close (95 % CI 1 day faster to no difference), "
        "from 25 referred and 25 other closed deals."
    )


def test_measures_without_an_interval_say_they_cannot_be_estimated() -> None:
    sentence = headline(
        win_ratio=rate_ratio(0, 30, 40, 300),
        cycle_difference=median_difference([], [10.0, 20.0]),
        referred_closed=30,
        other_closed=300,
    )

    assert sentence == (
        "Referred deals show no clear difference from other deals yet in win rate "
        "(too few wins to estimate) or time to close (too few close dates to estimate), "
        "from 30 referred and 300 other closed deals."
    )


def test_a_clear_ratio_near_1_keeps_a_second_decimal() -> None:
    sentence = headline(
        win_ratio=Interval(1.04, 1.01, 1.08),
        cycle_difference=Interval(-0.4, -0.8, -0.1),
        referred_closed=5000,
        other_closed=50_000,
    )

    assert sentence == (
        "Referred deals won 1.04× as often (95 % CI 1.01–1.08) and closed less than a day "
        "faster (95 % CI 0–1) than other deals, from 5,000 referred and 50,000 other closed "
        "deals."
    )


def test_too_little_data_says_how_many_more_closed_deals_are_needed() -> None:
    sentence = headline(
        win_ratio=Interval(3.0, 1.5, 6.0),
        cycle_difference=Interval(-30.0, -50.0, -10.0),
        referred_closed=12,
        other_closed=2310,
    )

    assert sentence == (
        "The data cannot tell yet: there are 12 referred and 2,310 other closed deals, and "
        "8 more referred closed deals are needed (at least 20 in each group)."
    )


def test_too_little_data_in_both_groups_counts_both_against_the_minimum() -> None:
    sentence = headline(
        win_ratio=Interval(None, None, None),
        cycle_difference=Interval(None, None, None),
        referred_closed=0,
        other_closed=1049,
        minimum_closed=1050,
    )

    assert sentence == (
        "The data cannot tell yet: there are 0 referred and 1,049 other closed deals, and "
        "1,050 more referred and 1 more other closed deals are needed "
        "(at least 1,050 in each group)."
    )


def test_one_deal_short_is_singular() -> None:
    sentence = headline(
        win_ratio=Interval(None, None, None),
        cycle_difference=Interval(None, None, None),
        referred_closed=19,
        other_closed=20,
    )

    assert sentence.endswith(
        "and 1 more referred closed deal is needed (at least 20 in each group)."
    )


@given(
    st.dictionaries(st.integers(-50, 400), st.integers(1, 6), min_size=1, max_size=25),
    st.dictionaries(st.integers(-50, 400), st.integers(1, 6), min_size=1, max_size=25),
    st.integers(0, 3),
)
def test_counts_give_what_the_values_they_stand_for_give(
    a: dict[int, int], b: dict[int, int], seed: int
) -> None:
    # given two tables of counts, and the lists of values they stand for
    values_a = [float(v) for v, n in a.items() for _ in range(n)]
    values_b = [float(v) for v, n in b.items() for _ in range(n)]
    counted = Counted(a)

    # then the counted sequence is the sorted list, and the intervals are the same
    assert list(counted) == sorted(values_a)
    assert counted.median() == statistics.median(values_a)
    assert median_interval_counts(a, seed=seed, resamples=50) == median_interval(
        values_a, seed=seed, resamples=50
    )
    assert median_difference_counts(a, b, seed=seed, resamples=50) == median_difference(
        values_a, values_b, seed=seed, resamples=50
    )
