from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from goodword.engine.programme import (
    AskConfig,
    DealRule,
    GateConfig,
    GoalRule,
    HealthConfig,
    MilestoneRule,
    NpsRule,
    PraiseRule,
    Programme,
    ReadinessConfig,
    Rule,
    SupportRule,
    SurgeRule,
)
from goodword.engine.rules import (
    DEFAULT_YAML,
    Problem,
    RulesError,
    default_programme,
    parse_programme,
    programme_to_data,
    rule_fingerprint,
)
from goodword.engine.scores import Measure

ISSUE_YAML = """\
rules:
  - {id: reports, kind: milestone, event: report_created, measure: count, thresholds: [100, 1000, 10000], weight: 30}
  - {id: hours-saved, kind: milestone, event: automation_run, measure: "sum:minutes_saved", thresholds: [600, 6000], weight: 40}
  - {id: wau-surge, kind: surge, event: null, ratio: 1.5, min_users: 5, weight: 20}
  - {id: goals, kind: goal, weight: 50}
  - {id: renewed, kind: renewal, weight: 40}
  - {id: promoter, kind: nps, min_score: 9, weight: 25}
  - {id: happy-ticket, kind: support, min_csat: 0.8, weight: 20}
  - {id: praise, kind: praise, weight: 25}
"""  # noqa: E501 (the form exactly as the issue wrote it)

ISSUE_RULES = (
    MilestoneRule(
        id="reports",
        kind="milestone",
        weight=30,
        event="report_created",
        measure=Measure("count"),
        thresholds=(Decimal(100), Decimal(1000), Decimal(10000)),
    ),
    MilestoneRule(
        id="hours-saved",
        kind="milestone",
        weight=40,
        event="automation_run",
        measure=Measure("sum", "minutes_saved"),
        thresholds=(Decimal(600), Decimal(6000)),
    ),
    SurgeRule(id="wau-surge", kind="surge", weight=20, event=None, ratio=1.5, min_users=5),
    GoalRule(id="goals", kind="goal", weight=50),
    DealRule(id="renewed", kind="renewal", weight=40),
    NpsRule(id="promoter", kind="nps", weight=25, min_score=9),
    SupportRule(id="happy-ticket", kind="support", weight=20, min_csat=0.8),
    PraiseRule(id="praise", kind="praise", weight=25),
)

SECTION_CLASSES = {
    "health": HealthConfig,
    "readiness": ReadinessConfig,
    "gates": GateConfig,
    "asks": AskConfig,
}


def one_rule(fields: str) -> str:
    """A file whose only rule is on line 2."""
    return f"rules:\n  - {{{fields}}}\n"


def one_setting(section: str, key: str, value: str) -> str:
    """A file with no rules and one setting, on line 3."""
    return f"rules: []\n{section}:\n  {key}: {value}\n"


def problems_of(text: str) -> tuple[Problem, ...]:
    with pytest.raises(RulesError) as caught:
        parse_programme(text)
    return caught.value.problems


# --- Reading valid files ---------------------------------------------------------------------


def test_the_issue_form_parses_to_the_exact_dataclasses() -> None:
    # given the rules exactly as the issue wrote them
    # when they are parsed
    programme = parse_programme(ISSUE_YAML)
    # then each rule is its kind's dataclass with the values written, and the settings are
    # the defaults
    assert programme == Programme(rules=ISSUE_RULES)
    assert [type(rule) for rule in programme.rules] == [type(rule) for rule in ISSUE_RULES]


def test_the_default_programme_is_the_issue_rules_with_default_settings() -> None:
    assert default_programme() == Programme(rules=ISSUE_RULES)


