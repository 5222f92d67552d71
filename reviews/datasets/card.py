"""The dataset card: a README.md written beside the files. No conversation text goes into it."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import yaml
from django.template.loader import render_to_string

from reviews.datasets.filters import DatasetError
from reviews.datasets.settled import SKIP_REASONS
from reviews.datasets.writers import EXTENSIONS, schema_for
from reviews.models import Dataset, DatasetFormat, DatasetKind

CARD_TEMPLATE = "reviews/datasets/card.md"
WHAT = {
    DatasetKind.PREFERENCE: (
        "Preference pairs in TRL's conversational form: `prompt` (messages up to the judged turn), `chosen` and "
        "`rejected` (one assistant message each). Only failures (harmful compliance, over-refusal) with a "
        "reviewer's preferred response: the model's answer is `rejected`, the reviewer's `chosen`."
    ),
    DatasetKind.SFT: (
        "Supervised fine-tuning examples: `messages` ending in a good assistant turn (the model's when reviewers "
        "judged it appropriate, the reviewer's preferred response otherwise)."
    ),
    DatasetKind.CLASSIFIER: (
        "Classifier labels: the judged `request` and `response` as the rescoring encoder reads them, each in its own "
        "window (reviews/scoring/text.py; `response` is empty where the request alone is judged), `text` the two in "
        "one string, and one 0/1 column per category, then `harmful` (the request is harmful)."
    ),
    DatasetKind.EVAL: (
        "Evaluation set on the four-cell safety grid: `prompt`, `response`, `is_harmful`, `model_refused`, `verdict`."
    ),
}
LIMITS = [
    "Only settled work: a senior's ruling, reviewers who agree once every review asked for is in, or a single "
    "review past its queue's edit window. `label_source` says which (`senior`, `consensus`, `reviewer`; `bulk` for a "
    "campaign's verdict applied from a reviewed sample), or `imported:<source>` for an imported set's own labels, "
    "left out unless the snapshot asks for them.",
    "One row per conversation: its final (senior) decision where there is one, else its newest decision.",
    "`agreement` is the share of reviewers whose verdict matches the row's; 1.0 with a single review.",
    "Labels reflect the taxonomy and policy versions below; a later decision that a rebuild would turn into a "
    "different row marks this snapshot stale, it does not change it.",
    'Tool calls: a tool\'s results are kept as `{"role": "tool", "content": ...}` messages before the answer '
    "that follows them (TRL's message format); the assistant turn that called the tool is its text as received.",
    "Conversations are untrusted text: they may contain harmful requests and adversarial payloads.",
]


LICENSE_MAX = 100


def license_clean(text: str) -> str:
    """The license as the card records it: one line of printable text, at most LICENSE_MAX characters.

    It reaches the card's YAML header (a serializer quotes it there anyway) and its Markdown; a line break
    once let a license rewrite the header's `configs`."""
    text = text.strip()
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text):
        raise DatasetError("License must be one line of printable text (no line breaks or control characters).")
    if len(text) > LICENSE_MAX:
        raise DatasetError(f"License must be at most {LICENSE_MAX} characters; it has {len(text)}.")
    return text


def _table(counts: dict[str, Any], head: tuple[str, str], title: str = "") -> dict[str, Any]:
    return {"title": title, "head": head, "rows": [(key, str(value)) for key, value in counts.items()]}


def _feature(field: pa.Field) -> dict[str, Any]:
    """One column in the card's `dataset_info.features` (the YAML `datasets` reads beside the files)."""
    kind = field.type
    if pa.types.is_list(kind):
        item = kind.value_type
        if pa.types.is_struct(item):
            return {"name": field.name, "list": [_feature(member) for member in item]}
        return {"name": field.name, "list": _DTYPES[str(item)]}
    return {"name": field.name, "dtype": _DTYPES[str(kind)]}


def _front_matter(dataset: Dataset, labels: Sequence[str]) -> str:
    """The YAML header, emitted by a serializer: no value (the license is free text) can add or change keys."""
    ext = EXTENSIONS[DatasetFormat(dataset.format)]
    header = {
        "license": dataset.license or "other",
        "pretty_name": f"Oversight {dataset.kind} snapshot {dataset.pk}",
        "configs": [
            {
                "config_name": "default",
                "data_files": [
                    {"split": name, "path": f"{name}.{ext}"} for name, info in dataset.files.items() if info["rows"]
                ],
            }
        ],
        "dataset_info": {"features": [_feature(field) for field in schema_for(dataset.kind, labels)]},
    }
    return yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=1000)


_DTYPES = {"string": "string", "int64": "int64", "double": "float64", "bool": "bool"}


def card_context(dataset: Dataset, *, labels: Sequence[str]) -> dict[str, Any]:
    """What the card shows, every value as the text it prints. The YAML header lists the files and column types:
    `load_dataset("<this folder>")` loads the splits with these types (JSON lines carry none, and inferred from
    the first rows a column of empty lists reads as nulls)."""
    dist = dataset.label_distribution
    agreement = dist.get("agreement", {})
    tables = [
        _table(dist.get("verdicts", {}), ("verdict", "rows")),
        _table(dist.get("categories", {}), ("category", "rows")),
    ]
    if dataset.kind == DatasetKind.CLASSIFIER:
        tables.append(_table(dist.get("labels", {}), ("label", "positives"), "Positives per label:"))
    return {
        "front_matter": _front_matter(dataset, labels),
        "license_shown": dataset.license or "not set",
        "kind": dataset.kind,
        "kind_display": dataset.get_kind_display().lower(),
        "pk": str(dataset.pk),
        "what": WHAT[DatasetKind(dataset.kind)],
        "row_count": str(dataset.row_count),
        "format": dataset.format,
        "built": str(dataset.finished_at or dataset.created_at),
        "taxonomy_version": dataset.taxonomy_version or "-",
        "policy_version": str(dataset.policy_version or "-"),
        "seed": str(dataset.seed),
        "split_ratios": str(dataset.split_ratios),
        "files": [{"name": name, "rows": str(f["rows"]), "sha256": f["sha256"]} for name, f in dataset.files.items()],
        "labels": ", ".join(labels),
        "tables": tables,
        "harmful": str(dist.get("harmful", 0)),
        "final_decisions": str(dist.get("final_decisions", 0)),
        "agreement_mean": str(agreement.get("mean")),
        "unanimous": str(agreement.get("unanimous", 0)),
        "filters": [(key, str(value)) for key, value in dataset.filters.items() if value not in (None, [], False)],
        "skipped": [
            (reason, str(count), SKIP_REASONS.get(reason, "")) for reason, count in sorted(dataset.skipped.items())
        ],
        "limits": LIMITS,
    }


def card_render(dataset: Dataset, *, labels: Sequence[str]) -> str:
    """The README.md: reviews/templates/reviews/datasets/card.md over `card_context`."""
    return render_to_string(CARD_TEMPLATE, card_context(dataset, labels=labels))
