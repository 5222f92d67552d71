"""Dataset snapshots: reviewers' decisions turned into preference, SFT, classifier and eval data.

- builder.py: `dataset_create`, `dataset_build` (the task's body), `dataset_cancel`
- staleness.py: `dataset_mark_stale`, called when a decision changes (kept free of pyarrow)
- downloads.py: `dataset_open`, a download recorded in the audit trail
- rows.py: the row shape of each kind; writers.py: JSONL, gzip JSONL, Parquet; card.py: README.md
- filters.py: filters, split ratios and the seeded split by conversation
- views.py, forms.py, consumers.py: the datasets page and its websocket; api.py: the `/api/v1/datasets` router

Import from the modules: this package imports nothing, so a caller of one service loads no more than it needs.
"""
