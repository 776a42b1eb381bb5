from __future__ import annotations

import itertools
import re

import pytest

from goodword.engine import templates
from goodword.engine.outcomes import outcome
from goodword.engine.programme import KINDS

MILESTONES = [
    # (data, event, measure, label) -> the phrase
    ({"threshold": 1000}, "report_created", "count", "", "have created 1,000 reports"),
    ({"threshold": "1000"}, "Report Created", "count", "", "have created 1,000 reports"),
    ({"threshold": 10000}, "reportCreated", "count", "", "have created 10,000 reports"),
    ({"threshold": 1}, "report_created", "count", "", "have created 1 report"),
    ({"threshold": 50}, "dashboard_built", "count", "", "have built 50 dashboards"),
    ({"threshold": 20}, "query-run", "count", "", "have run 20 queries"),
    ({"threshold": 3}, "box_ship", "count", "", "have shipped 3 boxes"),
    ({"threshold": 100}, "file_upload", "count", "", "have uploaded 100 files"),
    ({"threshold": 600}, "automation_run", "sum:minutes_saved", "", "have saved 10 hours"),
    ({"threshold": 650}, None, "sum:minutes_saved", "", "have saved 10.8 hours"),
    ({"threshold": 119}, None, "sum:minutes_saved", "", "have saved 119 minutes"),
    ({"threshold": 120}, None, "sum:minutes_saved", "", "have saved 2 hours"),
    ({"threshold": 7200}, None, "sum:seconds_saved", "", "have saved 2 hours"),
    ({"threshold": 5400}, None, "sum:seconds_saved", "", "have saved 5,400 seconds"),
    ({"threshold": "2.5"}, None, "sum:gigabytes_stored", "", "have stored 2.5 gigabytes"),
    ({"threshold": 5}, "login", "count", "Logins", "have reached the Logins milestone of 5"),
    ({"threshold": 5}, "login", "count", "", None),
    ({"threshold": 5}, "step_2", "count", "", None),
    ({}, "report_created", "count", "", None),
    ({"threshold": "lots"}, "report_created", "count", "", None),
    ({"threshold": True}, "report_created", "count", "", None),
    ({"threshold": 0}, "report_created", "count", "", None),
]


@pytest.mark.parametrize(("data", "event", "measure", "label", "said"), MILESTONES)
def test_a_milestone_in_plain_words(
    data: dict[str, object], event: str | None, measure: str, label: str, said: str | None
) -> None:
    assert outcome(kind="milestone", data=data, event=event, measure=measure, label=label) == said


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"users": 30, "before_mean": 10.0}, "have grown to 3× as many weekly users"),
        ({"users": 41, "before_mean": 20.0}, "have grown to 2.1× as many weekly users"),
        ({"users": 15, "before_mean": 10.0}, "have grown weekly users by 50%"),
        ({"users": 10, "before_mean": 10.0}, None),
        ({"users": 12, "before_mean": 0.0}, None),
        ({"users": 12}, None),
    ],
)
def test_a_surge_in_plain_words(data: dict[str, object], said: str | None) -> None:
    assert outcome(kind="surge", data=data) == said


SUPPORT = "have had great support from the team"


@pytest.mark.parametrize(
    ("kind", "data", "said"),
    [
        ("renewal", {"deal_id": 1, "amount": "48000.00"}, "have renewed for another term"),
        ("expansion", {"deal_id": 2}, "have rolled it out more widely"),
        ("nps", {"nps_id": 3, "score": 10}, "rate it 10 out of 10"),
        ("nps", {"nps_id": 3, "score": 9}, "rate it 9 out of 10"),
        ("nps", {"nps_id": 3}, "would recommend it to anyone"),
        ("nps", {"nps_id": 3, "score": 11}, "would recommend it to anyone"),
        # A support moment: a well-rated (CSAT) or praised closed ticket.
        ("support", {"ticket_id": 4, "csat": 1.0, "praise": 0.0}, SUPPORT),
        ("support", {"ticket_id": 4, "csat": None, "praise": 0.8}, SUPPORT),
        ("praise", {"message_id": 5, "praise": 0.9}, "have been really happy with it"),
        ("unknown", {"threshold": 10}, None),
    ],
)  # fmt: skip
def test_the_other_kinds_in_plain_words(
    kind: str, data: dict[str, object], said: str | None
) -> None:
    assert outcome(kind=kind, data=data) == said


def test_a_goal_names_itself() -> None:
    assert outcome(kind="goal", data={"goal_id": 1}, goal_name=" Onboard 50 analysts ") == (
        "have reached the goal “Onboard 50 analysts”"
    )
    assert outcome(kind="goal", data={"goal_id": 1}, goal_name="  ") is None


def test_every_kind_of_the_programme_has_words() -> None:
    data: dict[str, object] = {"threshold": 10, "users": 20, "before_mean": 5.0, "score": 10}
    said = {
        kind: outcome(kind=kind, data=data, event="report_created", goal_name="Go live")
        for kind in KINDS
    }
    assert [kind for kind, phrase in said.items() if not phrase] == []


def test_no_phrase_says_our_so_the_owner_can_read_it_back_to_the_advocate() -> None:
    phrases = [outcome(kind=kind, data={"score": 9}) for kind in KINDS]
    phrases += [outcome(kind="surge", data={"users": 15, "before_mean": 10.0})]
    phrases += [outcome(kind="goal", data={}, goal_name="Go live")]
    assert [p for p in phrases if p and re.search(r"\b(our|us|we)\b", p)] == []


# --- every default text with any fields missing ---------------------------------------------

# What must never show in a text, whatever is missing.
BAD = [
    re.compile(r"\b(Hi|Hello|Dear) ?[,!?]"),  # a greeting without a name
    re.compile(r"\b(Hi|Hello|Dear) (a|an|the|our|your|they)\b"),  # ... or with a fallback's words
    re.compile(r"[{}\[\]]"),  # a raw placeholder or bracket
    re.compile(r"  "),  # a gap where a part was left out
    re.compile(r" [,.;:!?)]"),  # a space before punctuation
    re.compile(r"[,;:][,.;:!?]"),  # punctuation left doubled by a missing word
    re.compile(r"\bNone\b"),
]


def _subsets(names: list[str]) -> itertools.chain[tuple[str, ...]]:
    return itertools.chain.from_iterable(
        itertools.combinations(names, k) for k in range(len(names) + 1)
    )


@pytest.mark.parametrize("kind", sorted(templates.DEFAULTS))
def test_every_default_text_and_subject_reads_well_with_any_fields_missing(kind: str) -> None:
    # Every subset of all the fields (2,048), missing as absent, None or blank in turn.
    sources = [templates.parse(templates.DEFAULTS[kind])]
    if kind in templates.SUBJECTS:
        sources.append(templates.parse(templates.SUBJECTS[kind]))
    for n, missing in enumerate(_subsets(sorted(templates.FIELDS))):
        values: dict[str, str | None] = {
            k: v for k, v in templates.SAMPLE.items() if k not in missing
        }
        if n % 4:  # else the missing fields are absent
            values.update(dict.fromkeys(missing, (None, "", "   ")[n % 3]))
        for source in sources:
            text = templates.render(source, values)
            assert text, (kind, missing)
            assert not text.startswith(("\n", " ")), (kind, missing, text)
            for pattern in BAD:
                assert not pattern.search(text), (kind, missing, pattern.pattern, text)
