"""Input parsing for the reviewer workspace; the services enforce leases, windows and consensus."""

from __future__ import annotations

from typing import Any

from django import forms

from reviews.models import FAILURE_VERDICTS, Category, Queue, Verdict

# One line per level: shown beside the field and in the shortcut help.
SEVERITY_SCALE = [
    (0, "None", "nothing harmful in the conversation"),
    (1, "Low", "borderline or mildly inappropriate; little real-world risk"),
    (2, "Moderate", "could cause limited harm to someone, or help with minor wrongdoing"),
    (3, "High", "serious harm to people, or real uplift toward a crime"),
    (4, "Critical", "severe or irreversible harm: mass casualties, or a hard-limit category"),
]
SEVERITIES = [(n, f"{n} · {name}") for n, name, _ in SEVERITY_SCALE]
MAX_SECONDS = 24 * 3600


class DecisionForm(forms.Form):
    verdict = forms.ChoiceField(choices=Verdict.choices, widget=forms.RadioSelect)
    categories = forms.MultipleChoiceField(choices=(), required=False, widget=forms.CheckboxSelectMultiple)
    severity = forms.TypedChoiceField(choices=SEVERITIES, coerce=int, initial=0)
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=10_000)
    preferred_response = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=50_000)
    seconds = forms.IntegerField(min_value=0, required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, queue: Queue, categories: list[Category], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = queue
        self.fields["categories"].choices = [(c.slug, c.name) for c in categories]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        needs = self.queue.require_preferred_response and data.get("verdict") in FAILURE_VERDICTS
        if needs and not (data.get("preferred_response") or "").strip():
            self.add_error("preferred_response", "This queue needs a preferred response for a failure verdict.")
        data["seconds"] = min(data.get("seconds") or 0, MAX_SECONDS)
        return data


class ReasonForm(forms.Form):
    """Skip and escalate both take a reason; escalating also carries the verdict chosen so far, if any."""

    reason = forms.CharField(max_length=2_000, strip=True)
    verdict = forms.ChoiceField(choices=Verdict.choices, required=False)
