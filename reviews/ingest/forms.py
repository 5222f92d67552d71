"""The sources page's form: input parsing only; the sources service validates."""

from django import forms

from reviews.models import SourceKind


class SourceForm(forms.Form):
    name = forms.SlugField(max_length=100, help_text="Letters, digits, hyphens and underscores.")
    kind = forms.ChoiceField(choices=SourceKind.choices)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
