"""What a snapshot selects: filters and split options, parsed once and stored as JSON on the Dataset row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db.models import CharField, Func, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils.dateparse import parse_date, parse_datetime

from reviews.models import Category, Decision, PolicyVersion, Queue, Source, Verdict, gold_copy
from reviews.splits import SPLITS as SPLITS
from reviews.splits import split_key as split_key
from reviews.splits import split_of as split_of
from reviews.splits import splitter as splitter

DEFAULT_RATIOS = {"train": 0.8, "validation": 0.1, "test": 0.1}


class DatasetError(ValueError):
    """The snapshot cannot be built as asked (bad filters, kind, format or state)."""


def _strings(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise DatasetError(f"Filter {key!r} must be a list of strings.")
    return tuple(sorted(set(value)))


def _moment(value: Any, key: str, *, end: bool) -> datetime | None:
    """An ISO date or datetime; a bare date as `until` includes that whole day."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise DatasetError(f"Filter {key!r} must be an ISO date or datetime.")
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise DatasetError(f"Filter {key!r}: {value!r} is not an ISO date or datetime.")
        moment = datetime.combine(day + timedelta(days=1) if end else day, time.min)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes", "on")
    return bool(value)


def _unknown(kind: str, asked: tuple[Any, ...], known: set[Any]) -> None:
    missing = sorted(str(v) for v in set(asked) - known)
    if missing:
        raise DatasetError(f"Unknown {kind}: {', '.join(missing)}.")


@dataclass(frozen=True)
class DatasetFilters:
    since: datetime | None = None  # decided at or after
    until: datetime | None = None  # decided before (a bare date: through that day)
    queues: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # any of them (after merges)
    verdicts: tuple[str, ...] = ()
    final_only: bool = False
    policy_versions: tuple[int, ...] = ()
    min_agreement: float | None = None
    include_imported: bool = False  # imported sets' own labels (label_source "imported:<source>")

    FIELDS = (
        "since",
        "until",
        "queues",
        "sources",
        "categories",
        "verdicts",
        "final_only",
        "policy_versions",
        "min_agreement",
        "include_imported",
    )

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None) -> DatasetFilters:
        data = dict(data or {})
        extra = sorted(set(data) - set(cls.FIELDS))
        if extra:
            raise DatasetError(f"Unknown filters: {', '.join(extra)}; expected some of: {', '.join(cls.FIELDS)}.")
        versions = data.get("policy_versions") or []
        if isinstance(versions, int | str):
            versions = [versions]
        try:
            numbers = tuple(sorted({int(v) for v in versions}))
        except (TypeError, ValueError):
            raise DatasetError("Filter 'policy_versions' must be a list of version numbers.") from None
        agreement = data.get("min_agreement")
        if agreement not in (None, ""):
            try:
                agreement = float(agreement)
            except (TypeError, ValueError):
                raise DatasetError("Filter 'min_agreement' must be a number between 0 and 1.") from None
            if not 0 <= agreement <= 1:
                raise DatasetError("Filter 'min_agreement' must be between 0 and 1.")
        else:
            agreement = None
        final_only = _flag(data.get("final_only", False))
        filters = cls(
            since=_moment(data.get("since"), "since", end=False),
            until=_moment(data.get("until"), "until", end=True),
            queues=_strings(data, "queues"),
            sources=_strings(data, "sources"),
            categories=_strings(data, "categories"),
            verdicts=_strings(data, "verdicts"),
            final_only=bool(final_only),
            policy_versions=numbers,
            min_agreement=agreement,
            include_imported=_flag(data.get("include_imported", False)),
        )
        filters.validate()
        return filters

    def validate(self) -> None:
        _unknown("verdicts", self.verdicts, set(Verdict.values))
        _unknown("queues", self.queues, set(Queue.objects.filter(slug__in=self.queues).values_list("slug", flat=True)))
        names = set(Source.objects.filter(name__in=self.sources).values_list("name", flat=True))
        _unknown("sources", self.sources, names)
        slugs = set(Category.objects.filter(slug__in=self.categories).values_list("slug", flat=True))
        _unknown("categories", self.categories, slugs)
        numbers = PolicyVersion.objects.filter(number__in=self.policy_versions).values_list("number", flat=True)
        _unknown("policy versions", self.policy_versions, set(numbers))
        if self.since and self.until and self.since >= self.until:
            raise DatasetError("Filter 'since' must be before 'until'.")

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "queues": list(self.queues),
            "sources": list(self.sources),
            "categories": list(self.categories),
            "verdicts": list(self.verdicts),
            "final_only": self.final_only,
            "policy_versions": list(self.policy_versions),
            "min_agreement": self.min_agreement,
            "include_imported": self.include_imported,
        }

    def decisions(self) -> QuerySet[Decision]:
        """The filters the database applies; the rest need the conversation's whole group of decisions."""
        # Imported decisions with neither a verdict nor harmful_request hold only relative targets (hh-rlhf pairs).
        qs = Decision.objects.exclude(verdict="", harmful_request=None)
        qs = qs.exclude(gold_copy("item__conversation_id"))  # gold answers never reach an export
        if self.since:
            qs = qs.filter(created_at__gte=self.since)
        if self.until:
            qs = qs.filter(created_at__lt=self.until)
        if self.queues:
            qs = qs.filter(item__queue__slug__in=self.queues)
        if self.sources:
            qs = qs.filter(item__conversation__source__name__in=self.sources)
        if self.policy_versions:
            qs = qs.filter(item__policy_version__number__in=self.policy_versions)
        return qs

    def admits(self, *, decided_at: datetime, queue: str, source: str, policy_version: int | None) -> bool:
        """`decisions()` for one decision already read (staleness checks one conversation against each snapshot)."""
        return (
            (self.since is None or decided_at >= self.since)
            and (self.until is None or decided_at < self.until)
            and (not self.queues or queue in self.queues)
            and (not self.sources or source in self.sources)
            and (not self.policy_versions or policy_version in self.policy_versions)
        )


def split_ratios_parse(data: Mapping[str, Any] | None) -> dict[str, float]:
    if not data:
        return dict(DEFAULT_RATIOS)
    extra = sorted(set(data) - set(SPLITS))
    if extra:
        raise DatasetError(f"Unknown splits: {', '.join(extra)}; expected some of: {', '.join(SPLITS)}.")
    try:
        ratios = {name: float(data.get(name, 0)) for name in SPLITS}
    except (TypeError, ValueError):
        raise DatasetError("Split ratios must be numbers.") from None
    if any(r < 0 for r in ratios.values()) or abs(sum(ratios.values()) - 1) > 1e-6:
        raise DatasetError("Split ratios must be non-negative and add up to 1.")
    return {name: r for name, r in ratios.items() if r > 0}


class SplitKey(Func):
    """The 64 bits a conversation's split is drawn from, as 16 hex digits: the head of SHA-256 of
    "seed:conversation_id". The database computes it with the rows (a tenth of the Python hashlib call)."""

    output_field = CharField()

    def __init__(self, seed: int) -> None:
        super().__init__(Concat(Value(f"{seed}:"), Cast("item__conversation_id", CharField())))

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "encode(substring(sha256(convert_to(%(expressions)s, 'UTF8')) from 1 for 8), 'hex')"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # SHA256 is the hexdigest function Django's SQLite backend registers.
        return self.as_sql(compiler, connection, template="substr(SHA256(%(expressions)s), 1, 16)", **extra)
