"""Routing policy: the document admins edit, and the pure function that applies it.

A policy is data (JSON), validated by the schema below and then against the
database (queues and categories must exist). `route()` is pure and
deterministic, so a dry run over past conversations predicts exactly what
activation will do with them.

Priority formula (documented for admins on the editor page):

    priority = weights.risk * risk + weights.severity * severity / 4 + weights.age * hours waiting

`risk` is P(harmful compliance) from the active model (for a conversation that ends
with a user turn, no reply to judge: P(the request is harmful); before any model, the
detectors' highest score), `severity` is 0..4 from the riskiest category (hard-limit
categories count double, capped at 4). `route()` gives the first two terms plus the
rule's boost (the item's base); the age term (whole hours, at most 24) and the
breach, escalation and adjudication boosts are added to it by
`reviews/routing/priority.py`, the one place that sums the parts.

Conditions on `risk.harmful` read that same `risk` (so they now mean P(harmful
compliance)); conditions on `verdicts.<verdict>` read the model's verdict grid and
never match a score without one (the detectors' fallback, a request with no reply).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reviews.vocabulary import VERDICTS

HARMFUL = "harmful"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Range(_Strict):
    """A closed-open interval [min, max) of a probability; max 1 includes 1."""

    min: float = Field(default=0.0, ge=0, le=1)
    max: float = Field(default=1.0, ge=0, le=1)

    @model_validator(mode="after")
    def _not_empty(self) -> Range:
        if self.min >= self.max:
            raise ValueError(f"empty range: min {self.min} must be below max {self.max}")
        return self

    def contains(self, value: float) -> bool:
        return self.min <= value < self.max or (self.max == 1.0 and value == 1.0)

    def overlaps(self, other: Range) -> bool:
        return self.min < other.max and other.min < self.max


class Conditions(_Strict):
    """All given conditions must hold (AND); an empty list or map means 'any'."""

    source_kinds: list[str] = []
    source_names: list[str] = []
    flagged_categories: list[str] = Field(default=[], description="Any of these categories was flagged.")
    risk: dict[str, Range] = Field(
        default={}, description="Model risk per category slug, or 'harmful': the overall risk, P(harmful compliance)."
    )
    verdicts: dict[str, Range] = Field(
        default={},
        description="P(verdict) per verdict: harmful_compliance, appropriate_refusal, over_refusal, appropriate_help. "
        "Never matches a score without a verdict grid (the detectors' fallback, a request with no reply).",
    )
    detector_scores: dict[str, Range] = Field(default={}, description="Highest score a named detector gave.")
    any_detector_score: Range | None = Field(default=None, description="Highest score any detector gave.")
    models: list[str] = Field(default=[], description="Model name prefixes.")
    metadata: dict[str, Any] = Field(default={}, description="Metadata keys that must equal these values.")

    @field_validator("verdicts")
    @classmethod
    def _known_verdicts(cls, value: dict[str, Range]) -> dict[str, Range]:
        unknown = sorted(set(value) - set(VERDICTS))
        if unknown:
            raise ValueError(f"unknown verdict {', '.join(map(repr, unknown))}: use one of {', '.join(VERDICTS)}")
        return value


class Action(_Strict):
    queue: str | None = Field(default=None, description="Target queue slug; empty with drop.")
    drop: bool = Field(default=False, description="Below threshold: recorded as dropped, not queued.")
    priority_boost: float = Field(default=0.0, ge=-10, le=10)
    auto_escalate: bool = Field(
        default=True, description="Hard-limit categories above the escalation threshold go to the escalation queue."
    )

    @model_validator(mode="after")
    def _queue_or_drop(self) -> Action:
        if self.drop == bool(self.queue):
            raise ValueError("an action needs a queue, or drop: true without a queue")
        return self


class Rule(_Strict):
    name: str = Field(min_length=1, max_length=100)
    when: Conditions = Conditions()
    then: Action


class Sampling(_Strict):
    """Calibration: route a share of low-risk and of unflagged traffic for review anyway."""

    queue: str = "calibration"
    low_risk_below: float = Field(default=0.2, ge=0, le=1)
    low_risk_percent: float = Field(default=2.0, ge=0, le=100)
    unflagged_percent: float = Field(default=5.0, ge=0, le=100)
    seed: int = Field(default=0, description="Change it to draw a different sample.")


class DoubleReview(_Strict):
    """Agreement data from day one: a share of what the rules queue gets a second, independent (blind where the
    queue is blind) review, so kappa and alpha have items to measure."""

    percent: float = Field(default=0.0, ge=0, le=100)
    seed: int = Field(default=0, description="Change it to draw a different share.")


class Escalation(_Strict):
    queue: str = "escalation"
    hard_limit_threshold: float = Field(default=0.9, ge=0, le=1)


class Weights(_Strict):
    risk: float = Field(default=10.0, ge=0)
    severity: float = Field(default=5.0, ge=0)
    age: float = Field(default=1.0, ge=0, description="Priority added per whole hour an item waits, up to 24 hours.")


class PolicyDocument(_Strict):
    rules: list[Rule] = Field(min_length=1, max_length=200)
    fallback: Action = Action(drop=True)
    sampling: Sampling = Sampling()
    double_review: DoubleReview = DoubleReview()
    escalation: Escalation = Escalation()
    weights: Weights = Weights()

    @model_validator(mode="after")
    def _unique_rule_names(self) -> PolicyDocument:
        names = [rule.name for rule in self.rules]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"rule names must be unique: {', '.join(duplicated)}")
        return self

    def queue_slugs(self) -> set[str]:
        actions = [rule.then for rule in self.rules] + [self.fallback]
        return {a.queue for a in actions if a.queue} | {self.sampling.queue, self.escalation.queue}

    def uses_metadata(self) -> bool:
        return any(rule.when.metadata for rule in self.rules)

    def category_slugs(self) -> set[str]:
        used: set[str] = set()
        for rule in self.rules:
            used |= set(rule.when.flagged_categories) | (set(rule.when.risk) - {HARMFUL})
        return used


def _ranges(when: Conditions) -> dict[tuple[str, str], Range]:
    """The probability ranges of a rule's conditions, keyed by (kind, key): ("risk", slug) or ("verdict", name)."""
    return {("risk", k): r for k, r in when.risk.items()} | {("verdict", k): r for k, r in when.verdicts.items()}