def test_the_default_file_writes_out_every_setting_at_its_default() -> None:
    # given the documented defaults file admins start from
    data = yaml.safe_load(DEFAULT_YAML)
    # then every section lists every setting, each at the dataclass default
    for section, cls in SECTION_CLASSES.items():
        assert data[section] == dataclasses.asdict(cls()), section


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        (
            "id: m, kind: milestone, event: e, thresholds: [5], weight: 1",
            MilestoneRule(
                id="m",
                kind="milestone",
                weight=1,
                event="e",
                measure=Measure("count"),
                thresholds=(Decimal(5),),
            ),
        ),
        (
            "id: s, kind: surge, weight: 1",
            SurgeRule(id="s", kind="surge", weight=1, event=None, ratio=1.5, min_users=5),
        ),
        ("id: g, kind: goal, weight: 1", GoalRule(id="g", kind="goal", weight=1)),
        ("id: r, kind: renewal, weight: 1", DealRule(id="r", kind="renewal", weight=1)),
        ("id: x, kind: expansion, weight: 1", DealRule(id="x", kind="expansion", weight=1)),
        ("id: n, kind: nps, weight: 1", NpsRule(id="n", kind="nps", weight=1, min_score=9)),
        (
            "id: t, kind: support, weight: 1",
            SupportRule(
                id="t", kind="support", weight=1, min_csat=0.8, praise=True, min_praise=0.5
            ),
        ),
        (
            "id: p, kind: praise, weight: 1",
            PraiseRule(id="p", kind="praise", weight=1, min_praise=0.5, channels=()),
        ),
    ],
)
def test_each_kind_takes_its_defaults_for_settings_left_out(fields: str, rule: Rule) -> None:
    # given a rule with only the keys its kind requires
    # when it is parsed
    (parsed,) = parse_programme(one_rule(fields)).rules
    # then the other settings are the documented defaults, enabled and without a label
    assert parsed == rule
    assert type(parsed) is type(rule)
    assert (parsed.enabled, parsed.label) == (True, "")


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        (
            'id: m, kind: milestone, event: e, measure: "sum:amount_usd", '
            "thresholds: [1000, 2.5, '100.25'], weight: 0, enabled: false, label: Big spend",
            MilestoneRule(
                id="m",
                kind="milestone",
                weight=0,
                enabled=False,
                label="Big spend",
                event="e",
                measure=Measure("sum", "amount_usd"),
                thresholds=(Decimal("2.5"), Decimal("100.25"), Decimal(1000)),
            ),
        ),
        (
            "id: s, kind: surge, event: dashboard_viewed, ratio: 2, min_users: 1, weight: 7.5",
            SurgeRule(
                id="s", kind="surge", weight=7.5, event="dashboard_viewed", ratio=2, min_users=1
            ),
        ),
        (
            "id: n, kind: nps, min_score: 0, weight: 1",
            NpsRule(id="n", kind="nps", weight=1, min_score=0),
        ),
        (
            "id: t, kind: support, min_csat: 1, praise: false, min_praise: 0, weight: 1",
            SupportRule(id="t", kind="support", weight=1, min_csat=1, praise=False, min_praise=0),
        ),
        (
            "id: p, kind: praise, min_praise: 0.9, channels: [review, email], weight: 1",
            PraiseRule(
                id="p", kind="praise", weight=1, min_praise=0.9, channels=("review", "email")
            ),
        ),
    ],
)
def test_every_rule_setting_is_read_as_written(fields: str, rule: Rule) -> None:
    (parsed,) = parse_programme(one_rule(fields)).rules
    assert parsed == rule


def test_thresholds_are_sorted_exact_decimals() -> None:
    # given thresholds out of order, as int, float and text
    text = one_rule("id: m, kind: milestone, event: e, thresholds: [1000, 0.1, '2.50'], weight: 1")
    # when parsed
    (rule,) = parse_programme(text).rules
    # then they are Decimals in increasing order, the float read as written (not 0.1000000001)
    assert isinstance(rule, MilestoneRule)
    assert rule.thresholds == (Decimal("0.1"), Decimal("2.50"), Decimal(1000))
    assert [str(t) for t in rule.thresholds] == ["0.1", "2.50", "1000"]


def test_sections_change_only_the_settings_they_name() -> None:
    # given sections that set a few keys, one of them a check switched off with null
    text = """\
rules: []
health: {usage: 40, nps_days: 180}
readiness: {threshold: 55.5}
gates: {min_health: null, customer: false}
asks: {assign_to: csm}
"""
    # when parsed
    programme = parse_programme(text)
    # then those keys change and every other keeps its default
    assert programme == Programme(
        rules=(),
        health=HealthConfig(usage=40, nps_days=180),
        readiness=ReadinessConfig(threshold=55.5),
        gates=GateConfig(min_health=None, customer=False),
        asks=AskConfig(assign_to="csm"),
    )


def test_a_section_with_every_key_commented_out_keeps_the_defaults() -> None:
    text = "rules: []\nhealth:\n  # usage: 50\ngates:\n"
    assert parse_programme(text) == Programme()


