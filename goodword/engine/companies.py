"""Company names as people write them: the same company under "Globex Corp.", "globex" and
"Globex Corporation", and prospects named in free text (an advocate's messages, tickets and call
notes). Values in, values out.

A name is normalised by case, accents, "&" and punctuation, with legal forms ("Inc", "GmbH",
"Ltd") and a leading "The" dropped. A mention is a run of words in the text whose normal form
is a prospect's: exactly, or with one letter wrong, missing, extra or swapped in one word of
six letters or more of a name of several words (shorter words, and names of one word, would
match ordinary words). A prospect whose name is a single word counts only where the text writes
it exactly and with a capital, so "a square deal" does not mention Square; names of one or two
letters never count alone.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

LEGAL_FORMS = frozenset(
    [
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "llc",
        "llp",
        "lp",
        "ltd",
        "limited",
        "plc",
        "gmbh",
        "mbh",
        "ag",
        "kg",
        "ohg",
        "ug",
        "se",
        "sa",
        "sas",
        "sarl",
        "srl",
        "spa",
        "bv",
        "nv",
        "oy",
        "oyj",
        "ab",
        "as",
        "asa",
        "aps",
        "kk",
        "pty",
        "pte",
        "bhd",
        "sdn",
        "group",
        "holding",
        "holdings",
    ]
)
TYPO_MIN_LETTERS = 6  # words this long may carry one typo
NEAR_MEMO = 100_000  # words of texts whose near names' words are remembered
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


def words(text: str) -> list[tuple[str, int, int]]:
    """The words of `text` in normal form, each with its start and end in `text`."""
    out = []
    for match in _WORD.finditer(text.replace("&", " and ")):
        word = _plain(match.group())
        if word:
            out.append((word, match.start(), match.end()))
    return out


def normalise(name: str) -> str:
    """The normal form of a company name ("" when nothing is left)."""
    tokens = [w for w, _, _ in words(name)]
    if len(tokens) > 1 and tokens[0] == "the":
        tokens.pop(0)
    while len(tokens) > 1 and tokens[-1] in LEGAL_FORMS:
        tokens.pop()
    return " ".join(tokens)


@dataclass(frozen=True)
class Mention:
    key: int  # the prospect's key, as given
    said: str  # the words as the text writes them
    start: int
    exact: bool  # False: with one typo


class Mentions:
    """Find prospects named in texts. Built once for many texts, as three indexes: the names
    of one word; the names of several words by their first word, then their second; and,
    for typos, every first or second word of six letters or more by itself and by its
    letters less one. Words within one typo of a text's word are then found with a few
    lookups, and only the names whose first two words fit the text's are compared word by
    word, not every name sharing a first word (a thousand at a million prospects)."""

    def __init__(self, names: Mapping[int, str]) -> None:
        self._names: dict[int, tuple[str, ...]] = {}
        self._single: dict[str, list[int]] = defaultdict(list)
        by_first: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        long_words: set[str] = set()
        for key, name in names.items():
            tokens = tuple(normalise(name).split())
            if not tokens or (len(tokens) == 1 and len(tokens[0]) < 3):
                continue
            self._names[key] = tokens
            if len(tokens) == 1:
                self._single[tokens[0]].append(key)
                continue
            by_first[tokens[0]][tokens[1]].append(key)
            long_words.update(w for w in tokens[:2] if len(w) >= TYPO_MIN_LETTERS)
        self._by_first = {first: dict(by_second) for first, by_second in by_first.items()}
        # Two words one typo apart share a form: one of them, or both less one letter.
        self._memo: dict[str, list[str]] = {}
        self._forms: dict[str, list[str]] = defaultdict(list)
        for word in long_words:
            self._forms[word].append(word)
            for form in _deletions(word):
                self._forms[form].append(word)

    def find(self, text: str) -> list[Mention]:
        """Each prospect named in `text`, once, at its first (exact before typo) mention."""
        found: dict[int, Mention] = {}
        tokens = words(text)
        for i, (_, start, _) in enumerate(tokens):
            for key in self._candidates(tokens, i):
                name = self._names[key]
                exact = _matches(name, tokens, i)
                if exact is None:
                    continue
                end = tokens[i + len(name) - 1][2]
                said = text[start:end]
                if len(name) == 1 and (not exact or not said[:1].isupper()):
                    continue
                if key not in found or (exact and not found[key].exact):
                    found[key] = Mention(key, said, start, exact)
        return sorted(found.values(), key=lambda m: (m.start, m.key))

    def _candidates(self, tokens: list[tuple[str, int, int]], i: int) -> Iterator[int]:
        """The names that may start at the i-th word: exactly, or with one typo in their
        first or second word (a typo further on leaves the first two exact)."""
        word = tokens[i][0]
        yield from self._single.get(word, ())
        if i + 1 == len(tokens):
            return
        following = tokens[i + 1][0]
        by_second = self._by_first.get(word)
        if by_second is not None:
            yield from by_second.get(following, ())
            for second in self._near(following):
                yield from by_second.get(second, ())
        for first in self._near(word):
            yield from self._by_first.get(first, {}).get(following, ())

    def _near(self, word: str) -> list[str]:
        """The long first or second words of names one typo from `word`, remembered for the
        next texts (the words of messages repeat; the memo is dropped when it grows large)."""
        found = self._memo.get(word)
        if found is None:
            found = []
            if len(word) >= TYPO_MIN_LETTERS - 1:
                seen = {word}
                for form in (word, *_deletions(word)):
                    for other in self._forms.get(form, ()):
                        if other not in seen and one_typo(word, other):
                            seen.add(other)
                            found.append(other)
            if len(self._memo) >= NEAR_MEMO:
                self._memo.clear()
            self._memo[word] = found
        return found


def _matches(name: tuple[str, ...], tokens: list[tuple[str, int, int]], at: int) -> bool | None:
    """True when the words from `at` are `name` exactly, False with one typo in all, None
    when they are not it."""
    if at + len(name) > len(tokens):
        return None
    typos = 0
    for expected, (word, _, _) in zip(name, tokens[at : at + len(name)], strict=False):
        if word == expected:
            continue
        if len(expected) < TYPO_MIN_LETTERS or not one_typo(word, expected):
            return None
        typos += 1
        if typos > 1:
            return None
    return typos == 0


def one_typo(a: str, b: str) -> bool:
    """Whether `a` and `b` differ by exactly one letter changed, added, removed, or two
    neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )  # fmt: skip
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = next((i for i, (x, y) in enumerate(zip(short, long, strict=False)) if x != y), len(short))
    return short[i:] == long[i + 1 :]


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _plain(word: str) -> str:
    if word.isascii():  # most words: no accents to take off
        return word.lower().replace("'", "")
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if c.isalnum())
