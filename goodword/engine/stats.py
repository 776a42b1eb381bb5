"""Statistics for the reports: win rates, their ratio, medians and the sentence a reader sees.

Values in, values out; only the standard library (`math`, `statistics`, `random`). An interval
that the data cannot support has None bounds instead of a misleading number, and `headline`
turns it into words ("cannot tell yet"). Raises ValueError for counts that cannot be true.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import overload

Z95 = 1.959963984540054  # statistics.NormalDist().inv_cdf(0.975): two-sided 95 %
TIMES = "\N{MULTIPLICATION SIGN}"
DASH = "\N{EN DASH}"  # between the bounds of a range, as typeset in print
MINIMUM_CLOSED = 20


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence bounds; None where the data cannot give one."""

    estimate: float | None
    low: float | None
    high: float | None

    @property
    def known(self) -> bool:
        return self.values() is not None

    def values(self) -> tuple[float, float, float] | None:
        """(estimate, low, high) when all three are known."""
        if self.estimate is None or self.low is None or self.high is None:
            return None
        return self.estimate, self.low, self.high

    def excludes(self, value: float) -> bool:
        """True when the whole interval lies on one side of value: a clear difference."""
        if self.low is None or self.high is None:
            return False
        return self.low > value or self.high < value


UNKNOWN = Interval(None, None, None)


def wilson(successes: int, trials: int, z: float = Z95) -> Interval:
    """The Wilson score interval for successes out of trials; unknown when there are no trials.

    Wilson rather than the textbook p ± z·se because it stays inside [0, 1] and keeps its
    coverage for small samples and rates near 0 or 1 (Brown, Cai & DasGupta 2001).
    """
    _require_counts(successes, trials)
    if trials == 0:
        return UNKNOWN
    p = successes / trials
    z2n = z * z / trials
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p * (1 - p) / trials + z2n / (4 * trials))
    # At 0 and at 1 the formula gives the bound only up to rounding; the exact value is known.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Interval(p, low, high)


def rate_ratio(won_a: int, n_a: int, won_b: int, n_b: int, *, z: float = Z95) -> Interval:
    """How many times as often group a wins as group b, with Katz's log interval.

    The log interval needs a win in each group: with none, the estimate is 0 (a has none) or
    has no value (b has none) and there are no bounds, so a report says it cannot tell.
    """
    _require_counts(won_a, n_a)
    _require_counts(won_b, n_b)
    if n_a == 0 or n_b == 0 or won_b == 0:
        return UNKNOWN
    ratio = (won_a / n_a) / (won_b / n_b)
    if won_a == 0:
        return Interval(ratio, None, None)
    se = math.sqrt(1 / won_a - 1 / n_a + 1 / won_b - 1 / n_b)
    log_ratio = math.log(ratio)
    return Interval(ratio, math.exp(log_ratio - z * se), math.exp(log_ratio + z * se))


def median_interval(values: Sequence[float], *, seed: int = 0, resamples: int = 2000) -> Interval:
    """The median with a 95 % percentile-bootstrap interval; no bounds below two values.

    The same seed and values give the same interval in any order (the values are sorted first).
    """
    data = _sorted_finite(values, resamples)
    if not data:
        return UNKNOWN
    median = statistics.median(data)
    if len(data) < 2:
        return Interval(median, None, None)
    rng = random.Random(seed)
    return _percentile_interval(median, [_resampled_median(rng, data) for _ in range(resamples)])


def median_difference(
    a: Sequence[float], b: Sequence[float], *, seed: int = 0, resamples: int = 2000
) -> Interval:
    """median(a) - median(b) with a 95 % percentile-bootstrap interval, each group resampled
    on its own; no bounds unless both groups have two values or more."""
    data_a = _sorted_finite(a, resamples)
    data_b = _sorted_finite(b, resamples)
    if not data_a or not data_b:
        return UNKNOWN
    difference = statistics.median(data_a) - statistics.median(data_b)
    if len(data_a) < 2 or len(data_b) < 2:
        return Interval(difference, None, None)
    rng = random.Random(seed)
    draws = [
        _resampled_median(rng, data_a) - _resampled_median(rng, data_b) for _ in range(resamples)
    ]
    return _percentile_interval(difference, draws)