def test_merge_keys_share_settings_between_rules() -> None:
    # given a second rule that takes the first's keys through a YAML merge key
    text = """\
rules:
  - &base {id: a, kind: support, min_csat: 0.9, weight: 10}
  - {<<: *base, id: b, praise: false}
"""
    # when parsed
    rules = parse_programme(text).rules
    # then the merged keys count as written, and its own keys override them
    assert rules == (
        SupportRule(id="a", kind="support", weight=10, min_csat=0.9),
        SupportRule(id="b", kind="support", weight=10, min_csat=0.9, praise=False),
    )


# --- Refusing invalid files ------------------------------------------------------------------

RULE_ERRORS = [
    # common keys
    ("kind: goal, weight: 1", "rules[0].id", "is required"),
    ("id: Goals, kind: goal, weight: 1", "rules[0].id", "must be 1 to 50 lowercase letters"),
    ("id: 1st, kind: goal, weight: 1", "rules[0].id", "starting with a letter, not '1st'"),
    (f"id: {'a' * 51}, kind: goal, weight: 1", "rules[0].id", "must be 1 to 50"),
    ("id: 7, kind: goal, weight: 1", "rules[0].id", "must be text, not 7"),
    ("id: a, weight: 1", "rules[0].kind", "is required"),
    ("id: a, kind: milstone, weight: 1", "rules[0].kind", "did you mean 'milestone'?"),
    ("id: a, kind: webhook, weight: 1", "rules[0].kind", "'webhook' is not a kind of rule"),
    ("id: a, kind: goal", "rules[0].weight", "is required"),
    ("id: a, kind: goal, weight: true", "rules[0].weight", "must be a number, not true"),
    ("id: a, kind: goal, weight: '30'", "rules[0].weight", "must be a number, not text '30'"),
    ("id: a, kind: goal, weight: -1", "rules[0].weight", "must be at least 0, not -1"),
    ("id: a, kind: goal, weight: .inf", "rules[0].weight", "must be a finite number"),
    ("id: a, kind: goal, weight: 1, enabled: 1", "rules[0].enabled", "must be true or false"),
    ("id: a, kind: goal, weight: 1, label: 3", "rules[0].label", "must be text, not 3"),
    # milestone
    ("id: a, kind: milestone, thresholds: [1], weight: 1", "rules[0].event", "is required"),
    (
        "id: a, kind: milestone, event: '', thresholds: [1], weight: 1",
        "rules[0].event",
        "must be a non-empty name",
    ),
    (
        "id: a, kind: milestone, event: e, measure: avg, thresholds: [1], weight: 1",
        "rules[0].measure",
        "is not a measure: use count or sum:<property>",
    ),
    (
        "id: a, kind: milestone, event: e, measure: 'sum:a.b', thresholds: [1], weight: 1",
        "rules[0].measure",
        "becomes part of a JSON path",
    ),
    (
        "id: a, kind: milestone, event: e, measure: 'sum:a-b', thresholds: [1], weight: 1",
        "rules[0].measure",
        "must be letters, digits and _",
    ),
    ("id: a, kind: milestone, event: e, weight: 1", "rules[0].thresholds", "is required"),
    (
        "id: a, kind: milestone, event: e, thresholds: [], weight: 1",
        "rules[0].thresholds",
        "must list at least one threshold",
    ),
    (
        "id: a, kind: milestone, event: e, thresholds: 100, weight: 1",
        "rules[0].thresholds",
        "must be a list of positive numbers, not 100",
    ),
    (
        "id: a, kind: milestone, event: e, thresholds: [10, 0], weight: 1",
        "rules[0].thresholds[1]",
        "must be a positive number, not 0",
    ),
    (
        "id: a, kind: milestone, event: e, thresholds: [10, true], weight: 1",
        "rules[0].thresholds[1]",
        "must be a positive number, not true",
    ),
    (
        "id: a, kind: milestone, event: e, thresholds: [10, ten], weight: 1",
        "rules[0].thresholds[1]",
        "must be a positive number, not text 'ten'",
    ),
    (
        "id: a, kind: milestone, event: e, thresholds: [100, 10, 100.0], weight: 1",
        "rules[0].thresholds[2]",
        "100.0 is listed twice",
    ),
    # surge
    ("id: a, kind: surge, event: '', weight: 1", "rules[0].event", "must be a non-empty name"),
    ("id: a, kind: surge, ratio: 0, weight: 1", "rules[0].ratio", "must be more than 0, not 0"),
    ("id: a, kind: surge, min_users: 0, weight: 1", "rules[0].min_users", "at least 1, not 0"),
    ("id: a, kind: surge, min_users: 2.5, weight: 1", "rules[0].min_users", "whole number"),
    # nps
    ("id: a, kind: nps, min_score: 11, weight: 1", "rules[0].min_score", "from 0 to 10, not 11"),
    ("id: a, kind: nps, min_score: 8.5, weight: 1", "rules[0].min_score", "whole number"),
    # support
    ("id: a, kind: support, min_csat: 1.2, weight: 1", "rules[0].min_csat", "from 0 to 1"),
    ("id: a, kind: support, praise: often, weight: 1", "rules[0].praise", "true or false"),
    ("id: a, kind: support, min_praise: -0.1, weight: 1", "rules[0].min_praise", "from 0 to 1"),
    # praise
    (
        "id: a, kind: praise, channels: [email, fax], weight: 1",
        "rules[0].channels[1]",
        "'fax' is not a channel (one of call, chat, email, other, review, social, survey)",
    ),
    (
        "id: a, kind: praise, channels: [emial], weight: 1",
        "rules[0].channels[0]",
        "did you mean 'email'?",
    ),
    (
        "id: a, kind: praise, channels: [chat, chat], weight: 1",
        "rules[0].channels[1]",
        "'chat' is listed twice",
    ),
    (
        "id: a, kind: praise, channels: email, weight: 1",
        "rules[0].channels",
        "must be a list of channels, not text 'email'",
    ),
    # keys
    (
        "id: a, kind: milestone, event: e, thresholds: [1], treshold: 2, weight: 1",
        "rules[0]",
        "unknown key 'treshold'; did you mean 'thresholds'?",
    ),
    (
        "id: a, kind: goal, ratio: 2, weight: 1",
        "rules[0]",
        "'ratio' is not a setting of goal rules (they have id, kind, weight, enabled, label)",
    ),
    ("id: a, kind: goal, weight: 1, weight: 2", "rules[0].weight", "is set twice"),
    ("id: a, kind: goal, weight: 1, 3: x", "rules[0]", "keys must be text, not 3"),
    ("id: a, kind: goal, weight: !!float x", "rules[0].weight", "cannot be read"),
    ("id: a, kind: goal, weight: !pct 30", "rules[0].weight", "cannot be read"),
]


