"""The policy editor's form: input parsing only; the policies service validates the document."""

from django import forms

from reviews.routing.policies import DRY_RUN_DEFAULT

DRY_RUN_MAX = 100_000


class PolicyForm(forms.Form):
    """The policy editor: the document as JSON text, a note for activation, a dry-run size."""

    text = forms.CharField(
        label="Policy document (JSON)",
        widget=forms.Textarea(attrs={"class": "code", "rows": 30, "spellcheck": "false", "autocomplete": "off"}),
    )
    note = forms.CharField(label="Activation note", max_length=200, required=False)
    limit = forms.IntegerField(
        label="Dry run: last … conversations",
        min_value=1,
        max_value=DRY_RUN_MAX,
        required=False,
        initial=DRY_RUN_DEFAULT,
    )

    def clean_limit(self) -> int:
        return self.cleaned_data.get("limit") or DRY_RUN_DEFAULT
