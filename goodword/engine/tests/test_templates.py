from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goodword.engine.templates import (
    DEFAULTS,
    FIELDS,
    LABELS,
    SAMPLE,
    SUBJECTS,
    TemplateError,
    parse,
    render,
    with_first_names,
)

FULL = {
    "advocate_name": "Dana Reyes",
    "advocate_company": "Acme",
    "person_name": "Sam Lee",
    "person_company": "Globex",
    "person_title": "Head of Ops",
    "outcome": "saved 6,000 hours with automations",
    "rep_name": "Priya Shah",
    "product": "Goodword",
}
NAMED = sorted(FULL)
# What must never show in a rendered text, whatever is missing.
BROKEN = [
    re.compile(r"[{}\[\]]"),  # a raw placeholder or bracket
    re.compile(r"\b(Hi|Hello|Dear)\s*[,!]"),  # a greeting without a name
    re.compile(r"\s[,.;:!?]"),  # a space before punctuation
    re.compile(r" {2,}"),  # a gap where something was left out
    re.compile(r"\(\s*\)"),  # empty brackets
    re.compile(r"(^|[.!?]\s+)[a-z]", re.MULTILINE),  # a sentence without its capital
    re.compile(r"\bNone\b"),
]


def test_the_defaults_read_well_with_every_field() -> None:
    values = with_first_names(FULL)
    assert render(DEFAULTS["blurb"], values) == (
        "Dana here. We've used Goodword at Acme and saved 6,000 hours with automations. Priya "
        "Shah is the person to talk to — Priya can show you how we did it. Happy to connect you."
    )
    assert render(DEFAULTS["email"], values) == (
        "Hi Sam,\n\nI'd like to introduce you to Priya Shah, who looks after us at Goodword. At "
        "Acme we saved 6,000 hours with automations, and I thought of you as Head of Ops at "
        "Globex.\n\nPriya would like a short call to see whether it could help you too. Would "
        "that be all right?\n\nBest,\nDana"
    )
    assert render(DEFAULTS["linkedin"], values) == (
        "Hi Sam! We've been using Goodword at Acme and saved 6,000 hours with automations. I "
        "think it could help you at Globex too — would you be open to a quick intro to Priya "
        "Shah?"
    )


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_no_default_breaks_whatever_fields_are_missing(name: str) -> None:
    # Every subset of the fields, missing as absent, None or blank in turn.
    template = parse(DEFAULTS[name])
    for n, missing in enumerate(
        itertools.chain.from_iterable(
            itertools.combinations(NAMED, k) for k in range(len(NAMED) + 1)
        )
    ):
        blank: str | None = ("", None, "  ")[n % 3]
        values = {k: (blank if k in missing else v) for k, v in FULL.items()}
        text = render(template, with_first_names(values))
        for pattern in BROKEN:
            assert not pattern.search(text), (missing, pattern.pattern, text)


def test_the_owners_ask_by_email_reads_well_with_every_field_and_with_none() -> None:
    assert render(SUBJECTS["ask_email"], SAMPLE) == "A quick favour, Dana?"
    assert render(DEFAULTS["ask_email"], SAMPLE) == (
        "Hi Dana,\n\nIt's been great to see that at Acme Analytics you have saved 600 hours "
        "with automations. Thank you for working with us.\n\nTeams like yours often know "
        "others who would get the same value from Brightwork. Is there someone you'd be "
        "comfortable introducing me to — perhaps Sam Lee? Globex came to mind. The link below "
        "lets you name them and choose how we reach out; nobody is contacted until they "
        "agree.\n\nThanks either way,\nPriya Shah"
    )
    # The rep's voice: the advocate's company is "your company", never "our company".
    assert render(SUBJECTS["ask_email"], {}) == "A quick favour?"
    assert render(DEFAULTS["ask_email"], {}) == (
        "Hi there,\n\nIt's been great to see that at your company you got great results. "
        "Thank you for working with us.\n\nTeams like yours often know others who would get "
        "the same value from it. Is there someone you'd be comfortable introducing me to? The "
        "link below lets you name them and choose how we reach out; nobody is contacted until "
        "they agree.\n\nThanks either way,"
    )


def test_the_suggested_persons_company_alone_still_reads_well() -> None:
    text = render(DEFAULTS["ask_email"], {"person_company": "Globex"})
    assert "introducing me to? Globex came to mind. The link" in text


def test_every_kind_has_a_label_every_email_kind_a_subject_and_samples_cover_every_field() -> None:
    assert set(LABELS) == set(DEFAULTS) == {"blurb", "email", "linkedin", "ask_email"}
    assert set(SUBJECTS) == {"email", "ask_email"}
    assert set(SAMPLE) == set(FIELDS)
    for source in [*DEFAULTS.values(), *SUBJECTS.values()]:
        assert parse(source).fields <= set(FIELDS)


def test_with_nothing_the_fallbacks_stand_in() -> None:
    assert render(DEFAULTS["linkedin"], {}) == (
        "Hi there! We've been using their software at our company and got great results. I "
        "think it could help you too — would you be open to a quick intro to our account "
        "manager?"
    )


def test_a_fallback_of_the_templates_own_and_optional_parts() -> None:
    template = "Hi {person_first_name|friend}[, from {person_company}]!"
    assert render(template, {}) == "Hi friend!"
    assert render(template, {"person_first_name": "Sam"}) == "Hi Sam!"
    assert render(template, {"person_company": "Globex"}) == "Hi friend, from Globex!"
    # A part is all or nothing: one missing field drops the whole part.
    both = "Met[ {person_name} at {person_company}]."
    assert render(both, {"person_name": "Sam"}) == "Met."
    assert render(both, {"person_name": "Sam", "person_company": "Globex"}) == "Met Sam at Globex."


def test_a_fallback_at_the_start_of_a_sentence_gets_its_capital_a_value_is_left_alone() -> None:
    assert render("{rep_name} will call. {rep_name} is kind.", {}) == (
        "Our account manager will call. Our account manager is kind."
    )
    assert render("{product} works.", {"product": "iDesk"}) == "iDesk works."


def test_literal_braces_and_brackets() -> None:
    assert render("{{x}} [[y]] {product}", {"product": "P"}) == "{x} [y] P"


@given(
    st.dictionaries(
        st.sampled_from(sorted(FIELDS)),
        st.text(alphabet="ab{}[]|é1_", max_size=12),
    )
)
def test_values_go_in_as_they_are_and_never_add_fields(values: dict[str, str]) -> None:
    # Braces and brackets in a value are the value's own, not the template language.
    text = render("<{person_name}|{product}>", values)
    person = values.get("person_name") or FIELDS["person_name"]
    product = values.get("product") or FIELDS["product"]
    assert text == f"<{person}|{product}>"


@pytest.mark.parametrize(
    ("source", "where"),
    [
        ("Hi {nobody}", "line 1, column 4: unknown field {nobody}"),
        ("Hi\n  {person_name", "line 2, column 3: a { without its }"),
        ("Hi } there", "line 1, column 4: a } without its {"),
        ("a [b [c] d]", "line 1, column 6: an optional part cannot hold another ["),
        ("a\nb ]", "line 2, column 3: a ] without its ["),
        ("x\n\n [open", "line 3, column 2: a [ without its ]"),
    ],
)
def test_a_broken_template_names_the_line_column_and_reason(source: str, where: str) -> None:
    with pytest.raises(TemplateError) as error:
        parse(source)
    assert str(error.value).startswith(where)


def test_the_fields_a_template_uses() -> None:
    assert parse("{product} [{rep_name}] {product|x}").fields == {"product", "rep_name"}