@pytest.mark.parametrize(("fields", "field", "words"), RULE_ERRORS)
def test_an_invalid_rule_is_refused_naming_line_and_field(
    fields: str, field: str, words: str
) -> None:
    # given a file whose one rule, on line 2, has one mistake
    # when it is parsed
    problems = problems_of(one_rule(fields))
    # then exactly one problem is reported, on that line and field, in words
    assert [(p.line, p.field) for p in problems] == [(2, field)]
    assert words in problems[0].message


SETTING_ERRORS = [
    ("health", "usage", "-1", "must be at least 0, not -1"),
    ("health", "usage", "lots", "must be a number, not text 'lots'"),
    ("health", "usage", "true", "must be a number, not true"),
    ("health", "usage_recent_weeks", "0", "must be at least 1, not 0"),
    ("health", "usage_baseline_weeks", "8.0", "must be a whole number, not 8"),
    ("health", "usage_full_ratio", "0", "must be more than 0, not 0"),
    ("health", "usage_zero_ratio", "1.0", "must be below usage_full_ratio (1), not 1"),
    ("health", "usage_full_ratio", "0.5", "must be above usage_zero_ratio (0.5), not 0.5"),
    ("health", "usage_no_baseline", "1.5", "must be from 0 to 1, not 1.5"),
    ("health", "nps_passive", "-0.5", "must be from 0 to 1"),
    ("health", "nps_none", "2", "must be from 0 to 1, not 2"),
    ("health", "csat_none", "null", "must be a number, not null"),
    ("health", "nps_days", "-1", "must be at least 0"),
    ("health", "csat_days", "-1", "must be at least 0"),
    ("health", "renewal_days", "-1", "must be at least 0"),
    ("health", "usge", "1", "unknown key 'usge'; did you mean 'usage'?"),
    ("readiness", "threshold", "-1", "must be at least 0"),
    ("readiness", "half_life_days", "0", "must be more than 0, not 0"),
    ("readiness", "horizon_days", "0", "must be at least 1, not 0"),
    ("readiness", "horizon_days", "90.5", "must be a whole number, not 90.5"),
    ("gates", "customer", "null", "must be true or false, not null"),
    ("gates", "customer", "1", "must be true or false, not 1"),
    ("gates", "min_customer_days", "-1", "must be at least 0, not -1"),
    ("gates", "min_health", "101", "must be from 0 to 100, not 101"),
    ("gates", "detractor_days", "-1", "must be at least 0"),
    ("gates", "account_cooldown_days", "'90'", "must be a whole number, not text '90'"),
    ("gates", "contact_max_asks", "1.5", "must be a whole number, not 1.5"),
    ("gates", "contact_window_days", "null", "must be a whole number, not null"),
    ("asks", "assign_to", "boss", "'boss' is not whom to assign to (one of csm, owner)"),
    ("asks", "assign_to", "3", "must be text, not 3"),
    ("asks", "due_business_days", "-1", "must be at least 0, not -1"),
]