Counts = Mapping[int, int] | Mapping[float, int]  # value → how many times


class Counted(Sequence[float]):
    """Values given as counts (value → how many times), read as the sorted list they stand
    for without writing it out: a report's days-to-close come as one row per distinct day
    from the database, however many deals there are."""

    def __init__(self, counts: Counts) -> None:
        pairs = sorted((float(v), n) for v, n in counts.items() if n)
        if any(n < 0 for _, n in pairs) or not all(math.isfinite(v) for v, _ in pairs):
            raise ValueError("counts must be positive and values finite")
        self._values = [v for v, _ in pairs]
        self._ends = list(itertools.accumulate(n for _, n in pairs))

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    @overload
    def __getitem__(self, index: int) -> float: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[float]: ...
    def __getitem__(self, index: int | slice) -> float | Sequence[float]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._values[bisect.bisect_right(self._ends, index)]

    def median(self) -> float | None:
        n = len(self)
        if not n:
            return None
        return (self[(n - 1) // 2] + self[n // 2]) / 2


def median_interval_counts(counts: Counts, *, seed: int = 0, resamples: int = 2000) -> Interval:
    """median_interval of the values `counts` stands for (value → times)."""
    data = Counted(counts)
    median = data.median()
    if median is None:
        return UNKNOWN
    if len(data) < 2:
        return Interval(median, None, None)
    rng = random.Random(seed)
    return _percentile_interval(median, [_resampled_median(rng, data) for _ in range(resamples)])


def median_difference_counts(
    a: Counts, b: Counts, *, seed: int = 0, resamples: int = 2000
) -> Interval:
    """median_difference of the values two count tables stand for."""
    data_a, data_b = Counted(a), Counted(b)
    median_a, median_b = data_a.median(), data_b.median()
    if median_a is None or median_b is None:
        return UNKNOWN
    if len(data_a) < 2 or len(data_b) < 2:
        return Interval(median_a - median_b, None, None)
    rng = random.Random(seed)
    draws = [
        _resampled_median(rng, data_a) - _resampled_median(rng, data_b) for _ in range(resamples)
    ]
    return _percentile_interval(median_a - median_b, draws)


def _resampled_median(rng: random.Random, data: Sequence[float]) -> float:
    """The median of one bootstrap resample of sorted data, drawn in constant time.

    Resampling n values means drawing n indices floor(n·U) from uniforms U; as data is sorted,
    the resample's middle value is data[floor(n·U₍ₘ₎)] where U₍ₘ₎, the m-th smallest of n
    uniforms, follows Beta(m, n - m + 1). Drawing U₍ₘ₎ directly gives exactly the distribution
    of choices() + median() without n draws and a sort per resample (2,000 resamples of 5,000
    values: about 10 ms instead of 2 s).
    """
    n = len(data)
    m = (n + 1) // 2
    u = rng.betavariate(m, n - m + 1)
    lower = data[min(n - 1, int(u * n))]
    if n % 2:
        return lower
    # The next order statistic is the smallest of the n - m uniforms above u, a Beta(1, n - m)
    # fraction of the way from u to 1.
    v = u + (1 - u) * (1 - rng.random() ** (1 / (n - m)))
    return (lower + data[min(n - 1, int(v * n))]) / 2


def _percentile_interval(estimate: float, draws: list[float]) -> Interval:
    # Forty cut points: the first is the 2.5th percentile and the last the 97.5th.
    cuts = statistics.quantiles(draws, n=40, method="inclusive")
    return Interval(estimate, cuts[0], cuts[-1])


def _sorted_finite(values: Sequence[float], resamples: int) -> list[float]:
    if resamples < 2:
        raise ValueError(f"{resamples} resamples are too few for an interval (use 2 or more)")
    data = sorted(float(value) for value in values)
    if not all(math.isfinite(value) for value in data):
        raise ValueError("the values include a missing or infinite number")
    return data


def _require_counts(successes: int, trials: int) -> None:
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"{successes} out of {trials} is not a possible count")


def headline(
    *,
    win_ratio: Interval,
    cycle_difference: Interval,
    referred_closed: int,
    other_closed: int,
    minimum_closed: int = MINIMUM_CLOSED,
) -> str:
    """One sentence comparing referred deals with the rest.

    win_ratio: referred win rate / other win rate (rate_ratio).
    cycle_difference: referred minus other median days to close (median_difference), so a
        negative difference means referred deals close faster.
    Below minimum_closed closed deals in either group the sentence says the data cannot tell
    yet and how many more are needed, whatever the intervals say.
    """
    if referred_closed < 0 or other_closed < 0:
        raise ValueError("closed deal counts cannot be negative")
    if referred_closed < minimum_closed or other_closed < minimum_closed:
        return _too_few(referred_closed, other_closed, minimum_closed)
    clear: list[tuple[str, str]] = []  # (words, "as" or "than" before "other deals")
    unclear: list[tuple[str, str]] = []  # (measure, what its interval says)
    ratio = win_ratio.values()
    if ratio and win_ratio.excludes(1.0):
        clear.append((_won_as_often(*ratio), "as"))
    else:
        unclear.append(("win rate", _ratio_bounds(win_ratio)))
    difference = cycle_difference.values()
    if difference and cycle_difference.excludes(0.0):
        clear.append((_closed_sooner(*difference), "than"))
    else:
        unclear.append(("time to close", _difference_bounds(cycle_difference)))
    sizes = f"from {referred_closed:,} referred and {other_closed:,} other closed deals"
    return f"{_findings(clear, unclear)}, {sizes}."


def _findings(clear: list[tuple[str, str]], unclear: list[tuple[str, str]]) -> str:
    if not clear:
        measures = " or ".join(f"{measure} ({bounds})" for measure, bounds in unclear)
        return f"Referred deals show no clear difference from other deals yet in {measures}"
    words = " and ".join(text for text, _ in clear)
    sentence = f"Referred deals {words} {clear[-1][1]} other deals"
    for measure, bounds in unclear:
        sentence += f", with no clear difference in {measure} yet ({bounds})"
    return sentence


def _won_as_often(estimate: float, low: float, high: float) -> str:
    # A clear difference must not read as 1.0 times: show a second decimal then.
    places = 2 if any(f"{value:.1f}" == "1.0" for value in (estimate, low, high)) else 1
    return (
        f"won {estimate:.{places}f}{TIMES} as often "
        f"(95 % CI {low:.{places}f}{DASH}{high:.{places}f})"
    )


def _ratio_bounds(ratio: Interval) -> str:
    if ratio.low is None or ratio.high is None:
        return "too few wins to estimate"
    return f"95 % CI {ratio.low:.1f}{DASH}{ratio.high:.1f}"


def _closed_sooner(estimate: float, low: float, high: float) -> str:
    if estimate < 0:
        # Faster: the days saved run from -high to -low.
        estimate, low, high, direction = -estimate, -high, -low, "faster"
    else:
        direction = "slower"
    amount = "less than a day" if _days(estimate) == 0 else _day_count(estimate)
    return f"closed {amount} {direction} (95 % CI {_days(low):,}{DASH}{_days(high):,})"


def _difference_bounds(difference: Interval) -> str:
    if difference.low is None or difference.high is None:
        return "too few close dates to estimate"
    return f"95 % CI {_signed_days(difference.low)} to {_signed_days(difference.high)}"


def _signed_days(days: float) -> str:
    if _days(days) == 0:
        return "no difference"
    return f"{_day_count(abs(days))} {'faster' if days < 0 else 'slower'}"


def _too_few(referred: int, other: int, minimum: int) -> str:
    missing = []
    if referred < minimum:
        missing.append(f"{minimum - referred:,} more referred")
    if other < minimum:
        missing.append(f"{minimum - other:,} more other")
    needed = max(0, minimum - referred) + max(0, minimum - other)
    verb = "deal is" if needed == 1 else "deals are"
    return (
        f"The data cannot tell yet: there are {referred:,} referred and {other:,} other closed "
        f"deals, and {' and '.join(missing)} closed {verb} needed "
        f"(at least {minimum:,} in each group)."
    )


def _day_count(days: float) -> str:
    whole = _days(days)
    return f"{whole:,} day" if whole == 1 else f"{whole:,} days"


def _days(days: float) -> int:
    # Half up, not Python's half-to-even: 2.5 days reads as 3 days to people.
    return math.floor(abs(days) + 0.5) * (1 if days >= 0 else -1)
