"""Reading a referral programme from YAML into `programme.Programme`, and back.

The file is written by admins, so every problem is reported at once, each with the line it is
on and the field it concerns ("line 7: rules[2].thresholds: ..."), and nothing is guessed: an
unknown key, a wrong type or a value out of range is an error, never a silent default.

Line numbers come from the node tree of `yaml.compose`; each scalar is then built with PyYAML's
safe constructor, so values mean exactly what `yaml.safe_load` would make of them. Only the safe
loader is ever used.

Pure Python: no Django, no I/O beyond reading the packaged default file once.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from types import NoneType
from typing import Any, Final, NamedTuple, get_args, get_type_hints

import yaml

from goodword.engine.programme import (
    CHANNELS,
    KINDS,
    ROUTES,
    AskConfig,
    DealRule,
    GateConfig,
    GoalRule,
    HealthConfig,
    IntroConfig,
    MilestoneRule,
    NpsRule,
    PraiseRule,
    Programme,
    ReadinessConfig,
    Rule,
    SupportRule,
    SurgeRule,
)
from goodword.engine.scores import Measure, parse_measure

__all__ = [
    "DEFAULT_YAML",
    "Problem",
    "RulesError",
    "default_programme",
    "parse_programme",
    "programme_to_data",
    "rule_fingerprint",
]


class Problem(NamedTuple):
    """One thing wrong in a programme file. `line` is 1-based; None when there is no line
    (an empty file). `field` is a path such as `rules[2].thresholds` (rules count from 0),
    empty for the file as a whole."""

    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = "" if self.line is None else f"line {self.line}: "
        what = f"{self.field}: " if self.field else ""
        return f"{where}{what}{self.message}"


class RulesError(ValueError):
    """A programme file that cannot be used; `problems` lists everything found, by line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


# --- Checks of single values -----------------------------------------------------------------
# A check takes what the YAML constructor built and returns the value to store, or raises
# ValueError with the words to show after the field name.

type Check = Callable[[Any], Any]

ID = re.compile(r"[a-z][a-z0-9_-]{0,49}")
# The scan puts a sum's property into a JSON path, so it is held to a plain identifier
# (scores.PROPERTY also allows dots and dashes, which a JSON path would read as syntax).
SUM_PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _describe(value: object) -> str:
    """A value as a person reading the YAML file would name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, float):
        return _show(value)
    if isinstance(value, int | Decimal):
        return str(value)
    return f"a {type(value).__name__}"  # dates, timestamps, binary


def _show(number: float) -> str:
    """A number as the file most likely wrote it: 0, not the 0.0 it became as a float."""
    return str(int(number)) if isinstance(number, float) and number.is_integer() else str(number)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {_describe(value)}")
    return value


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty name, not {_describe(value)}")
    return value


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {_describe(value)}")
    return value


def _whole(value: object) -> int:
    # bool is an int in Python, but `true` is never meant as 1 in a settings file.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a whole number, not {_describe(value)}")
    return value


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, not {_describe(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"is too large: {value}") from None
    if not math.isfinite(number):
        raise ValueError(f"must be a finite number, not {_describe(value)}")
    return number


def _at_least(low: int) -> Check:
    def check(number: float) -> float:
        if number < low:
            raise ValueError(f"must be at least {low}, not {_show(number)}")
        return number

    return check


def _more_than(low: int) -> Check:
    def check(number: float) -> float:
        if number <= low:
            raise ValueError(f"must be more than {low}, not {_show(number)}")
        return number

    return check


def _from_to(low: int, high: int) -> Check:
    def check(number: float) -> float:
        if not low <= number <= high:
            raise ValueError(f"must be from {low} to {high}, not {_show(number)}")
        return number

    return check


def _one_of(choices: Collection[str], what: str) -> Check:
    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f"{value!r} is not {what}{_suggest(value, choices)}")
        return value

    return check


def _then(*checks: Check) -> Check:
    def check(value: object) -> Any:
        for step in checks:
            value = step(value)
        return value

    return check


def _or_null(check: Check) -> Check:
    return lambda value: None if value is None else check(value)


def _suggest(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (one of {', '.join(sorted(choices))})"


def _rule_id(value: object) -> str:
    text = _text(value)
    if not ID.fullmatch(text):
        raise ValueError(
            "must be 1 to 50 lowercase letters, digits, - or _, starting with a letter, "
            f"not {text!r}"
        )
    return text


def _measure(value: object) -> Measure:
    measure = parse_measure(_text(value))
    if measure.kind == "sum" and not SUM_PROPERTY.fullmatch(measure.property):
        raise ValueError(
            f"the property in {value!r} must be letters, digits and _, not starting with a "
            "digit (it becomes part of a JSON path)"
        )
    return measure


def _threshold(value: object) -> Decimal:
    """A threshold is kept as a Decimal so that sums of money or minutes compare exactly;
    text is accepted too, which is how programme_to_data writes non-whole values."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"must be a positive number, not {_describe(value)}")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise ValueError(f"must be a positive number, not {_describe(value)}") from None
    if not number.is_finite() or number <= 0:
        raise ValueError(f"must be a positive number, not {_describe(value)}")
    return number


