"""Whom to ask for, without a database: the lookalike ranking over the prospects' index, its
exclusions and ties, and the merging of the three sources into one list."""

from __future__ import annotations

import random

import pytest

from goodword.engine import peers
from goodword.engine.peers import Profile, ProspectRow, Suggestion

ADVOCATE = Profile(industry="Software", employees=250, country="US")
ROWS = [
    ProspectRow(1, "Globex Corp", "Software", 300, "US"),
    ProspectRow(2, "Initech", "  software ", 120, "US"),
    ProspectRow(3, "Hooli", "Retail", 300, "US"),
    ProspectRow(4, "Umbrella", "Software", None, "DE"),
    ProspectRow(5, "Vandelay Industries", "Retail", 5000, "US"),
    ProspectRow(6, "Stark Industries", "Software", 450, "US"),
]


def ranked(found: list[Suggestion]) -> list[tuple[int, float]]:
    return [(s.account_id, s.score) for s in found]


@pytest.mark.parametrize(
    ("employees", "band", "label"),
    [
        (0, 0, "1\u201310 staff"),
        (10, 0, "1\u201310 staff"),
        (11, 1, "11\u201350 staff"),
        (250, 3, "201\u2013500 staff"),
        (1000, 4, "501\u20131,000 staff"),
        (10_001, 7, "10,001+ staff"),
    ],
)
def test_size_bands(employees: int, band: int, label: str) -> None:
    assert peers.size_band(employees) == band
    assert peers.band_label(band) == label


def test_an_unknown_head_count_has_no_band() -> None:
    assert peers.size_band(None) == -1


def test_lookalikes_rank_by_industry_size_and_country() -> None:
    # given six prospects, one of them alike in country alone
    index = peers.build_index(ROWS)

    # when the prospects like a US software company of 250 are ranked
    found = peers.rank(index, ADVOCATE, limit=10)

    # then industry, size band and country count; a shared country alone is not enough,
    # and equal scores go to the lower id
    assert ranked(found) == [(1, 0.85), (6, 0.85), (2, 0.7), (3, 0.45), (4, 0.4)]
    assert [s.kind for s in found] == ["lookalike"] * 5
    assert found[0] == Suggestion(
        1,
        "Globex Corp",
        "Globex Corp",
        "lookalike",
        0.85,
        ["same industry (Software), same size (201\u2013500 staff), same country (US)"],
    )
    assert found[2].reasons == [
        "same industry (Software), similar size (51\u2013200 staff; your advocate's company: "
        "201\u2013500 staff), same country (US)"
    ]
    assert found[4].reasons == ["same industry (Software)"]


def test_the_order_of_the_rows_does_not_matter() -> None:
    # given the same prospects in another order
    shuffled = ROWS[::-1]

    # when ranked
    found = peers.rank(peers.build_index(shuffled), ADVOCATE, limit=10)

    # then the ranking is the same
    assert ranked(found) == [(1, 0.85), (6, 0.85), (2, 0.7), (3, 0.45), (4, 0.4)]


def test_excluded_prospects_are_left_out() -> None:
    index = peers.build_index(ROWS)

    # when the best one and an id not in the index are excluded
    found = peers.rank(index, ADVOCATE, exclude_ids={1, 99}, limit=10)

    # then the rest keep their order
    assert ranked(found) == [(6, 0.85), (2, 0.7), (3, 0.45), (4, 0.4)]


def test_a_tie_at_the_limit_goes_to_the_lower_id() -> None:
    index = peers.build_index(ROWS)
    assert ranked(peers.rank(index, ADVOCATE, limit=1)) == [(1, 0.85)]
    assert ranked(peers.rank(index, ADVOCATE, limit=2)) == [(1, 0.85), (6, 0.85)]


def test_an_empty_index_or_no_limit_ranks_nothing() -> None:
    assert peers.rank(peers.build_index([]), ADVOCATE, limit=10) == []
    assert peers.rank(peers.build_index(ROWS), ADVOCATE, limit=0) == []


def test_an_advocate_without_a_profile_has_no_lookalikes() -> None:
    assert peers.rank(peers.build_index(ROWS), Profile(), limit=10) == []


def test_an_industry_missing_from_the_index_adds_nothing() -> None:
    found = peers.rank(peers.build_index(ROWS), Profile("Mining", 250, "US"), limit=10)
    assert ranked(found) == [(1, 0.45), (3, 0.45), (6, 0.45), (2, 0.3)]