@pytest.mark.parametrize(("section", "key", "value", "words"), SETTING_ERRORS)
def test_an_invalid_setting_is_refused_naming_line_and_field(
    section: str, key: str, value: str, words: str
) -> None:
    # given a file with one wrong setting on line 3
    # when it is parsed
    problems = problems_of(one_setting(section, key, value))
    # then exactly that setting is reported (an unknown key under its section's name)
    field = section if words.startswith("unknown") else f"{section}.{key}"
    assert [(p.line, p.field) for p in problems] == [(3, field)]
    assert words in problems[0].message


FILE_ERRORS = [
    ("", None, "", "the file is empty; it needs at least a list of rules"),
    ("# nothing yet\n", None, "", "the file is empty"),
    ("- goals\n", 1, "", "the file must be a mapping with a list of rules, not a list"),
    ("health: {}\n", 1, "rules", "is required: a list of rules"),
    ("rules:\n", 1, "rules", "must be a list of rules, not null"),
    ("rules: 3\n", 1, "rules", "must be a list of rules, not 3"),
    ("rules:\n  - goals\n", 2, "rules[0]", "must be a mapping of keys to values, not text"),
    ("rules: []\nrulez: []\n", 2, "", "unknown key 'rulez'; did you mean 'rules'?"),
    ("rules: []\nrules: []\n", 2, "rules", "is set twice (first on line 1)"),
    ("rules: []\nreadiness: [1]\n", 2, "readiness", "must be a mapping of keys to values"),
    ("rules: [\n", 2, "", "invalid YAML: while parsing a flow node"),
    ("rules: []\n  health: {}\n", 2, "", "invalid YAML: while parsing a block mapping"),
    ("rules: []\nhealth:\n\tusage: 3\n", 3, "", "found character '\\t' that cannot start"),
    ("rules: []\n---\nrules: []\n", 2, "", "expected a single document in the stream"),
    ("rules: []\nx: \x00\n", 2, "", "invalid YAML: the character U+0000 is not allowed"),
    ("rules: !!int x\n", 1, "rules", "cannot be read: invalid literal for int()"),
    # The safe loader refuses to build Python objects, whatever the file asks for.
    (
        "rules: !!python/object/apply:os.system ['true']\n",
        1,
        "rules",
        "cannot be read: invalid YAML: could not determine a constructor",
    ),
    (
        "rules:\n  - !!python/object:goodword.engine.programme.GoalRule {id: a}\n",
        2,
        "rules[0]",
        "cannot be read: invalid YAML: could not determine a constructor",
    ),
    ("rules: !!set {a: null}\n", 1, "rules", "must be a list of rules, not a set"),
]


@pytest.mark.parametrize(("text", "line", "field", "words"), FILE_ERRORS)
def test_a_file_that_is_not_a_programme_is_refused_in_words(
    text: str, line: int | None, field: str, words: str
) -> None:
    problems = problems_of(text)
    assert [(p.line, p.field) for p in problems] == [(line, field)]
    assert words in problems[0].message


def test_a_missing_key_is_reported_on_the_line_where_its_rule_starts() -> None:
    # given a block-style rule on lines 3 to 5 without its event or thresholds
    text = """\
rules:
  - {id: a, kind: goal, weight: 1}
  - id: b
    kind: milestone
    weight: 1
"""
    # when parsed
    problems = problems_of(text)
    # then both missing keys are reported on the rule's first line
    assert problems == (
        Problem(3, "rules[1].event", "is required"),
        Problem(3, "rules[1].thresholds", "is required"),
    )


