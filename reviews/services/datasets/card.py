"""The dataset card: a README.md written beside the files. No conversation text goes into it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reviews.models import Dataset, DatasetKind

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
        "Classifier labels: `text` as the rescoring encoder reads it (reviews/text.py) and one 0/1 column per "
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


def card_render(dataset: Dataset, *, labels: Sequence[str]) -> str:
    dist = dataset.label_distribution
    agreement = dist.get("agreement", {})
    filters = {key: value for key, value in dataset.filters.items() if value not in (None, [], False)}
    ext = {"jsonl": "json", "jsonl.gz": "json", "parquet": "parquet"}[dataset.format]
    data_files = ", ".join(f'"{name}": "{name}.{dataset.format}"' for name in dataset.files)
    lines = [
        "---",
        f"license: {dataset.license or 'other'}",
        f"pretty_name: Oversight {dataset.kind} snapshot {dataset.pk}",
        "---",
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
        "```python",
        "from datasets import load_dataset",
        f'ds = load_dataset("{ext}", data_files={{{data_files}}})',
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