# --- Walking the node tree -------------------------------------------------------------------


class _Invalid:
    """Stands for a value that was refused; its problem is already recorded."""


INVALID: Final = _Invalid()
MERGE_TAG = "tag:yaml.org,2002:merge"
NULL_TAG = "tag:yaml.org,2002:null"
# A collection with another tag (`!!set`, `!!omap`, `!!python/...`) is not plain data: it is
# refused, with the words its construction gives.
MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"


@dataclass(frozen=True)
class _Entry:
    key: yaml.Node
    value: yaml.Node


class _Walk:
    """Collects problems while values are read from the composed node tree."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self._loader = yaml.SafeLoader("")

    def problem(self, node: yaml.Node | None, field: str, message: str) -> None:
        line = None if node is None else node.start_mark.line + 1
        self.problems.append(Problem(line, field, message))

    def build(self, node: yaml.Node, field: str) -> Any:
        """The Python value of a node, as yaml.safe_load would build it."""
        try:
            return self._loader.construct_document(node)
        except (yaml.YAMLError, ValueError, TypeError) as error:
            # A failed construction leaves the loader's bookkeeping half done. ValueError
            # and TypeError come from explicit tags on text that is no such thing (`!!int x`).
            self._loader = yaml.SafeLoader("")
            message = _yaml_message(error) if isinstance(error, yaml.YAMLError) else str(error)
            self.problem(node, field, f"cannot be read: {message}")
            return INVALID

    def check(self, node: yaml.Node, field: str, check: Check) -> Any:
        value = self.build(node, field)
        if value is INVALID:
            return value
        try:
            return check(value)
        except ValueError as error:
            self.problem(node, field, str(error))
            return INVALID

    def sequence(self, node: yaml.Node, field: str, what: str) -> list[yaml.Node] | None:
        if isinstance(node, yaml.SequenceNode) and node.tag == SEQ_TAG:
            return list(node.value)
        self.check(node, field, _refuse(f"must be a list of {what}"))
        return None

    def mapping(self, node: yaml.Node, field: str) -> dict[str, _Entry] | None:
        """The keys of a mapping node with their nodes. PyYAML would silently keep the last of
        two equal keys; here the second one is an error."""
        if not isinstance(node, yaml.MappingNode) or node.tag != MAP_TAG:
            self.check(node, field, _refuse("must be a mapping of keys to values"))
            return None
        explicit = [(k, v) for k, v in node.value if k.tag != MERGE_TAG]
        entries: dict[str, _Entry] = {}
        for key_node, value_node in explicit:
            key = self.check(key_node, field, _refuse_unless(str, "keys must be text"))
            if key is INVALID:
                continue
            if key in entries:
                first = entries[key].key.start_mark.line + 1
                self.problem(key_node, _join(field, key), f"is set twice (first on line {first})")
                continue
            entries[key] = _Entry(key_node, value_node)
        return {**self._merged(node, field, len(explicit)), **entries}

    def _merged(self, node: yaml.MappingNode, field: str, explicit: int) -> dict[str, _Entry]:
        """What `<<: *anchor` merge keys bring in; explicit keys override them."""
        if all(k.tag != MERGE_TAG for k, _ in node.value):
            return {}
        # flatten_mapping rewrites the merged mappings too, which are read as rules of their
        # own; a copy leaves them as written. It puts the merged pairs first, in the order
        # where later ones override earlier ones.
        flat = copy.deepcopy(node)
        try:
            self._loader.flatten_mapping(flat)
        except yaml.YAMLError as error:
            self.problem(node, field, _yaml_message(error))
            return {}
        merged: dict[str, _Entry] = {}
        for key_node, value_node in flat.value[: len(flat.value) - explicit]:
            key = self.check(key_node, field, _refuse_unless(str, "keys must be text"))
            if key is not INVALID:
                merged[key] = _Entry(key_node, value_node)
        return merged

    def unknown_keys(
        self, entries: Mapping[str, _Entry], known: Collection[str], field: str
    ) -> None:
        for key, entry in entries.items():
            if key not in known:
                self.problem(entry.key, field, f"unknown key {key!r}{_suggest(key, known)}")


def _refuse(message: str) -> Check:
    def check(value: object) -> Any:
        raise ValueError(f"{message}, not {_describe(value)}")

    return check


def _refuse_unless(kind: type, message: str) -> Check:
    def check(value: object) -> Any:
        if not isinstance(value, kind):
            raise ValueError(f"{message}, not {_describe(value)}")
        return value

    return check


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _yaml_message(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError):
        parts = [error.context, error.problem]
        return "invalid YAML: " + ", ".join(part for part in parts if part)
    if isinstance(error, yaml.reader.ReaderError):
        # With text input PyYAML gives the character's code point, not the character.
        code = error.character if isinstance(error.character, int) else ord(error.character)
        return f"invalid YAML: the character U+{code:04X} is not allowed"
    return f"invalid YAML: {error}"


def _error_line(error: yaml.YAMLError, text: str) -> int | None:
    mark = getattr(error, "problem_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    if isinstance(error, yaml.reader.ReaderError):
        return text.count("\n", 0, error.position) + 1
    return None


# --- Readers: a node to a value --------------------------------------------------------------

type Reader = Callable[[_Walk, yaml.Node, str], Any]


def _value(check: Check) -> Reader:
    return lambda walk, node, field: walk.check(node, field, check)


def _thresholds(walk: _Walk, node: yaml.Node, field: str) -> Any:
    """Sorted, so that a file may list them in any order; a repeat is a typo, not a no-op."""
    items = walk.sequence(node, field, "positive numbers")
    if items is None:
        return INVALID
    if not items:
        walk.problem(node, field, "must list at least one threshold")
        return INVALID
    seen: set[Decimal] = set()
    ok = True
    for index, item in enumerate(items):
        number = walk.check(item, f"{field}[{index}]", _threshold)
        if number is not INVALID and number in seen:
            walk.problem(item, f"{field}[{index}]", f"{number} is listed twice")
        elif number is not INVALID:
            seen.add(number)
            continue
        ok = False
    return tuple(sorted(seen)) if ok else INVALID


def _channels(walk: _Walk, node: yaml.Node, field: str) -> Any:
    items = walk.sequence(node, field, "channels")
    if items is None:
        return INVALID
    channel = _then(_text, _one_of(CHANNELS, "a channel"))
    chosen: list[str] = []
    ok = True
    for index, item in enumerate(items):
        name = walk.check(item, f"{field}[{index}]", channel)
        if name is not INVALID and name in chosen:
            walk.problem(item, f"{field}[{index}]", f"{name!r} is listed twice")
        elif name is not INVALID:
            chosen.append(name)
            continue
        ok = False
    return tuple(chosen) if ok else INVALID


class _Spec(NamedTuple):
    read: Reader
    required: bool = False


def _fraction() -> _Spec:
    return _Spec(_value(_then(_number, _from_to(0, 1))))


COMMON: Final[dict[str, _Spec]] = {
    "id": _Spec(_value(_rule_id), required=True),
    "kind": _Spec(_value(_then(_text, _one_of(KINDS, "a kind of rule"))), required=True),
    "weight": _Spec(_value(_then(_number, _at_least(0))), required=True),
    "enabled": _Spec(_value(_flag)),
    "label": _Spec(_value(_text)),
}

# Per kind: its dataclass and the keys it adds to the common ones. Absent optional keys take
# the dataclass defaults, so the defaults live in one place (programme.py).
KIND_FIELDS: Final[dict[str, tuple[type[Rule], dict[str, _Spec]]]] = {
    "milestone": (
        MilestoneRule,
        {
            "event": _Spec(_value(_name), required=True),
            "measure": _Spec(_value(_measure)),
            "thresholds": _Spec(_thresholds, required=True),
        },
    ),
    "surge": (
        SurgeRule,
        {
            "event": _Spec(_value(_or_null(_name))),
            "ratio": _Spec(_value(_then(_number, _more_than(0)))),
            "min_users": _Spec(_value(_then(_whole, _at_least(1)))),
        },
    ),
    "goal": (GoalRule, {}),
    "renewal": (DealRule, {}),
    "expansion": (DealRule, {}),
    "nps": (NpsRule, {"min_score": _Spec(_value(_then(_whole, _from_to(0, 10))))}),
    "support": (
        SupportRule,
        {"min_csat": _fraction(), "praise": _Spec(_value(_flag)), "min_praise": _fraction()},
    ),
    "praise": (PraiseRule, {"min_praise": _fraction(), "channels": _Spec(_channels)}),
}
ALL_RULE_KEYS: Final = frozenset(COMMON).union(*(extra for _, extra in KIND_FIELDS.values()))


def _section_specs(cls: type, limits: Mapping[str, Check]) -> dict[str, _Spec]:
    """One optional key per dataclass field; its type from the annotation, its range from
    `limits`. An annotation this module cannot check fails at import, not in production."""
    base = {int: _whole, float: _number, bool: _flag, str: _text}
    specs: dict[str, _Spec] = {}
    for name, hint in get_type_hints(cls).items():
        nullable = NoneType in get_args(hint)
        plain = next(a for a in get_args(hint) if a is not NoneType) if nullable else hint
        check = _then(base[plain], limits[name]) if name in limits else base[plain]
        specs[name] = _Spec(_value(_or_null(check) if nullable else check))
    return specs


def _points() -> Check:
    return _at_least(0)


SECTIONS: Final[dict[str, tuple[type, dict[str, _Spec]]]] = {
    "health": (
        HealthConfig,
        _section_specs(
            HealthConfig,
            {
                **dict.fromkeys(("usage", "nps", "csat", "escalations", "renewal"), _points()),
                "usage_recent_weeks": _at_least(1),
                "usage_baseline_weeks": _at_least(1),
                "usage_full_ratio": _more_than(0),
                "usage_zero_ratio": _at_least(0),
                **dict.fromkeys(
                    ("usage_no_baseline", "nps_passive", "nps_none", "csat_none"), _from_to(0, 1)
                ),
                **dict.fromkeys(("nps_days", "csat_days", "renewal_days"), _at_least(0)),
            },
        ),
    ),
    "readiness": (
        ReadinessConfig,
        _section_specs(
            ReadinessConfig,
            {
                "threshold": _at_least(0),
                "half_life_days": _more_than(0),
                "horizon_days": _at_least(1),
            },
        ),
    ),
    "gates": (
        GateConfig,
        _section_specs(
            GateConfig,
            {
                **dict.fromkeys(
                    (
                        "min_customer_days",
                        "detractor_days",
                        "account_cooldown_days",
                        "contact_max_asks",
                        "contact_window_days",
                        "fatigue_max_asks",
                        "fatigue_gap_days",
                    ),
                    _at_least(0),
                ),
                "fatigue_window_days": _at_least(1),
                # Health is a percentage of the points, whatever the points add up to.
                "min_health": _from_to(0, 100),
            },
        ),
    ),
    "asks": (
        AskConfig,
        _section_specs(
            AskConfig,
            {
                "assign_to": _one_of(("owner", "csm"), "whom to assign to"),
                "due_business_days": _at_least(0),
            },
        ),
    ),
    "introductions": (
        IntroConfig,
        _section_specs(
            IntroConfig,
            {
                "route_to": _one_of(ROUTES, "whom to route referred deals to"),
                "follow_up_days": _at_least(1),
                "remind_after_days": _at_least(1),
                "expire_after_days": _at_least(2),
            },
        ),
    ),
}
TOP_KEYS: Final = ("rules", *SECTIONS)


# --- Reading the programme -------------------------------------------------------------------


def parse_programme(text: str) -> Programme:
    """The programme a YAML text describes. Raises RulesError listing every problem found."""
    walk = _Walk()
    programme = _read_programme(walk, _compose(walk, text))
    if programme is None or walk.problems:
        raise RulesError(sorted(walk.problems, key=lambda p: -1 if p.line is None else p.line))
    return programme


def _compose(walk: _Walk, text: str) -> yaml.Node | None:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        walk.problems.append(Problem(_error_line(error, text), "", _yaml_message(error)))
        return None
    if root is None:
        walk.problem(None, "", "the file is empty; it needs at least a list of rules")
    return root


def _read_programme(walk: _Walk, root: yaml.Node | None) -> Programme | None:
    if root is None:
        return None
    if not isinstance(root, yaml.MappingNode) or root.tag != MAP_TAG:
        walk.check(root, "", _refuse("the file must be a mapping with a list of rules"))
        return None
    entries = walk.mapping(root, "")
    if entries is None:
        return None
    walk.unknown_keys(entries, TOP_KEYS, "")
    rules = _read_rules(walk, root, entries.get("rules"))
    configs = {name: _read_section(walk, name, entries.get(name)) for name in SECTIONS}
    if walk.problems or rules is None or any(c is None for c in configs.values()):
        return None
    return Programme(rules=rules, **configs)


def _read_rules(walk: _Walk, root: yaml.Node, entry: _Entry | None) -> tuple[Rule, ...] | None:
    if entry is None:
        walk.problem(root, "rules", "is required: a list of rules")
        return None
    items = walk.sequence(entry.value, "rules", "rules")
    if items is None:
        return None
    ids: dict[str, int] = {}
    rules = [_read_rule(walk, item, index, ids) for index, item in enumerate(items)]
    return tuple(rule for rule in rules if rule is not None)


def _read_rule(walk: _Walk, node: yaml.Node, index: int, ids: dict[str, int]) -> Rule | None:
    """One rule; `ids` maps the ids of the rules before it to their index."""
    path = f"rules[{index}]"
    entries = walk.mapping(node, path)
    if entries is None:
        return None
    common, ok = _read_fields(walk, node, entries, path, COMMON)
    rule_id = common.get("id")
    if rule_id in ids:
        message = f"{rule_id!r} is already the id of rules[{ids[rule_id]}]"
        walk.problem(entries["id"].value, f"{path}.id", message)
    elif rule_id is not None:
        ids[rule_id] = index
    kind = common.get("kind")
    if kind is None:
        # Without a kind the extra keys cannot be checked; still catch misspelt ones.
        walk.unknown_keys(entries, ALL_RULE_KEYS, path)
        return None
    cls, specs = KIND_FIELDS[kind]
    _unknown_rule_keys(walk, entries, kind, (*COMMON, *specs), path)
    extra, extra_ok = _read_fields(walk, node, entries, path, specs)
    if not (ok and extra_ok):
        return None
    return cls(**common, **extra)


def _unknown_rule_keys(
    walk: _Walk, entries: Mapping[str, _Entry], kind: str, known: tuple[str, ...], path: str
) -> None:
    """A key of another kind of rule (`ratio` on a milestone) gets its own words: it is not a
    typo, and the nearest key of this kind would be a wrong hint."""
    misplaced = {k: e for k, e in entries.items() if k in ALL_RULE_KEYS and k not in known}
    for key, entry in misplaced.items():
        message = f"{key!r} is not a setting of {kind} rules (they have {', '.join(known)})"
        walk.problem(entry.key, path, message)
    others = {key: entry for key, entry in entries.items() if key not in misplaced}
    walk.unknown_keys(others, known, path)


def _read_fields(
    walk: _Walk,
    node: yaml.Node,
    entries: Mapping[str, _Entry],
    path: str,
    specs: Mapping[str, _Spec],
) -> tuple[dict[str, Any], bool]:
    """The valid values of the keys present, and whether every key was valid and present
    when required. A missing key is reported on the line of its mapping."""
    values: dict[str, Any] = {}
    ok = True
    for name, spec in specs.items():
        entry = entries.get(name)
        if entry is None:
            if spec.required:
                walk.problem(node, _join(path, name), "is required")
                ok = False
            continue
        value = spec.read(walk, entry.value, _join(path, name))
        if value is INVALID:
            ok = False
        else:
            values[name] = value
    return values, ok


def _read_section(walk: _Walk, name: str, entry: _Entry | None) -> Any:
    cls, specs = SECTIONS[name]
    # `health:` with every key commented out is null in YAML: it means "all defaults".
    if entry is None or entry.value.tag == NULL_TAG:
        return cls()
    entries = walk.mapping(entry.value, name)
    if entries is None:
        return None
    walk.unknown_keys(entries, specs.keys(), name)
    values, ok = _read_fields(walk, entry.value, entries, name, specs)
    if not ok:
        return None
    config = cls(**values)
    if isinstance(config, HealthConfig) and not _usage_ratios_ordered(walk, entry, config):
        return None
    if isinstance(config, IntroConfig) and config.remind_after_days >= config.expire_after_days:
        node = _value_node(entry.value, "remind_after_days") or entry.value
        message = (
            f"must be below expire_after_days ({config.expire_after_days}), not "
            f"{config.remind_after_days}: the reminder comes before the introduction expires"
        )
        walk.problem(node, "introductions.remind_after_days", message)
        return None
    return config


def _usage_ratios_ordered(walk: _Walk, entry: _Entry, health: HealthConfig) -> bool:
    """Usage points grow linearly from the zero ratio to the full one: the zero ratio must be
    the lower, or the line has no slope. Reported on whichever of the two the file sets."""
    zero, full = health.usage_zero_ratio, health.usage_full_ratio
    if zero < full:
        return True
    zero_node = _value_node(entry.value, "usage_zero_ratio")
    full_node = _value_node(entry.value, "usage_full_ratio")
    if zero_node is None and full_node is not None:
        message = f"must be above usage_zero_ratio ({zero:g}), not {full:g}"
        walk.problem(full_node, "health.usage_full_ratio", message)
    else:
        message = f"must be below usage_full_ratio ({full:g}), not {zero:g}"
        walk.problem(zero_node or entry.value, "health.usage_zero_ratio", message)
    return False


def _value_node(mapping: yaml.Node, key: str) -> yaml.Node | None:
    """The node of `key`'s value in a mapping already read (so its keys are known good)."""
    if not isinstance(mapping, yaml.MappingNode):
        return None
    return next((v for k, v in mapping.value if k.value == key), None)