def test_a_repeated_rule_id_is_refused_on_the_second_rule() -> None:
    text = """\
rules:
  - {id: a, kind: goal, weight: 1}
  - {id: b, kind: goal, weight: 1}
  - {id: a, kind: nps, weight: 1}
"""
    assert problems_of(text) == (Problem(4, "rules[2].id", "'a' is already the id of rules[0]"),)


def test_every_problem_in_a_file_is_reported_at_once_in_line_order() -> None:
    # given a file with mistakes in several rules and sections
    text = """\
rules:
  - {id: reports, kind: milestone, event: e, thresholds: [100, 100], weight: 30}
  - id: Surge
    kind: surge
    ratio: -2
  - {id: big, kind: milestone, event: e, thresholds: [5], weight: 1, treshold: 1}
health:
  usage: -5
asks: {assign_to: manager, due_busines_days: 2}
"""
    # when it is parsed
    with pytest.raises(RulesError) as caught:
        parse_programme(text)
    # then every mistake is listed, by line, one a line in the error's text
    assert str(caught.value) == "\n".join(
        [
            "line 2: rules[0].thresholds[1]: 100 is listed twice",
            "line 3: rules[1].id: must be 1 to 50 lowercase letters, digits, - or _, "
            "starting with a letter, not 'Surge'",
            "line 3: rules[1].weight: is required",
            "line 5: rules[1].ratio: must be more than 0, not -2",
            "line 6: rules[2]: unknown key 'treshold'; did you mean 'thresholds'?",
            "line 8: health.usage: must be at least 0, not -5",
            "line 9: asks: unknown key 'due_busines_days'; did you mean 'due_business_days'?",
            "line 9: asks.assign_to: 'manager' is not whom to assign to (one of csm, owner)",
        ]
    )
    assert isinstance(caught.value, ValueError)


def test_introductions_are_routed_one_of_three_ways_and_reminded_before_they_expire() -> None:
    # given introductions routed nowhere known, and reminded on the day they expire
    text = "rules: []\nintroductions: {route_to: anyone, follow_up_days: 0}\n"
    late = "rules: []\nintroductions:\n  remind_after_days: 14\n  expire_after_days: 14\n"
    # when each is parsed
    with pytest.raises(RulesError) as unknown:
        parse_programme(text)
    with pytest.raises(RulesError) as reminded_late:
        parse_programme(late)
    # then each problem names the key, what was given and what is allowed
    assert [str(p) for p in unknown.value.problems] == [
        "line 2: introductions.route_to: 'anyone' is not whom to route referred deals to "
        "(one of advocate_owner, ask_owner, prospect_owner)",
        "line 2: introductions.follow_up_days: must be at least 1, not 0",
    ]
    assert [(p.field, p.message) for p in reminded_late.value.problems] == [
        (
            "introductions.remind_after_days",
            "must be below expire_after_days (14), not 14: the reminder comes before the "
            "introduction expires",
        )
    ]


def test_a_rule_of_no_known_kind_still_has_its_keys_checked() -> None:
    # given a rule whose kind is unknown and one of whose keys no kind has
    text = one_rule("id: a, kind: nope, colour: red, ratio: 2, weight: 1")
    # then both are reported; ratio passes, as some kind has it
    kinds = "expansion, goal, milestone, nps, praise, renewal, support, surge"
    keys = (
        "channels, enabled, event, id, kind, label, measure, min_csat, min_praise, min_score, "
        "min_users, praise, ratio, thresholds, weight"
    )
    assert problems_of(text) == (
        Problem(2, "rules[0].kind", f"'nope' is not a kind of rule (one of {kinds})"),
        Problem(2, "rules[0]", f"unknown key 'colour' (one of {keys})"),
    )


def test_a_problem_without_a_line_or_field_reads_as_its_message() -> None:
    assert str(Problem(None, "", "the file is empty")) == "the file is empty"
    assert (
        str(Problem(7, "rules[2].thresholds", "must be")) == "line 7: rules[2].thresholds: must be"
    )


