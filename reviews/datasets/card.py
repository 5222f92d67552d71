"""The dataset card: a README.md written beside the files. No conversation text goes into it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from reviews.datasets.writers import EXTENSIONS, schema_for
from reviews.models import Dataset, DatasetFormat, DatasetKind

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
        "Classifier labels: `text` as the rescoring encoder reads it (reviews/scoring/text.py) and one 0/1 column per "
        "category, then `harmful` (the request is harmful)."
    ),
    DatasetKind.EVAL: (
        "Evaluation set on the four-cell safety grid: `prompt`, `response`, `is_harmful`, `model_refused`, `verdict`."
    ),
}
LIMITS = [
    "One row per conversation: its final (senior) decision where there is one, else its newest decision.",
    "`agreement` is the share of reviewers whose verdict matches the row's; 1.0 with a single review.",
    "Labels reflect the taxonomy and policy versions below; later adjudications mark this snapshot stale, they do "
    "not change it.",
    "Conversations are untrusted text: they may contain harmful requests and adversarial payloads.",
]


def _table(counts: dict[str, Any], head: tuple[str, str]) -> list[str]:
    if not counts:
        return ["(none)", ""]
    lines = [f"| {head[0]} | {head[1]} |", "|---|---:|"]
    lines += [f"| {key} | {value} |" for key, value in counts.items()]
    return [*lines, ""]


def _feature(field: pa.Field, indent: str) -> list[str]:
    """One column in the card's `dataset_info.features` (the YAML `datasets` reads beside the files)."""
    kind = field.type
    if pa.types.is_list(kind):
        item = kind.value_type
        if pa.types.is_struct(item):
            members = [line for member in item for line in _feature(member, indent + "  ")]
            return [f"{indent}- name: {json.dumps(field.name)}", f"{indent}  list:", *members]
        return [f"{indent}- name: {json.dumps(field.name)}", f"{indent}  list: {_DTYPES[str(item)]}"]
    return [f"{indent}- name: {json.dumps(field.name)}", f"{indent}  dtype: {_DTYPES[str(kind)]}"]


_DTYPES = {"string": "string", "int64": "int64", "double": "float64", "bool": "bool"}


def _front_matter(dataset: Dataset, labels: Sequence[str]) -> list[str]:
    """License, and the files and column types: `load_dataset("<this folder>")` loads the splits with these
    types. JSON lines carry none, and inferred from the first rows a column of empty lists reads as nulls."""
    ext = EXTENSIONS[DatasetFormat(dataset.format)]
    splits = [name for name, info in dataset.files.items() if info["rows"]]
    lines = [
        "---",
        f"license: {dataset.license or 'other'}",
        f"pretty_name: Oversight {dataset.kind} snapshot {dataset.pk}",
        "configs:",
        "- config_name: default",
        "  data_files:",
        *(line for name in splits for line in (f"  - split: {name}", f"    path: {name}.{ext}")),
        "dataset_info:",
        "  features:",
        *(line for field in schema_for(dataset.kind, labels) for line in _feature(field, "  ")),
        "---",
    ]
    return lines


def card_render(dataset: Dataset, *, labels: Sequence[str]) -> str:
    dist = dataset.label_distribution
    agreement = dist.get("agreement", {})
    filters = {key: value for key, value in dataset.filters.items() if value not in (None, [], False)}
    lines = [
        *_front_matter(dataset, labels),
        "",
        f"# Oversight {dataset.get_kind_display().lower()} · snapshot {dataset.pk}",
        "",
        WHAT[DatasetKind(dataset.kind)],
        "",
        f"- Rows: {dataset.row_count}",
        f"- Format: {dataset.format}",
        f"- Built: {dataset.finished_at or dataset.created_at}",
        f"- Taxonomy version: {dataset.taxonomy_version or '-'}; active policy: {dataset.policy_version or '-'}",
        f"- Split seed: {dataset.seed}; ratios: {dataset.split_ratios}",
        f"- License: {dataset.license or 'not set'}",
        "",
        "## Files",
        "",
        "| split | rows | sha256 |",
        "|---|---:|---|",
        *(f"| {name} | {f['rows']} | `{f['sha256']}` |" for name, f in dataset.files.items()),
        "",
        "Download the files and this README.md into one folder; its header gives `datasets` the splits and the",
        "column types:",
        "",
        "```python",
        "from datasets import load_dataset",
        'ds = load_dataset("path/to/the/folder")',
        "```",
        "",
        "## Label balance",
        "",
        *_table(dist.get("verdicts", {}), ("verdict", "rows")),
        *_table(dist.get("categories", {}), ("category", "rows")),
    ]
    if dataset.kind == DatasetKind.CLASSIFIER:
        lines += ["Positives per label:", "", *_table(dist.get("labels", {}), ("label", "positives"))]
    lines += [
        f"Harmful requests: {dist.get('harmful', 0)} of {dataset.row_count}; "
        f"final (senior) decisions: {dist.get('final_decisions', 0)}.",
        "",
        "## Reviewer agreement",
        "",
        f"Mean agreement {agreement.get('mean')}; unanimous rows {agreement.get('unanimous', 0)}.",
        "",
        "## Filters",
        "",
        *([f"- {key}: {value}" for key, value in filters.items()] or ["- none"]),
        "",
        "## Left out",
        "",
        *([f"- {reason}: {count}" for reason, count in dataset.skipped.items()] or ["- nothing"]),
        "",
        "## Known limits",
        "",
        *(f"- {limit}" for limit in LIMITS),
        "",
    ]
    if labels:
        lines.insert(lines.index("## Label balance"), f"Label columns: {', '.join(labels)}.\n")
    return "\n".join(lines)
