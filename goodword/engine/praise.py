"""How much a customer's message reads as praise, and the cues that say why.

A lexicon scorer in plain Python: the phrases and weights live in `data/praise_lexicon.json`.
The score drives whether Goodword suggests asking for a referral, so it is built for precision:
any unresolved complaint, negated praise or sarcasm damps the praise multiplicatively, and a
clause after "but", "however" or "unfortunately" outweighs the one before it.

For speed the whole lexicon is compiled into one regular expression (a character trie), so
Python only looks at the phrases and punctuation it matched, never at every word.

Values in, values out: no Django, no I/O beyond reading the packaged lexicon once.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import Any

__all__ = [
    "LABELS",
    "THRESHOLD",
    "Evaluation",
    "LabelledMessage",
    "cues",
    "evaluate",
    "is_praise",
    "load_labelled",
    "score",
]

THRESHOLD: float = 0.5
"""Default decision threshold, chosen on the dev set for precision first."""

LABELS = frozenset({"praise", "neutral", "complaint", "mixed", "sarcastic"})

# Private-use characters are removed from the input, so they can carry markers.
_QUOTE_MARK = "\ue000"
_SARCASM_MARK = "\ue001"
_SPECIAL_PHRASES = {"/s": _SARCASM_MARK}
_DISPLAY = str.maketrans({_SARCASM_MARK: "/s"})

_REPLACE = tuple(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2033": '"',
        "\u200d": "",  # zero-width joiner inside emoji sequences
        "\ufe0f": "",  # emoji presentation selector: "\u2764\ufe0f" is "\u2764"
        "\u2640": "",
        "\u2642": "",
    }.items()
)
_UNWANTED = re.compile("[\ue000-\uf8ff\U0001f3fb-\U0001f3ff]")  # private use, skin tones
_DASH = re.compile(r"\s[-\u2013\u2014]+\s|[\u2013\u2014]|\n+")
_NOT = re.compile(
    r"\b(can|could|would|should|do|does|did|is|was|are|were|has|have|had|will|must) not\b"
)
_NOT_CONTRACTED = {"can": "can't", "will": "won't"}
_SLASH_S = re.compile(r"(?<!\S)/s(?![\w/])")
_RATING = re.compile(
    r"\b(?:review|rating|rated|rate|score|scored|nps|csat|gave|give|giving)\b[^.!?\d]{0,15}?"
    r"(\d+(?:\.\d+)?)\s*(?:/|out of)\s*(5|10)\b"
)
_QUOTED = re.compile(r"\"([^\"\n]{1,40})\"|(?<![\w'])'([^'\n]{1,40})'(?![\w'])")
_CAPS = re.compile(r"[A-Z]{3}")
_CAPS_WORD = re.compile(r"\b[A-Z][A-Z']{2,}\b")
_SHOUTING = re.compile(r"\b[A-Z]{2,}(?:[\s,.!?]+[A-Z']{2,}){2,}\b")
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[.!?]++(?![^\s\"')\]])|[,;:]|[^\x00-\x7f\w\s]")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")

# Inside a phrase, what may stand between two words ("no-brainer", "top notch") or before a
# comma ("great, thanks"); a phrase ending in a word must end where the word ends.
_WORD_GAP = r"[^\w,;:.!?\ue000\ue001\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]++"
_PUNCT_GAP = r"\s*+"
_WORD_END = r"(?![^\W_]|'[^\W_])"
_ANY_WORD = r"[^\W_]++(?:'[^\W_]+)*+"
_NUMBER = r"\d++(?:\.\d+)?+"
# A run of .!? ends a sentence when a space, a closing quote or the end follows. Matching only
# at the start of a run, without backtracking, keeps "!!!...x" linear.
_SENTENCE = r"(?<![.!?])[.!?]++(?![^\s\"')\]])"
_SENTENCE_END = frozenset(".!?")
_CLAUSE_END = frozenset(",;:")


@dataclass(frozen=True, slots=True)
class _Entry:
    kind: str
    weight: float
    pattern: tuple[str, ...]
    signed: float = field(init=False)  # the contribution when matched plainly
    label: str = field(init=False)  # the word the cue starts with

    def __post_init__(self) -> None:
        signed = self.weight if self.kind in _ADDING else -self.weight
        object.__setattr__(self, "signed", signed)
        object.__setattr__(self, "label", _LABELS.get(self.kind, self.kind))


_ADDING = frozenset({"praise", "resolution", "maybe_sarcasm"})
_LABELS = {"maybe_sarcasm": "praise", "resolution": "resolved"}


@dataclass(frozen=True, slots=True)
class _Lexicon:
    events: re.Pattern[str]
    exact: Mapping[tuple[str, ...], _Entry]
    wild: Mapping[str, tuple[_Entry, ...]]
    scale: Mapping[str, float]
    fillers: frozenset[str]
    openers: frozenset[str]
    opener_prefixes: frozenset[str]
    reporting: re.Pattern[str]
    caps_anger: frozenset[str]
    seen: dict[str, _Entry | None] = field(default_factory=dict)


_SEEN_LIMIT = 50_000
_UNSEEN = _Entry("unseen", 0.0, ())


@dataclass(slots=True)
class _Hit:
    pos: int  # character offsets in the normalised text; -1 for whole-text cues
    end: int
    kind: str  # praise, complaint, negated, cleared, resolution, sarcasm, maybe_sarcasm, ...
    weight: float  # signed contribution
    phrase: str
    sentence: int
    label: str


@dataclass(slots=True)
class _Scan:
    text: str
    hits: list[_Hit] = field(default_factory=list)
    pivots: list[int] = field(default_factory=list)
    questions: set[int] = field(default_factory=set)
    quotes: list[tuple[int, int, int]] = field(default_factory=list)  # start, end, sentence
    openers: set[int] = field(default_factory=set)  # hit positions that open a sentence


@dataclass(slots=True)
class _State:
    sentence: int = 0
    sentence_start: int = 0
    clause_start: int = 0
    negator: int = -1  # start of the open negator, -1 when none
    negator_end: int = 0
    boost: float = 1.0
    boost_end: int = -1  # end of the open intensifier, -1 when none
    concessive: bool = False
    quote_open: int = -1


# ---------------------------------------------------------------------------------------------
# Lexicon


def _normalise(text: str) -> str:
    if not text.isascii():
        for old, new in _REPLACE:  # a few str.replace scans beat one str.translate here
            if old in text:
                text = text.replace(old, new)
        if _UNWANTED.search(text):
            text = _UNWANTED.sub("", text)
    elif "`" in text:
        text = text.replace("`", "'")
    text = text.lower()
    if " not" in text:
        text = _NOT.sub(lambda m: _NOT_CONTRACTED.get(m[1], m[1] + "n't"), text)
    if "\n" in text or " -" in text or not text.isascii():
        text = _DASH.sub(" , ", text)
    if "/s" in text:
        text = _SLASH_S.sub(f" {_SARCASM_MARK} ", text)
    return text


def _phrase_tokens(phrase: str) -> tuple[str, ...]:
    if phrase in _SPECIAL_PHRASES:
        return (_SPECIAL_PHRASES[phrase],)
    tokens: list[str] = []
    for part in phrase.split():
        tokens.extend([part] if part in ("*", "#") else _TOKEN.findall(_normalise(part)))
    return tuple(tokens)


def _lexicon_entries(raw: Mapping[str, Any]) -> Iterator[tuple[str, str, float]]:
    for kind in ("praise", "complaint", "resolution", "request", "sarcasm"):
        for phrase, weight in raw[kind].items():
            yield phrase, kind, float(weight)
    for phrase, weight in raw["sarcasm_if_negative"].items():
        yield phrase, "maybe_sarcasm", float(weight)
    for phrase, weight in raw["emoji"].items():
        yield phrase, "praise" if weight > 0 else "complaint", abs(float(weight))
    for kind in ("expected", "neutral", "negators"):
        for phrase in raw[kind]:
            yield phrase, kind.removesuffix("s"), 0.0
    yield from ((p, "intensifier", float(w)) for p, w in raw["intensifiers"].items())
    yield from ((p, "pivot_after", float(w)) for p, w in raw["pivots"]["after"].items())
    yield from ((p, "pivot_sentence", 0.0) for p in raw["pivots"]["sentence"])
    yield from ((p, "concessive", 0.0) for p in raw["pivots"]["concessive"])


def _entries(raw: Mapping[str, Any]) -> list[_Entry]:
    """Every phrase as tokens; a phrase listed twice, in any section, is a data error."""
    seen: dict[tuple[str, ...], str] = {}
    entries = []
    for phrase, kind, weight in _lexicon_entries(raw):
        pattern = _phrase_tokens(phrase)
        if not pattern or pattern[0] in ("*", "#"):
            raise ValueError(f"praise lexicon: unusable phrase {phrase!r}")
        if pattern in seen:
            raise ValueError(f"praise lexicon: {phrase!r} is in {seen[pattern]} and {kind}")
        seen[pattern] = kind
        entries.append(_Entry(kind, weight, pattern))
    return entries


def _is_word(token: str) -> bool:
    return token[0].isalnum() or token in ("*", "#")


def _units(pattern: Sequence[str]) -> Iterator[str | tuple[str]]:
    """A phrase as trie keys: literal characters, and 1-tuples holding a regular expression."""
    for index, token in enumerate(pattern):
        if index:
            both_words = _is_word(token) and _is_word(pattern[index - 1])
            yield (_WORD_GAP if both_words else _PUNCT_GAP,)
        if token in ("*", "#"):
            yield (_ANY_WORD if token == "*" else _NUMBER,)
        else:
            yield from token
    if _is_word(pattern[-1]):
        yield (_WORD_END,)


def _trie_regex(node: Mapping[Any, Any]) -> str:
    """Longer phrases first: the end-of-word check and the end of a phrase are tried last."""
    branches: list[str] = []
    last: list[str] = []
    for key, child in node.items():
        if key is None:
            continue
        unit = key[0] if isinstance(key, tuple) else re.escape(key)
        (last if key == (_WORD_END,) else branches).append(unit + _trie_regex(child))
    if None in node:
        last.append("")
    branches += last
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"


def _events_regex(entries: Iterable[_Entry]) -> re.Pattern[str]:
    """Phrases from a character trie, then sentence ends, clause ends, quote marks and emoji.
    The word-boundary test comes first so that positions inside words fail at once."""
    words: dict[Any, Any] = {}
    symbols = [_QUOTE_MARK, *sorted(_CLAUSE_END)]
    for entry in entries:
        if not _is_word(entry.pattern[0]):
            symbols.append("".join(entry.pattern))
            continue
        node = words
        for unit in _units(entry.pattern):
            node = node.setdefault(unit, {})
        node[None] = {}
    trie = "|".join(re.escape(c) + _trie_regex(words[c]) for c in sorted(words))
    singles = _blocks(symbol for symbol in symbols if len(symbol) == 1 and not symbol.isascii())
    singles += "".join(re.escape(symbol) for symbol in symbols if symbol.isascii())
    longer = [re.escape(symbol) for symbol in symbols if len(symbol) > 1]
    return re.compile("|".join([rf"\b(?<!\w')(?:{trie})", _SENTENCE, *longer, f"[{singles}]"]))


def _blocks(chars: Iterable[str]) -> str:
    """A character class of whole 256-code-point blocks: a few ranges test faster than a list
    of emoji; an emoji matched this way but absent from the lexicon is ignored."""
    blocks = sorted({ord(char) >> 8 for char in chars})
    ranges: list[list[int]] = []
    for block in blocks:
        if ranges and ranges[-1][1] == block - 1:
            ranges[-1][1] = block
        else:
            ranges.append([block, block])
    return "".join(
        re.escape(chr(low << 8)) + "-" + re.escape(chr((high << 8) + 255)) for low, high in ranges
    )


def _lexicon_from(raw: Mapping[str, Any]) -> _Lexicon:
    entries = _entries(raw)
    wild: dict[str, list[_Entry]] = {}
    for entry in entries:
        if "*" in entry.pattern or "#" in entry.pattern:
            wild.setdefault(entry.pattern[0], []).append(entry)
    words = "|".join(re.escape(w) for w in raw["reporting_words"])
    return _Lexicon(
        events=_events_regex(entries),
        exact={entry.pattern: entry for entry in entries},
        wild={first: tuple(found) for first, found in wild.items()},
        scale={k: float(v) for k, v in raw["scale"].items()},
        fillers=frozenset(raw["negation_fillers"]),
        openers=frozenset(raw["openers"]),
        opener_prefixes=frozenset(raw["opener_prefixes"]),
        reporting=re.compile(rf"\b(?:{words})\W*$"),
        caps_anger=frozenset(raw["caps_anger"]),
    )


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"praise lexicon: repeated keys {repeated}")
    return dict(pairs)


def _parse_lexicon(source: str) -> _Lexicon:
    return _lexicon_from(json.loads(source, object_pairs_hook=_unique_keys))


@cache
def _lexicon() -> _Lexicon:
    source = resources.files("goodword.engine").joinpath("data", "praise_lexicon.json")
    return _parse_lexicon(source.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# Cues found on the characters: quotes, ratings, capitals


def _may_quote(norm: str) -> bool:
    """Cheaper than the quotation pattern: a double quote, or a single one opening a word."""
    if '"' in norm:
        return True
    at = norm.find("'")
    while at >= 0:
        if at == 0 or not (norm[at - 1].isalnum() or norm[at - 1] in "_'"):
            return True
        at = norm.find("'", at + 1)
    return False


def _mark_quotes(norm: str, lex: _Lexicon) -> str:
    """Wrap short quotations that are not reported speech in markers: scare-quote candidates."""
    if not _may_quote(norm):
        return norm

    def mark(match: re.Match[str]) -> str:
        inner = match[1] or match[2] or ""
        before = norm[max(0, match.start() - 24) : match.start()]
        if len(inner.split()) > 3 or lex.reporting.search(before):
            return match[0]
        return f" {_QUOTE_MARK} {inner} {_QUOTE_MARK} "

    return _QUOTED.sub(mark, norm)


def _rating_hits(norm: str) -> list[_Hit]:
    if "/" not in norm and "out of" not in norm:
        return []
    hits = []
    for match in _RATING.finditer(norm):
        value, out_of = float(match[1]), float(match[2])
        share = value / out_of
        weight = 1.5 if share >= 0.85 else 1.0 if share >= 0.75 else -1.0 if share <= 0.6 else 0.0
        if weight and value <= out_of:
            kind = "praise" if weight > 0 else "complaint"
            phrase = f"{match[1]}/{match[2]}"
            hits.append(_Hit(-1, -1, kind, weight, phrase, -1, "rating"))
    return hits


def _caps_hits(text: str, lex: _Lexicon, has_negative: bool) -> list[_Hit]:
    """Shouting reads as anger only next to a problem: 'THANK YOU SO MUCH' stays praise."""
    if not _CAPS.search(text):
        return []
    hits = [
        _Hit(-1, -1, "complaint", -lex.scale["caps_word"], word, -1, "caps")
        for word in _CAPS_WORD.findall(text)
        if word.lower() in lex.caps_anger
    ]
    if has_negative or hits:
        hits.extend(
            _Hit(-1, -1, "complaint", -lex.scale["shouting"], run, -1, "caps")
            for run in _SHOUTING.findall(text)
        )
    return hits


# ---------------------------------------------------------------------------------------------
# Scanning: one pass over the matched phrases and punctuation


def _lookup(text: str, lex: _Lexicon) -> _Entry | None:
    entry = _lookup_tokens(text, lex)
    if len(lex.seen) < _SEEN_LIMIT:  # matched spellings repeat; the bound keeps memory flat
        lex.seen[text] = entry
    return entry


def _lookup_tokens(text: str, lex: _Lexicon) -> _Entry | None:
    tokens = tuple(_TOKEN.findall(text))
    entry = lex.exact.get(tokens)
    if entry is not None or not tokens:
        return entry
    for wild in lex.wild.get(tokens[0], ()):
        if len(wild.pattern) == len(tokens) and all(
            want == got or (want == "*" and got[0].isalnum()) or (want == "#" and got[0].isdigit())
            for want, got in zip(wild.pattern, tokens, strict=True)
        ):
            return wild
    return None


def _words_between(text: str, start: int, end: int, lex: _Lexicon, limit: float) -> int:
    """Content words between two offsets, counted no further than `limit`."""
    count = 0
    for word in _WORD.finditer(text, start, end):
        if word[0] not in lex.fillers:
            count += 1
            if count >= limit:
                break
    return count


def _end_sentence(match: re.Match[str], scan: _Scan, state: _State) -> None:
    if "?" in match[0]:
        scan.questions.add(state.sentence)
    state.sentence += 1
    state.sentence_start = state.clause_start = match.end()
    state.negator, state.boost_end, state.concessive = -1, -1, False


def _end_clause(at: int, scan: _Scan, state: _State) -> None:
    if state.concessive:
        scan.pivots.append(at)
        state.concessive = False
    state.clause_start = at + 1
    state.negator, state.boost_end = -1, -1


def _toggle_quote(at: int, scan: _Scan, state: _State) -> None:
    if state.quote_open < 0:
        state.quote_open = at
    else:
        scan.quotes.append((state.quote_open, at, state.sentence))
        state.quote_open = -1


def _close_windows(start: int, scan: _Scan, state: _State, lex: _Lexicon) -> None:
    """Negation and intensifiers reach a few content words forward, never past punctuation."""
    scale = lex.scale
    if state.negator >= 0:
        window = scale["negation_window"]
        if _words_between(scan.text, state.negator_end, start, lex, window) >= window:
            state.negator = -1
    if state.boost_end >= 0:
        window = scale["intensifier_window"]
        if _words_between(scan.text, state.boost_end, start, lex, window) >= window:
            state.boost_end = -1


def _on_phrase(match: re.Match[str], lex: _Lexicon, scan: _Scan, state: _State) -> None:
    entry = lex.seen.get(match[0], _UNSEEN)
    if entry is _UNSEEN:
        entry = _lookup(match[0], lex)
    if entry is None or entry.kind == "neutral":
        return
    start, end = match.span()
    if state.negator >= 0 or state.boost_end >= 0:
        _close_windows(start, scan, state, lex)
    kind = entry.kind
    if kind == "negator":
        state.negator, state.negator_end = start, end
    elif kind == "intensifier":
        state.boost, state.boost_end = entry.weight, end
    elif kind in ("pivot_after", "pivot_sentence", "concessive"):
        _pivot(entry, match, scan, state)
    else:
        hit = _hit(entry, match, lex, state)
        if hit is not None:
            if hit.phrase in lex.openers:
                _note_opener(hit, scan, state, lex)
            scan.hits.append(hit)
        state.negator, state.boost_end = -1, -1


def _pivot(entry: _Entry, match: re.Match[str], scan: _Scan, state: _State) -> None:
    state.negator = -1
    start, text = match.start(), scan.text
    following = text[match.end() : match.end() + 3].lstrip()
    at_end = not following or following[0] in ",;:.!?"
    if entry.kind == "pivot_sentence":
        scan.pivots.append(state.sentence_start)
    elif entry.kind == "pivot_after":
        scan.pivots.append(start)
        if entry.weight:
            weight, sentence = -entry.weight, state.sentence
            scan.hits.append(
                _Hit(start, match.end(), "contrast", weight, match[0], sentence, "contrast")
            )
    elif not _WORD.search(text, state.sentence_start, start):
        state.concessive = True  # "Although setup was slow, ..." concedes the first clause
    elif at_end:
        scan.pivots.append(state.clause_start)  # "... the alerts though, ..." turns this clause
    elif entry.pattern[0] not in ("while", "whilst"):
        scan.pivots.append(start)


def _hit(entry: _Entry, match: re.Match[str], lex: _Lexicon, state: _State) -> _Hit | None:
    start, end = match.span()
    boost = state.boost if state.boost_end >= 0 else 1.0
    if state.negator >= 0 and entry.kind not in ("sarcasm", "request"):
        return _negated(entry, match.string[state.negator : end], start, end, lex, state)
    if entry.kind == "expected":
        return None
    weight = entry.signed * boost
    return _Hit(start, end, entry.kind, weight, match[0], state.sentence, entry.label)


def _negated(
    entry: _Entry, phrase: str, start: int, end: int, lex: _Lexicon, state: _State
) -> _Hit:
    """'not great' is a complaint; 'no bugs' clears the problem without becoming praise."""
    if entry.kind == "complaint":
        return _Hit(start, end, "cleared", 0.0, phrase, state.sentence, "negated")
    factor = {
        "expected": lex.scale["negated_expected"],
        "resolution": lex.scale["negated_resolution"],
    }.get(entry.kind, lex.scale["negated_praise"] * max(entry.weight, 0.5))
    return _Hit(start, end, "negated", -factor, phrase, state.sentence, "negated")


def _note_opener(hit: _Hit, scan: _Scan, state: _State, lex: _Lexicon) -> None:
    """'Great, the sync failed again.': a bare opener may be sarcasm, decided later."""
    if hit.kind != "praise":
        return
    following = scan.text[hit.end : hit.end + 3].lstrip()
    if following and following[0] in ",;:.!":
        words = _WORD.finditer(scan.text, state.sentence_start, hit.pos)
        if all(word[0] in lex.opener_prefixes for word in islice(words, 3)):
            scan.openers.add(hit.pos)


def _scan(norm: str, lex: _Lexicon) -> _Scan:
    scan, state = _Scan(norm), _State()
    for match in lex.events.finditer(norm):
        first = norm[match.start()]
        if first in _SENTENCE_END:
            _end_sentence(match, scan, state)
        elif first in _CLAUSE_END:
            _end_clause(match.start(), scan, state)
        elif first == _QUOTE_MARK:
            _toggle_quote(match.start(), scan, state)
        else:
            _on_phrase(match, lex, scan, state)
    return scan


# ---------------------------------------------------------------------------------------------
# Weighing the hits


def _clear_resolved(scan: _Scan, lex: _Lexicon) -> None:
    """A problem fixed in the same sentence is no longer a complaint: 'the bug was fixed'."""
    pending: list[_Hit] = []
    sentence, resolved_at, resolved_end = -1, -1, -1
    for hit in scan.hits:
        if hit.sentence != sentence:
            pending, sentence, resolved_at = [], hit.sentence, -1
        if hit.kind == "resolution":
            for problem in pending:
                problem.kind, problem.weight = "cleared", 0.0
            pending, resolved_at, resolved_end = [], hit.pos, hit.end
        elif hit.kind == "complaint":
            if resolved_at >= 0 and _just_after(scan, resolved_at, resolved_end, hit, lex):
                hit.kind, hit.weight = "cleared", 0.0
                continue
            resolved_at = -1  # later problems are further away, or past the same pivot
            pending.append(hit)


def _just_after(scan: _Scan, resolved_at: int, resolved_end: int, hit: _Hit, lex: _Lexicon) -> bool:
    """'Thanks for fixing the export issue': the problem named right after the fix."""
    reach = lex.scale["resolution_reach"]
    if _words_between(scan.text, resolved_end, hit.pos, lex, reach) >= reach:
        return False
    return not _pivot_between(scan.pivots, resolved_at, hit.pos)


def _pivot_between(pivots: Sequence[int], low: int, high: int) -> bool:
    """Whether a pivot lies in (low, high]."""
    low, high = min(low, high), max(low, high)
    index = bisect_right(pivots, low)
    return index < len(pivots) and pivots[index] <= high


def _discount(scan: _Scan, scale: Mapping[str, float]) -> bool:
    """Praise inside questions counts little; anything before a pivot counts less."""
    asked = False
    before = scale["before_pivot"]
    for hit in scan.hits:
        if hit.weight > 0 and hit.sentence in scan.questions:
            hit.weight *= scale["question"]
            asked = True
        later = len(scan.pivots) - bisect_right(scan.pivots, hit.pos)
        if later:
            hit.weight *= before ** min(later, 3)
    return asked


def _negatives_by_sentence(hits: Sequence[_Hit]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for hit in hits:
        if hit.weight < 0 and hit.kind != "maybe_sarcasm":
            found.setdefault(hit.sentence, []).append(hit.pos)
    return found


def _near_problem(hit: _Hit, negatives: Mapping[int, list[int]], pivots: Sequence[int]) -> bool:
    """A problem in the same or a neighbouring sentence, not across a contrast."""
    for sentence in (hit.sentence - 1, hit.sentence, hit.sentence + 1):
        positions = negatives.get(sentence, [])
        index = bisect_right(positions, hit.pos)
        nearest = positions[max(index - 1, 0) : index + 1]
        if any(not _pivot_between(pivots, hit.pos, pos) for pos in nearest):
            return True
    return False


def _resolve_sarcasm(scan: _Scan, scale: Mapping[str, float]) -> None:
    """'Just what I needed' is praise alone and sarcasm next to a problem."""
    negatives = _negatives_by_sentence(scan.hits)
    for hit in scan.hits:
        if hit.kind == "sarcasm":
            hit.weight = -abs(hit.weight) * scale["sarcasm"]
        elif hit.kind == "maybe_sarcasm" and _near_problem(hit, negatives, scan.pivots):
            hit.kind, hit.label, hit.weight = "sarcasm", "sarcasm", -scale["sarcasm"]


def _scare_quotes(scan: _Scan, scale: Mapping[str, float]) -> None:
    """A short quotation that is not reported speech mocks its words: the 'quick' fix."""
    has_negative = any(hit.weight < 0 or hit.kind == "maybe_sarcasm" for hit in scan.hits)
    positions = [hit.pos for hit in scan.hits]
    mocks = []
    for start, end, sentence in scan.quotes:
        inside = scan.hits[bisect_right(positions, start) : bisect_right(positions, end)]
        praised = [hit for hit in inside if hit.weight > 0]
        if not (praised or has_negative):
            continue
        for hit in praised:
            hit.kind, hit.weight = "quoted", 0.0
        phrase = '"' + scan.text[start + 1 : end].strip() + '"'
        mocks.append(
            _Hit(start, end, "scare_quote", -scale["scare_quote"], phrase, sentence, "sarcasm")
        )
    if mocks:
        scan.hits = sorted(scan.hits + mocks, key=lambda hit: hit.pos)


def _mark_openers(scan: _Scan) -> None:
    for hit in scan.hits:
        if hit.pos in scan.openers and hit.kind == "praise":
            hit.kind = "maybe_sarcasm"


def _analyse(text: str, *, full: bool) -> tuple[list[_Hit], bool]:
    """The weighed hits and whether a question discounted praise. Unless `full`, stop early
    when nothing positive was found: the score is 0.0 whatever else is there."""
    lex = _lexicon()
    norm = _mark_quotes(_normalise(text), lex)
    scan = _scan(norm, lex)
    scan.pivots.sort()  # "however" and a clause-final "though" point back to earlier offsets
    ratings = _rating_hits(norm)
    if not full and not any(hit.weight > 0 for hit in scan.hits + ratings):
        return [], False
    kinds = {hit.kind for hit in scan.hits}
    if scan.openers:
        _mark_openers(scan)
        kinds.add("maybe_sarcasm")
    if "resolution" in kinds:
        _clear_resolved(scan, lex)
    asked = _discount(scan, lex.scale) if scan.pivots or scan.questions else False
    if scan.quotes:
        _scare_quotes(scan, lex.scale)
    if not kinds.isdisjoint(("sarcasm", "maybe_sarcasm")):
        _resolve_sarcasm(scan, lex.scale)
    hits = scan.hits + ratings
    hits += _caps_hits(text, lex, any(hit.weight < 0 for hit in hits))
    return hits, asked


def _combine(hits: Sequence[_Hit], exclamations: int, scale: Mapping[str, float]) -> float:
    positive = sum(hit.weight for hit in hits if hit.weight > 0)
    negative = -sum(hit.weight for hit in hits if hit.weight < 0)
    if not negative:
        positive *= 1 + scale["exclamation"] * min(exclamations, 3)
    praise = 1 - math.exp(-positive / scale["saturation"])
    return round(praise * math.exp(-scale["damping"] * negative), 4)


def _cue_list(hits: Sequence[_Hit], asked: bool) -> list[str]:
    """Cues in reading order, then those about the whole text (ratings, capitals)."""
    found: dict[str, None] = {}
    for hit in hits:
        if hit.kind not in ("cleared", "quoted") or hit.label == "negated":
            found[f"{hit.label}: '{hit.phrase.translate(_DISPLAY)}'"] = None
    if asked:
        found["question: praise inside a question counts little"] = None
    return list(found)


# ---------------------------------------------------------------------------------------------
# Public API


def score(text: str) -> float:
    """How much `text` reads as praise, from 0.0 (not at all) to 1.0. Deterministic."""
    if not text.strip():
        return 0.0
    hits, _ = _analyse(text, full=False)
    return _combine(hits, text.count("!"), _lexicon().scale) if hits else 0.0


def is_praise(text: str, threshold: float = THRESHOLD) -> bool:
    return score(text) >= threshold


def cues(text: str) -> list[str]:
    """The matched cues behind the score, in reading order, e.g. "negated: 'not great'"."""
    if not text.strip():
        return []
    hits, asked = _analyse(text, full=True)
    return _cue_list(hits, asked)


@dataclass(frozen=True, slots=True)
class LabelledMessage:
    text: str
    label: str

    @property
    def praise(self) -> bool:
        return self.label == "praise"


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Counts at one threshold. Precision or recall with nothing to divide by is 0.0."""

    precision: float
    recall: float
    tp: int
    fp: int
    fn: int
    tn: int
    threshold: float


def evaluate(examples: Iterable[tuple[str, bool]], threshold: float = THRESHOLD) -> Evaluation:
    tp = fp = fn = tn = 0
    for text, expected in examples:
        predicted = is_praise(text, threshold)
        tp += predicted and expected
        fp += predicted and not expected
        fn += expected and not predicted
        tn += not (predicted or expected)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return Evaluation(precision, recall, tp, fp, fn, tn, threshold)


def load_labelled(path: str | Path) -> list[LabelledMessage]:
    """Read JSONL lines of {"text": ..., "label": ...}; raises ValueError on a bad line."""
    messages = []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: {error}") from error
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise ValueError(f"{path}:{number}: expected an object with a text")
        if row.get("label") not in LABELS:
            raise ValueError(f"{path}:{number}: the label must be one of {sorted(LABELS)}")
        messages.append(LabelledMessage(row["text"], row["label"]))
    return messages