def test_a_merged_rule_is_still_checked() -> None:
    # given a rule merging in another one's keys, then repeating one of its own
    text = """\
rules:
  - &base {id: a, kind: nps, min_score: 9, weight: 1}
  - {<<: *base, id: b, min_score: 12, id: c}
"""
    # then the merged-in id does not count as set twice, but the repeated one does
    assert problems_of(text) == (
        Problem(3, "rules[1].id", "is set twice (first on line 3)"),
        Problem(3, "rules[1].min_score", "must be from 0 to 10, not 12"),
    )


# --- Writing back ----------------------------------------------------------------------------


def test_programme_to_data_writes_every_field_as_plain_data() -> None:
    # given a milestone with whole and fractional thresholds
    rule = dataclasses.replace(ISSUE_RULES[1], thresholds=(Decimal("2.5"), Decimal(600)))
    # when written out
    data = programme_to_data(Programme(rules=(rule,)))
    # then measures are text, whole Decimals ints, others exact text, settings all there
    assert data["rules"] == [
        {
            "id": "hours-saved",
            "kind": "milestone",
            "weight": 40,
            "enabled": True,
            "label": "",
            "event": "automation_run",
            "measure": "sum:minutes_saved",
            "thresholds": ["2.5", 600],
        }
    ]
    assert data["asks"] == {"assign_to": "owner", "due_business_days": 2}
    assert data["introductions"] == {
        "route_to": "prospect_owner",
        "follow_up_days": 7,
        "remind_after_days": 5,
        "expire_after_days": 14,
    }
    assert list(data) == ["rules", "health", "readiness", "gates", "asks", "introductions"]


def test_the_default_programme_round_trips_through_yaml_and_json() -> None:
    # given the default programme written out
    data = programme_to_data(default_programme())
    # then it is JSON as it is, and its YAML reads back to the same programme
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert parse_programme(yaml.safe_dump(data)) == default_programme()


# --- Fingerprints ----------------------------------------------------------------------------

REPORTS = ISSUE_RULES[0]


def test_a_fingerprint_is_a_stable_sha256() -> None:
    # A change here invalidates every stored fingerprint: the moments of every rule would be
    # found again. Change it only on purpose.
    assert rule_fingerprint(REPORTS) == (
        "df1e400e6c883e5cbb85acb60613e442ed51b1fd9f35e7d9f7a9e15ef13d0d13"
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"weight": 99},
        {"label": "Reports created"},
        {"enabled": False},
        {"id": "reports-2"},
        {"thresholds": (Decimal(10000), Decimal("100.0"), Decimal(1000))},
    ],
)
def test_a_fingerprint_ignores_what_does_not_change_which_moments_are_found(
    changes: dict[str, Any],
) -> None:
    assert rule_fingerprint(dataclasses.replace(REPORTS, **changes)) == rule_fingerprint(REPORTS)


@pytest.mark.parametrize(
    ("rule", "changes"),
    [
        (REPORTS, {"thresholds": (Decimal(100), Decimal(1000))}),
        (REPORTS, {"event": "report_exported"}),
        (REPORTS, {"measure": Measure("sum", "pages")}),
        (ISSUE_RULES[2], {"event": "report_created"}),
        (ISSUE_RULES[2], {"ratio": 2.0}),
        (ISSUE_RULES[2], {"min_users": 6}),
        (ISSUE_RULES[4], {"kind": "expansion"}),
        (ISSUE_RULES[5], {"min_score": 10}),
        (ISSUE_RULES[6], {"min_csat": 0.9}),
        (ISSUE_RULES[6], {"praise": False}),
        (ISSUE_RULES[6], {"min_praise": 0.6}),
        (ISSUE_RULES[7], {"min_praise": 0.6}),
        (ISSUE_RULES[7], {"channels": ("review",)}),
    ],
)
def test_a_fingerprint_changes_with_what_decides_which_moments_are_found(
    rule: Rule, changes: dict[str, Any]
) -> None:
    assert rule_fingerprint(dataclasses.replace(rule, **changes)) != rule_fingerprint(rule)


def test_a_fingerprint_reads_numbers_by_value_and_channels_as_a_set() -> None:
    surge = ISSUE_RULES[2]
    praise = dataclasses.replace(ISSUE_RULES[7], channels=("email", "review"))
    assert rule_fingerprint(dataclasses.replace(surge, ratio=1.50)) == rule_fingerprint(surge)
    assert rule_fingerprint(dataclasses.replace(praise, channels=("review", "email"))) == (
        rule_fingerprint(praise)
    )


# --- Round trip of generated programmes ------------------------------------------------------