def test_usage_counts_when_the_advocate_succeeded_through_usage() -> None:
    # given prospects of one profile, two of them using the product
    rows = [
        ProspectRow(1, "Globex Corp", "Software", 300, "US", events=0),
        ProspectRow(2, "Initech", "Software", 300, "US", events=1000),
        ProspectRow(3, "Hooli", "Software", 300, "US", events=9),
    ]
    index = peers.build_index(rows, usage_window="in the last 8 weeks")
    profile = Profile("Software", 250, "US", ("report created milestones",))

    # when ranked for an advocate whose milestones came from reports
    found = peers.rank(index, profile, limit=10)

    # then usage adds up to 0.15, on a log scale, and each reason says what was compared
    assert ranked(found) == [(2, 1.0), (3, 0.899), (1, 0.85)]
    assert found[0].reasons[1] == (
        "already using the product: 1,000 events in the last 8 weeks "
        "(your advocate's success came from report created milestones)"
    )
    assert found[2].reasons[1] == (
        "no product usage in the last 8 weeks "
        "(your advocate's success came from report created milestones)"
    )


def test_without_any_prospect_usage_usage_weighs_nothing_and_says_so() -> None:
    index = peers.build_index(ROWS[:1], usage_window="in the last 8 weeks")
    profile = Profile("Software", 250, "US", ("report created milestones",))

    found = peers.rank(index, profile, limit=10)

    assert ranked(found) == [(1, 0.85)]
    assert found[0].reasons[1] == (
        "product usage not compared: no prospect has used the product in the last 8 weeks "
        "(your advocate's success came from report created milestones)"
    )


def test_usage_is_ignored_when_the_advocate_did_not_succeed_through_usage() -> None:
    rows = [ProspectRow(1, "Globex Corp", "Software", 300, "US", events=1000)]
    found = peers.rank(peers.build_index(rows), ADVOCATE, limit=10)
    assert ranked(found) == [(1, 0.85)]
    assert len(found[0].reasons) == 1


def test_one_prospects_likeness() -> None:
    index = peers.build_index(ROWS)
    alike = peers.lookalike(index, ADVOCATE, 2)
    assert alike is not None
    assert (alike.account_id, alike.score, alike.kind) == (2, 0.7, "lookalike")
    assert peers.lookalike(index, ADVOCATE, 5) is None  # alike in country only
    assert peers.lookalike(index, ADVOCATE, 99) is None  # not a prospect


def test_the_ranking_equals_a_plain_sort_of_every_prospect() -> None:
    # given 3,000 random prospects with many equal scores
    rng = random.Random(5)
    rows = [
        ProspectRow(
            rng.randrange(1, 10**9) * 2,
            f"P{i}",
            rng.choice(["Software", "Retail", "Energy", ""]),
            rng.choice([None, 5, 40, 150, 300, 700, 20_000]),
            rng.choice(["US", "GB", "DE", ""]),
            rng.choice([0, 0, 3, 50, 2000]),
        )
        for i in range(3000)
    ]
    profile = Profile("Software", 180, "GB", ("surges",))
    index = peers.build_index(rows)

    # when ranked
    found = peers.rank(index, profile, exclude_ids={rows[0].id, rows[1].id}, limit=25)

    # then it is the first 25 of every prospect scored one by one and sorted
    expected = sorted(
        ((points(r, profile), r.id) for r in rows[2:] if points(r, profile) >= peers.MIN_POINTS),
        key=lambda pair: (-pair[0], pair[1]),
    )[:25]
    assert ranked(found) == [(pk, p / 1000) for p, pk in expected]


def points(row: ProspectRow, profile: Profile) -> int:
    """The scoring rule written out for one prospect."""
    total = 0
    if row.industry.strip().lower() == (profile.industry or "?").lower():
        total += 400
    band, ours = peers.size_band(row.employees), peers.size_band(profile.employees)
    if band >= 0 and ours >= 0:
        total += {0: 250, 1: 100}.get(abs(band - ours), 0)
    if row.country == profile.country:
        total += 200
    usage = peers.usage_points([row.events])[0]
    return total + int(usage) * 150 // 1000


# --- merging -----------------------------------------------------------------------------