# --- Writing and fingerprinting ----------------------------------------------------------------


def programme_to_data(programme: Programme) -> dict[str, Any]:
    """Plain data (JSON- and YAML-safe) that parse_programme reads back to an equal programme.
    Every field is written, defaults too, so the data shows exactly what is in force."""
    return {
        "rules": [_rule_to_data(rule) for rule in programme.rules],
        **{name: _plain(asdict(getattr(programme, name))) for name in SECTIONS},
    }


def _rule_to_data(rule: Rule) -> dict[str, Any]:
    return {f.name: _plain(getattr(rule, f.name)) for f in fields(rule)}


def _plain(value: Any) -> Any:
    if isinstance(value, Measure):
        return str(value)
    if isinstance(value, Decimal):
        # Text keeps a non-whole Decimal exact; a float would round it.
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


# What a rule's moments do not depend on: changing them re-weighs or renames moments already
# found, where changing anything else means the rule finds different moments.
NOT_FINGERPRINTED: Final = frozenset({"id", "weight", "enabled", "label"})


def rule_fingerprint(rule: Rule) -> str:
    """A sha256 hex digest of the parameters that decide which moments a rule finds and when.
    Equal parameters give equal fingerprints however they were written (1.5 or 1.50, the
    thresholds or channels in any order)."""
    params = {
        f.name: _canonical(getattr(rule, f.name))
        for f in fields(rule)
        if f.name not in NOT_FINGERPRINTED
    }
    blob = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode("ascii")).hexdigest()


def _canonical(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Measure):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return str(Decimal(str(value)).normalize())
    if isinstance(value, tuple | list):
        # Thresholds and channels are sets in effect: their order changes nothing found.
        return sorted(_canonical(item) for item in value)
    raise TypeError(f"cannot fingerprint {type(value).__name__}")  # a new field type


# --- The default programme -------------------------------------------------------------------

DEFAULT_YAML: Final[str] = (
    resources.files("goodword.engine").joinpath("data", "programme.yaml").read_text("utf-8")
)


@cache
def default_programme() -> Programme:
    """The documented example programme (`engine/data/programme.yaml`)."""
    return parse_programme(DEFAULT_YAML)