ids = st.from_regex(r"[a-z][a-z0-9_-]{0,49}", fullmatch=True)
printable = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Co", "Cn"))
names = st.text(printable, min_size=1, max_size=30).filter(str.strip)
labels = st.text(printable, max_size=30)
weights = st.floats(min_value=0, max_value=1e6)
fractions = st.floats(min_value=0, max_value=1)
measures = st.one_of(
    st.just(Measure("count")),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True).map(lambda p: Measure("sum", p)),
)
thresholds = st.lists(
    st.decimals(min_value=Decimal("0.001"), max_value=10**9, places=3),
    min_size=1,
    max_size=5,
    unique=True,
).map(lambda values: tuple(sorted(values)))


def rule_of(cls: type[Rule], kind: str, **extra: Any) -> st.SearchStrategy[Rule]:
    return st.builds(
        cls,
        id=ids,
        kind=st.just(kind),
        weight=weights,
        enabled=st.booleans(),
        label=labels,
        **extra,
    )


rules = st.one_of(
    rule_of(MilestoneRule, "milestone", event=names, measure=measures, thresholds=thresholds),
    rule_of(
        SurgeRule,
        "surge",
        event=st.none() | names,
        ratio=st.floats(min_value=0, max_value=100, exclude_min=True),
        min_users=st.integers(1, 10**6),
    ),
    rule_of(GoalRule, "goal"),
    rule_of(DealRule, "renewal"),
    rule_of(DealRule, "expansion"),
    rule_of(NpsRule, "nps", min_score=st.integers(0, 10)),
    rule_of(SupportRule, "support", min_csat=fractions, praise=st.booleans(), min_praise=fractions),
    rule_of(
        PraiseRule,
        "praise",
        min_praise=fractions,
        channels=st.lists(
            st.sampled_from(["email", "chat", "review", "call", "social", "survey", "other"]),
            unique=True,
        ).map(tuple),
    ),
)
points = st.floats(min_value=0, max_value=1000)
days = st.integers(0, 10**4)
healths = st.builds(
    HealthConfig,
    usage=points,
    nps=points,
    csat=points,
    escalations=points,
    renewal=points,
    usage_recent_weeks=st.integers(1, 52),
    usage_baseline_weeks=st.integers(1, 52),
    usage_full_ratio=st.floats(min_value=0, max_value=10, exclude_min=True),
    usage_zero_ratio=st.floats(min_value=0, max_value=10),
    usage_no_baseline=fractions,
    nps_days=days,
    nps_passive=fractions,
    nps_none=fractions,
    csat_days=days,
    csat_none=fractions,
    renewal_days=days,
).filter(lambda health: health.usage_zero_ratio < health.usage_full_ratio)
programmes = st.builds(
    Programme,
    rules=st.lists(rules, max_size=6, unique_by=lambda rule: rule.id).map(tuple),
    health=healths,
    readiness=st.builds(
        ReadinessConfig,
        threshold=points,
        half_life_days=st.floats(min_value=0, max_value=1000, exclude_min=True),
        horizon_days=st.integers(1, 10**4),
    ),
    gates=st.builds(
        GateConfig,
        customer=st.booleans(),
        min_customer_days=st.none() | days,
        min_health=st.none() | st.floats(min_value=0, max_value=100),
        detractor_days=st.none() | days,
        no_open_escalation=st.booleans(),
        account_cooldown_days=st.none() | days,
        contact_max_asks=st.none() | st.integers(0, 100),
        contact_window_days=days,
        contact_opted_out=st.booleans(),
        no_open_ask=st.booleans(),
        owner_active=st.booleans(),
    ),
    asks=st.builds(
        AskConfig,
        assign_to=st.sampled_from(["owner", "csm"]),
        due_business_days=st.integers(0, 30),
    ),
)


@settings(max_examples=200, deadline=None)
@given(programmes)
def test_any_valid_programme_round_trips_through_its_data(programme: Programme) -> None:
    # given any valid programme written out as data
    data = programme_to_data(programme)
    # when the data is dumped as YAML and parsed again
    parsed = parse_programme(yaml.safe_dump(data))
    # then it is the same programme, the same rules with the same fingerprints, and the data
    # is plain JSON
    assert parsed == programme
    assert [rule_fingerprint(r) for r in parsed.rules] == [
        rule_fingerprint(r) for r in programme.rules
    ]
    assert json.loads(json.dumps(data, allow_nan=False)) == data