def test_a_prospect_from_several_sources_is_one_suggestion_with_the_scores_added() -> None:
    # given Globex from a relationship, a mention and the lookalikes, Initech from a mention
    items = [
        Suggestion(7, "Initech", "Initech", "mention", 2.4, ["named in an email"]),
        Suggestion(5, "Globex", "Globex", "lookalike", 0.85, ["same industry (Software)"]),
        Suggestion(5, "Globex", "Globex", "mention", 2.25, ["named in a support ticket"]),
        Suggestion(5, "Grace Hopper", "Globex", "relationship", 2.5, ["Grace worked at Acme"], 31),
    ]

    # when merged
    found = peers.merge(items)

    # then Globex comes first with every reason, strongest source first, named by its person
    assert found == [
        Suggestion(
            5,
            "Grace Hopper",
            "Globex",
            "relationship",
            5.6,
            ["Grace worked at Acme", "named in a support ticket", "same industry (Software)"],
            31,
        ),
        Suggestion(7, "Initech", "Initech", "mention", 2.4, ["named in an email"]),
    ]


def test_within_one_source_the_best_score_counts_and_reasons_are_kept_once() -> None:
    items = [
        Suggestion(5, "Globex", "Globex", "relationship", 3.0, ["Ada worked at Globex"]),
        Suggestion(5, "Grace Hopper", "Globex", "relationship", 2.5, ["Grace worked at Acme"], 31),
        Suggestion(5, "Alan Turing", "Globex", "relationship", 2.5, ["Alan worked at Acme"], 32),
        Suggestion(5, "Globex", "Globex", "relationship", 3.0, ["Ada worked at Globex"]),
    ]

    [found] = peers.merge(items)

    assert (found.name, found.contact_id, found.score, found.kind) == (
        "Grace Hopper",
        31,
        3.0,
        "relationship",
    )
    assert found.reasons == ["Ada worked at Globex", "Grace worked at Acme", "Alan worked at Acme"]


def test_equal_scores_go_to_the_stronger_kind_then_the_name_then_the_id() -> None:
    items = [
        Suggestion(4, "Zeta", "Zeta", "lookalike", 1.0),
        Suggestion(3, "beta", "beta", "mention", 2.0),
        Suggestion(2, "Alpha", "Alpha", "mention", 2.0),
        Suggestion(1, "Alpha", "Alpha", "mention", 2.0),
        Suggestion(9, "Omega", "Omega", "lookalike", 0.5),
        Suggestion(9, "Omega", "Omega", "lookalike", 0.5),
        Suggestion(8, "Kappa", "Kappa", "relationship", 2.0),
    ]

    found = peers.merge(items, limit=5)

    assert [(s.account_id, s.score) for s in found] == [
        (8, 2.0),
        (1, 2.0),
        (2, 2.0),
        (3, 2.0),
        (4, 1.0),
    ]


def test_merging_nothing_is_nothing() -> None:
    assert peers.merge([]) == []


def test_merging_leaves_its_inputs_alone() -> None:
    first = Suggestion(5, "Globex", "Globex", "mention", 2.0, ["named in an email"])
    second = Suggestion(5, "Globex", "Globex", "lookalike", 0.5, ["same country (US)"])
    peers.merge([first, second])
    assert first.reasons == ["named in an email"]
    assert first.score == 2.0


@pytest.mark.parametrize(
    ("age_days", "score"), [(-1, 2.5), (0, 2.5), (182.5, 2.25), (365, 2.0), (900, 2.0)]
)
def test_a_newer_mention_scores_higher(age_days: float, score: float) -> None:
    assert peers.mention_score(age_days) == score


# --- past employers ----------------------------------------------------------------------


def test_past_employers_find_everyone_who_lists_a_domain() -> None:
    # given people listing past employers, with case, spaces, repeats and blanks
    index = peers.past_employers_index(
        [
            (7, ["Acme.io ", "globex.com"]),
            (3, ["acme.io", "acme.io", ""]),
            (5, ["globex.com"]),
            (9, []),
        ]
    )

    # when the people who worked at acme.io are looked up
    found = index.listing(" ACME.IO")

    # then each of them is there once, by id
    assert found == [3, 7]
    assert index.listing("globex.com") == [5, 7]
    assert len(index) == 4  # one row per (domain, person)


def test_a_domain_nobody_lists_or_a_blank_one_finds_nobody() -> None:
    index = peers.past_employers_index([(1, ["acme.io"])])
    assert index.listing("initech.com") == []
    assert index.listing("  ") == []
    assert peers.past_employers_index([]).listing("acme.io") == []


def test_values_that_are_not_lists_of_domains_are_read_as_well_as_they_can_be() -> None:
    # given a bare string, a missing value, and a list holding a number
    index = peers.past_employers_index([(1, "acme.io"), (2, None), (3, [42, "globex.com"])])

    # then the string is one domain and the number is skipped
    assert index.listing("acme.io") == [1]
    assert index.listing("42") == []
    assert index.listing("globex.com") == [3]


