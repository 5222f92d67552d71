"""The analytics filter bar: a date range and optional queue, source, category and model.

Always bound to the query string, so a filtered page is a shareable URL; missing dates mean the last 7 days.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils import timezone

from reviews.analytics.types import AnalyticsFilters
from reviews.models import Category, Conversation, Queue, Source

DEFAULT_DAYS = 7
MAX_DAYS = 366
MAX_MODELS = 200  # the model list is a DISTINCT over conversations; a picker past this is unusable anyway
ALL = [("", "All")]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


class AnalyticsFilterForm(forms.Form):
    start = forms.DateField(label="From", required=False, widget=DateInput())
    end = forms.DateField(label="To", required=False, widget=DateInput())
    queue = forms.ChoiceField(required=False)
    source = forms.ChoiceField(required=False)
    category = forms.ChoiceField(required=False)
    model = forms.ChoiceField(required=False)

    def __init__(self, query: QueryDict) -> None:
        today = timezone.localdate()
        data = query.copy()
        data.setdefault("end", today.isoformat())
        data.setdefault("start", (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat())
        super().__init__(data)
        self.today = today
        self._choices("queue", Queue.objects.order_by("name").values_list("slug", "name"))
        self._choices("source", Source.objects.order_by("name").values_list("name", "name"))
        self._choices("category", Category.objects.order_by("position", "slug").values_list("slug", "name"))
        models = (
            Conversation.objects.exclude(model_name="")
            .order_by("model_name")
            .values_list("model_name", flat=True)
            .distinct()[:MAX_MODELS]
        )
        self._choices("model", ((name, name) for name in models))

    def _choices(self, name: str, choices: Any) -> None:
        self.fields[name].choices = ALL + list(choices)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if not (start and end):
            if not self.errors:  # an empty date field: the defaults were replaced by ""
                self.add_error("start" if not start else "end", "Enter a date.")
            return data
        if end < start:
            self.add_error("end", "The end date must be on or after the start date.")
        elif (end - start).days + 1 > MAX_DAYS:
            self.add_error("end", f"Choose a range of at most {MAX_DAYS} days.")
        if end > self.today + timedelta(days=1):
            self.add_error("end", "The end date is in the future.")
        return data

    def filters(self, *, reviewer_id: int | None = None) -> AnalyticsFilters:
        """Whole days in the site's time zone: from the start of `start` to the end of `end` (exclusive bound)."""
        data = self.cleaned_data
        return AnalyticsFilters(
            start=_midnight(data["start"]),
            end=_midnight(data["end"] + timedelta(days=1)),
            queue=data["queue"] or None,
            source=data["source"] or None,
            category=data["category"] or None,
            model=data["model"] or None,
            reviewer_id=reviewer_id,
        )


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