def overlapping_risk_ranges(document: PolicyDocument) -> list[str]:
    """Two rules alike but for overlapping risk or verdict ranges: first match wins, so the later one
    silently loses the overlap. Almost always a mistake; returns a message naming both rules."""
    problems = []
    for i, first in enumerate(document.rules):
        for second in document.rules[i + 1 :]:
            a, b = _ranges(first.when), _ranges(second.when)
            rest = {"risk", "verdicts"}
            if first.when.model_dump(exclude=rest) != second.when.model_dump(exclude=rest) or set(a) != set(b):
                continue
            if a and all(a[key].overlaps(b[key]) for key in a):
                kind, key = sorted(a)[0]
                x, y = a[(kind, key)], b[(kind, key)]
                problems.append(
                    f"rules '{first.name}' and '{second.name}' have overlapping '{key}' {kind} ranges "
                    f"[{x.min}, {x.max}) and [{y.min}, {y.max})"
                )
    return problems


@dataclass(frozen=True)
class Facts:
    """What routing may look at, for one scored conversation."""

    conversation_id: int
    source_kind: str
    source_name: str
    flagged: frozenset[str]
    detector_scores: dict[str, float]
    risks: dict[str, float]  # per category slug
    risk: float  # overall: P(harmful compliance), or P(harmful request) when there is no reply
    model_name: str
    metadata: dict[str, Any] = field(default_factory=dict)
    verdicts: dict[str, float] | None = None  # the four verdict probabilities; None without a verdict grid


@dataclass(frozen=True)
class Outcome:
    queue: str | None  # None: dropped
    rule: str
    priority: float
    severity: int
    escalated: bool = False
    sampled: bool = False
    double_review: bool = False  # the item needs (at least) two reviews


