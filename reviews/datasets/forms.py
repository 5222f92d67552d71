"""The snapshot builder's form: input parsing only; the builder validates filters and ratios."""

from typing import Any

from django import forms

from reviews.models import Category, DatasetFormat, DatasetKind, PolicyVersion, Queue, Source, Verdict


class DatasetForm(forms.Form):
    """The snapshot builder: kind, format, filters, split; `snapshot()` gives dataset_create's arguments."""

    kind = forms.ChoiceField(choices=DatasetKind.choices)
    format = forms.ChoiceField(choices=DatasetFormat.choices, initial=DatasetFormat.JSONL)
    since = forms.DateField(required=False, help_text="Decided on or after (YYYY-MM-DD).")
    until = forms.DateField(required=False, help_text="Decided on or before (YYYY-MM-DD).")
    queues = forms.MultipleChoiceField(required=False)
    sources = forms.MultipleChoiceField(required=False)
    categories = forms.MultipleChoiceField(required=False)
    verdicts = forms.MultipleChoiceField(required=False, choices=Verdict.choices)
    policy_versions = forms.MultipleChoiceField(required=False)
    final_only = forms.BooleanField(required=False, label="Final (senior) decisions only")
    min_agreement = forms.FloatField(required=False, min_value=0, max_value=1, label="Minimum reviewer agreement")
    seed = forms.IntegerField(min_value=0, initial=0, label="Split seed")
    train = forms.FloatField(min_value=0, max_value=1, initial=0.8)
    validation = forms.FloatField(min_value=0, max_value=1, initial=0.1)
    test = forms.FloatField(min_value=0, max_value=1, initial=0.1)
    license = forms.CharField(max_length=100, required=False, help_text="Recorded in the dataset card.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["queues"].choices = Queue.objects.values_list("slug", "name")
        fields["sources"].choices = [(n, n) for n in Source.objects.values_list("name", flat=True)]
        fields["categories"].choices = Category.objects.values_list("slug", "name")
        numbers = PolicyVersion.objects.order_by("-number").values_list("number", flat=True)
        fields["policy_versions"].choices = [(str(n), f"v{n}") for n in numbers]

    def snapshot(self) -> dict[str, Any]:
        data = self.cleaned_data
        filters = {key: data[key] for key in ("queues", "sources", "categories", "verdicts", "policy_versions")}
        filters.update(
            since=data["since"].isoformat() if data["since"] else None,
            until=data["until"].isoformat() if data["until"] else None,
            final_only=data["final_only"],
            min_agreement=data["min_agreement"],
        )
        return {
            "kind": data["kind"],
            "format": data["format"],
            "filters": filters,
            "seed": data["seed"],
            "split_ratios": {name: data[name] for name in ("train", "validation", "test")},
            "license": data["license"],
        }
