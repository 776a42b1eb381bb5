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
from collections.abc import Iterable, Mapping
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
    """Find prospects named in texts. Built once for many texts: an index from each name's
    first word (and, for typos, from its first word's letters less one) to the names."""

    def __init__(self, names: Mapping[int, str]) -> None:
        self._names: dict[int, tuple[str, ...]] = {}
        self._by_first: dict[str, list[int]] = defaultdict(list)
        self._by_deletion: dict[str, list[int]] = defaultdict(list)
        for key, name in names.items():
            tokens = tuple(normalise(name).split())
            if not tokens or (len(tokens) == 1 and len(tokens[0]) < 3):
                continue
            self._names[key] = tokens
            self._by_first[tokens[0]].append(key)
            if len(tokens) > 1 and len(tokens[0]) >= TYPO_MIN_LETTERS:  # typos: see find
                for variant in _deletions(tokens[0]):
                    self._by_deletion[variant].append(key)

    def find(self, text: str) -> list[Mention]:
        """Each prospect named in `text`, once, at its first (exact before typo) mention."""
        found: dict[int, Mention] = {}
        tokens = words(text)
        for i, (word, start, _) in enumerate(tokens):
            for key in self._candidates(word):
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

    def _candidates(self, word: str) -> Iterable[int]:
        keys = dict.fromkeys(self._by_first.get(word, ()))
        if len(word) >= TYPO_MIN_LETTERS - 1:  # one letter short of a long name, perhaps
            keys.update(dict.fromkeys(self._by_deletion.get(word, ())))
            for variant in _deletions(word):
                keys.update(dict.fromkeys(self._by_deletion.get(variant, ())))
                keys.update(dict.fromkeys(self._by_first.get(variant, ())))
        return keys


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
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if c.isalnum())