def _matches(when: Conditions, facts: Facts) -> bool:
    if when.source_kinds and facts.source_kind not in when.source_kinds:
        return False
    if when.source_names and facts.source_name not in when.source_names:
        return False
    if when.flagged_categories and not facts.flagged & set(when.flagged_categories):
        return False
    for key, wanted in when.risk.items():
        value = facts.risk if key == HARMFUL else facts.risks.get(key, 0.0)
        if not wanted.contains(value):
            return False
    if when.verdicts and facts.verdicts is None:
        return False
    for verdict, wanted in when.verdicts.items():
        if not wanted.contains((facts.verdicts or {}).get(verdict, 0.0)):
            return False
    if when.any_detector_score and not when.any_detector_score.contains(max(facts.detector_scores.values(), default=0)):
        return False
    for detector, wanted in when.detector_scores.items():
        if detector not in facts.detector_scores or not wanted.contains(facts.detector_scores[detector]):
            return False
    if when.models and not any(facts.model_name.startswith(prefix) for prefix in when.models):
        return False
    return all(facts.metadata.get(key) == value for key, value in when.metadata.items())


def _percentile(conversation_id: int, salt: str) -> float:
    """A stable pseudo-random number in [0, 100) per conversation: the same draw in a dry run and for real."""
    digest = hashlib.sha256(f"{salt}:{conversation_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def severity_of(facts: Facts, hard_limits: frozenset[str]) -> int:
    """0..4 from the riskiest category; hard-limit categories count double."""
    best = 0.0
    for slug, value in facts.risks.items():
        best = max(best, min(1.0, value * (2 if slug in hard_limits else 1)))
    return round(best * 4)


def route(document: PolicyDocument, facts: Facts, *, hard_limits: frozenset[str]) -> Outcome:
    """First matching rule wins; then auto-escalation; unmatched traffic may be sampled for calibration."""
    severity = severity_of(facts, hard_limits)
    weights = document.weights
    base = weights.risk * facts.risk + weights.severity * severity / 4
    for rule in document.rules:
        if _matches(rule.when, facts):
            action, name = rule.then, rule.name
            break
    else:
        action, name = document.fallback, "fallback"

    hard_hit = any(facts.risks.get(slug, 0.0) >= document.escalation.hard_limit_threshold for slug in hard_limits)
    if action.auto_escalate and hard_hit:
        return Outcome(document.escalation.queue, name, base + action.priority_boost, severity, escalated=True)
    if action.drop:
        sampling = document.sampling
        unflagged = not facts.flagged
        percent = sampling.unflagged_percent if unflagged else sampling.low_risk_percent
        eligible = unflagged or facts.risk < sampling.low_risk_below
        if eligible and _percentile(facts.conversation_id, str(sampling.seed)) < percent:
            return Outcome(sampling.queue, name, base, severity, sampled=True)
        return Outcome(None, name, base, severity)
    double = document.double_review
    second = double.percent > 0 and _percentile(facts.conversation_id, f"double:{double.seed}") < double.percent
    return Outcome(action.queue, name, base + action.priority_boost, severity, double_review=second)


# What the default policy measures with (migration 0021 puts it on the active version): a few percent of dropped
# low-risk and unflagged traffic reviewed for recall, and a small share of queued items reviewed twice for agreement.
DEFAULT_MEASURING: dict[str, Any] = {
    "sampling": {"queue": "calibration", "low_risk_below": 0.2, "low_risk_percent": 3.0, "unflagged_percent": 3.0},
    "double_review": {"percent": 5.0, "seed": 0},
}


# The default (version 1 seeded by migration 0006, the over-refusal rule added by 0017, the measuring settings by
# 0021): hard limits escalate, likely harmful compliance and human-reported traffic is triaged, likely
# over-refusals go to their own queue, the rest is dropped (recorded) with a calibration sample, and a small share
# of queued items is reviewed twice (DEFAULT_MEASURING).
DEFAULT_POLICY: dict[str, Any] = {
    "rules": [
        {"name": "red team findings", "when": {"source_kinds": ["red_team"]}, "then": {"queue": "triage"}},
        {"name": "user reports", "when": {"source_kinds": ["user_report"]}, "then": {"queue": "triage"}},
        {"name": "risky", "when": {"risk": {HARMFUL: {"min": 0.3, "max": 1.0}}}, "then": {"queue": "triage"}},
        {"name": "a detector is sure", "when": {"any_detector_score": {"min": 0.8}}, "then": {"queue": "triage"}},
        {
            "name": "likely over-refusal",
            "when": {"verdicts": {"over_refusal": {"min": 0.5}}},
            "then": {"queue": "over-refusal"},
        },
    ],
    "fallback": {"drop": True},
    **DEFAULT_MEASURING,
}
