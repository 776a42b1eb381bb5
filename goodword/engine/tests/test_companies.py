from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goodword.engine.companies import Mention, Mentions, normalise, one_typo, words


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("Globex Corp.", "globex"),
        ("Globex Corporation", "globex"),
        ("  GLOBEX  ", "globex"),
        ("The Globex Group Inc.", "globex"),
        ("Müller & Söhne GmbH", "muller and sohne"),
        ("Ben & Jerry's", "ben and jerrys"),
        ("AT&T Inc", "at and t"),
        ("The Company", "company"),  # a legal form alone is the name
        ("Inc", "inc"),
        ("—", ""),
    ],
)
def test_normalise(name: str, normal: str) -> None:
    assert normalise(name) == normal


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("globex", "globex", False),
        ("globex", "glovex", True),  # changed
        ("globex", "globexx", True),  # added
        ("globex", "globx", True),  # removed
        ("globex", "golbex", True),  # swapped neighbours
        ("globex", "xlobeg", False),  # swapped far apart
        ("globex", "glbx", False),
        ("globex", "globexxx", False),
    ],
)
def test_one_typo(a: str, b: str, expected: bool) -> None:
    assert one_typo(a, b) is expected
    assert one_typo(b, a) is expected


PROSPECTS = {
    1: "Globex Corporation",
    2: "Initech, Inc.",
    3: "Square",
    4: "Blue Harbor Logistics",
    5: "IBM",
    6: "HP",  # two letters: never alone
    7: "Umbrella Pharmaceuticals GmbH",
}
INDEX = Mentions(PROSPECTS)


def found(text: str) -> list[tuple[int, str, bool]]:
    return [(m.key, m.said, m.exact) for m in INDEX.find(text)]


def test_a_mention_as_written_with_its_legal_form_or_without() -> None:
    text = "My old boss moved to Globex Corp last year; Initech is hiring too."
    assert found(text) == [(1, "Globex", True), (2, "Initech", True)]


def test_a_name_of_several_words_in_any_case_and_across_punctuation() -> None:
    assert found("we met the blue-harbor logistics people") == [(4, "blue-harbor logistics", True)]


def test_a_typo_in_a_long_word_of_a_longer_name_counts_and_says_so() -> None:
    assert found("Talked to someone at Globx and later at Globex.") == [(1, "Globex", True)]
    assert found("Blue Harbour Logistics") == [(4, "Blue Harbour Logistics", False)]
    assert found("Someone at Umbrela Pharmaceuticals asked") == [
        (7, "Umbrela Pharmaceuticals", False)
    ]
    # One typo per name, no more.
    assert found("Umbrela Pharmaceutcals") == []


def test_short_names_and_single_words_need_care() -> None:
    assert found("a square deal for hp") == []
    assert found("Square and IBM both use it") == [(3, "Square", True), (5, "IBM", True)]
    assert found("Sqaure and Globexx: typos in names of one word are not trusted") == []


def test_nothing_is_found_in_words_that_merely_contain_a_name() -> None:
    assert found("Globexian culture and Initechnology") == []


def test_each_prospect_is_named_once_at_its_first_exact_mention() -> None:
    mentions = INDEX.find(
        "Umbrela Pharmaceuticals, then Umbrella Pharmaceuticals twice: Umbrella Pharmaceuticals"
    )
    assert mentions == [Mention(7, "Umbrella Pharmaceuticals", 30, True)]


@given(
    name=st.text(alphabet="abcdefghij", min_size=6, max_size=10),
    before=st.sampled_from(["", "We spoke with ", "Talk to "]),
)
def test_a_prospect_is_found_in_a_text_that_names_it(name: str, before: str) -> None:
    title = name.capitalize()
    index = Mentions({9: f"{title} Ltd"})
    assert [(m.key, m.said, m.exact) for m in index.find(f"{before}{title}.")] == [(9, title, True)]


def every_mention(names: dict[int, str], text: str) -> list[tuple[int, str, bool]]:
    """What Mentions.find must give, the slow way: every name tried at every word."""
    tokens = words(text)
    found: dict[int, tuple[int, str, bool]] = {}
    for key, name in names.items():
        normal = tuple(normalise(name).split())
        if not normal or (len(normal) == 1 and len(normal[0]) < 3):
            continue
        for i in range(len(tokens) - len(normal) + 1):
            said = text[tokens[i][1] : tokens[i + len(normal) - 1][2]]
            got = [w for w, _, _ in tokens[i : i + len(normal)]]
            typos = [
                (a, b) for a, b in zip(got, normal, strict=True) if a != b
            ]  # fmt: skip
            if len(typos) > 1 or (typos and len(normal) == 1):
                continue
            if typos and (len(typos[0][1]) < 6 or not one_typo(*typos[0])):
                continue
            if len(normal) == 1 and not said[:1].isupper():
                continue
            if key not in found or (not typos and not found[key][2]):
                found[key] = (tokens[i][1], said, not typos)
    ordered = sorted(found.items(), key=lambda kv: (kv[1][0], kv[0]))
    return [(key, said, exact) for key, (_, said, exact) in ordered]


WORDS = ["harbor", "harbour", "hrabor", "globex", "globx", "logistics", "logistic", "blue", "Blue"]
# Words of a small alphabet: many of them one typo apart, in every way.
ANY_WORD = st.one_of(st.sampled_from(WORDS), st.text(alphabet="abC", min_size=4, max_size=7))


@given(
    names=st.dictionaries(
        st.integers(0, 30),
        st.lists(ANY_WORD, min_size=1, max_size=3).map(" ".join),
        max_size=12,
    ),
    text=st.lists(st.one_of(ANY_WORD, st.sampled_from(["and", "at", "."])), max_size=14).map(
        " ".join
    ),
)
def test_the_index_finds_what_trying_every_name_at_every_word_finds(
    names: dict[int, str], text: str
) -> None:
    found = [(m.key, m.said, m.exact) for m in Mentions(names).find(text)]
    assert found == every_mention(names, text)
