from __future__ import annotations

import itertools

import pytest

from goodword.engine import templates
from goodword.engine.outcomes import outcome


@pytest.mark.parametrize(
    ("kind", "data", "event", "measure", "said"),
    [
        ("milestone", {"threshold": 1000}, "report_created", "count", "have created 1,000 reports"),
        ("milestone", {"threshold": 1}, "report_created", "count", "have created 1 report"),
        ("milestone", {"threshold": 600}, None, "sum:minutes_saved", "have saved 10 hours"),
        ("milestone", {"threshold": 90}, None, "sum:minutes_saved", "have saved 90 minutes"),
        ("milestone", {"threshold": 50}, "dashboard_built", "count", "have built 50 dashboards"),
        ("milestone", {"threshold": 5}, "login", "count", "have passed 5 in Logins"),
        ("milestone", {}, "report_created", "count", None),
        (
            "surge",
            {"users": 30, "before_mean": 10},
            None,
            "count",
            "have grown to 3× as many weekly users",
        ),
        (
            "surge",
            {"users": 15, "before_mean": 10},
            None,
            "count",
            "have grown our weekly users by 50%",
        ),
        ("renewal", {}, None, "count", "have renewed for another term"),
        ("nps", {"score": 10}, None, "count", "would recommend it to anyone"),
        ("unknown", {}, None, "count", None),
    ],
)
def test_the_outcome_of_a_moment_in_plain_words(
    kind: str, data: dict[str, object], event: str | None, measure: str, said: str | None
) -> None:
    assert outcome(kind=kind, data=data, event=event, measure=measure, label="Logins") == said


def test_a_goal_names_itself() -> None:
    assert outcome(kind="goal", data={}, goal_name=" Onboard 50 analysts ") == (
        "have reached our goal: Onboard 50 analysts"
    )
    assert outcome(kind="goal", data={}, goal_name="") is None


FULL = {
    "advocate_name": "Ada Lovelace",
    "advocate_company": "Acme",
    "person_name": "Grace Hopper",
    "person_company": "Globex",
    "person_title": "CTO",
    "outcome": "have created 1,000 reports",
    "rep_name": "Sam Rep",
    "product": "Goodword",
}


@pytest.mark.parametrize("kind", sorted(templates.DEFAULTS))
def test_every_default_template_reads_well_with_any_fields_missing(kind: str) -> None:
    sources = [templates.DEFAULTS[kind], templates.SUBJECTS.get(kind, "")]
    for size in range(len(FULL) + 1):
        for missing in itertools.combinations(sorted(FULL), size):
            values = templates.with_first_names({k: v for k, v in FULL.items() if k not in missing})
            for source in sources:
                text = templates.render(source, values)
                for bad in ("Hi ,", "{", "}", "[", "]", "  ", " ,", " .", " ?", "Hi !"):
                    assert bad not in text, (kind, missing, text)
                assert not text.startswith(("\n", " "))