def test_past_employers_agree_with_a_plain_search_of_every_list() -> None:
    # given 5,000 people listing up to three of 300 domains
    rng = random.Random(3)
    domains = [f"company{i}.example" for i in range(300)]
    rows = [(pk, rng.sample(domains, rng.randrange(4))) for pk in rng.sample(range(10**6), 5000)]
    index = peers.past_employers_index(rows)

    # then every domain's lookup is exactly the people whose lists hold it
    for domain in domains:
        expected = sorted(pk for pk, listed in rows if domain in listed)
        assert index.listing(domain) == expected


# --- updating the index ------------------------------------------------------------------


def decoded(index: peers.ProspectIndex) -> list[tuple[object, ...]]:
    """Each prospect's values as the index holds them, labels spelled out."""

    def label(labels: tuple[str, ...], code: int) -> str:
        return labels[code] if code >= 0 else ""

    return [
        (
            int(index.ids[at]),
            index.names[at],
            label(index.industries, int(index.industry[at])),
            int(index.band[at]),
            label(index.countries, int(index.country[at])),
            int(index.usage[at]),
            int(index.events[at]),
        )
        for at in range(len(index))
    ]


def test_an_updated_index_equals_one_built_from_the_changed_rows() -> None:
    # given the index of six prospects, trying the product
    index = peers.build_index(ROWS, usage_window="in the last 8 weeks")

    # when Hooli changes, a prospect in a new industry and country arrives and two leave
    changed = [
        ProspectRow(3, "Hooli Health", "Healthcare", 40, "FR", events=50),
        ProspectRow(9, "Soylent", "Food", None, "BR", events=0),
        ProspectRow(0, "Aardvark", "software", 300, "us", events=7),
    ]
    updated = peers.index_update(index, changed, remove_ids=[5, 6, 42])

    # then it holds what an index built from the records now would hold
    now = [r for r in ROWS if r.id not in {3, 5, 6}] + changed
    assert decoded(updated) == decoded(peers.build_index(now))
    assert updated.usage_window == "in the last 8 weeks"
    assert updated.has_usage
    # and it ranks as that index does; the old index is left as it was
    assert ranked(peers.rank(updated, ADVOCATE, limit=10)) == [
        (0, 0.85),
        (1, 0.85),
        (2, 0.7),
        (4, 0.4),
    ]
    assert decoded(index) == decoded(peers.build_index(ROWS))


def test_updating_with_nothing_changes_nothing_and_usage_can_go() -> None:
    index = peers.build_index([ProspectRow(1, "Globex", "Software", 300, "US", events=5)])
    assert decoded(peers.index_update(index, [])) == decoded(index)
    quiet = peers.index_update(index, [ProspectRow(1, "Globex", "Software", 300, "US")])
    assert not quiet.has_usage
    assert len(peers.index_update(index, [], remove_ids=[1])) == 0


@pytest.mark.parametrize("new_ids", ["above", "among"])
def test_random_updates_equal_a_build_from_the_changed_rows(new_ids: str) -> None:
    # given 500 prospects with gaps between their ids
    rng = random.Random(11 if new_ids == "above" else 12)

    def row(pk: int) -> ProspectRow:
        return ProspectRow(
            pk,
            f"P{pk}-{rng.randrange(99)}",
            rng.choice(["Software", "Retail", "Mining", ""]),
            rng.choice([None, 5, 300, 20_000]),
            rng.choice(["US", "GB", "NZ", ""]),
            rng.choice([0, 0, 4, 900]),
        )

    rows = {pk: row(pk) for pk in range(10, 5010, 10)}
    index = peers.build_index(rows.values())

    # when 40 change, 30 leave (some of them also passed as changed, as a refresh of the
    # records passes every id it touched) and 20 arrive
    changed = [row(pk) for pk in rng.sample(sorted(rows), 40)]
    leaving = rng.sample(sorted(set(rows) - {r.id for r in changed}), 30)
    arriving = [
        row(pk)
        for pk in rng.sample(range(5010, 9000) if new_ids == "above" else range(5, 5000, 10), 20)
    ]
    touched = [*leaving, *(r.id for r in changed[:10])]
    updated = peers.index_update(index, [*changed, *arriving], remove_ids=touched)

    # then the index is the one a build from the records now would give
    now = {**rows, **{r.id: r for r in [*changed, *arriving]}}
    for pk in leaving:
        del now[pk]
    assert decoded(updated) == decoded(peers.build_index(now.values()))
