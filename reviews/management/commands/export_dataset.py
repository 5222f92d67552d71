import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviews.datasets.builder import dataset_build, dataset_create
from reviews.datasets.filters import DatasetError
from reviews.models import DatasetFormat, DatasetKind, DatasetStatus


class Command(BaseCommand):
    help = (
        "Build a dataset snapshot from decisions here and now (no worker needed) and print its files. "
        'Filters as JSON, e.g. --filters \'{"verdicts": ["harmful_compliance"], "final_only": true}\'.'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=DatasetKind.values)
        parser.add_argument("--format", dest="fmt", default=DatasetFormat.JSONL, choices=DatasetFormat.values)
        parser.add_argument("--filters", default="{}", help="JSON object of filters (see the README).")
        parser.add_argument("--seed", type=int, default=0, help="Split seed.")
        parser.add_argument("--splits", default="", help='JSON ratios, e.g. \'{"train": 0.9, "test": 0.1}\'.')
        parser.add_argument("--license", default="")

    def handle(self, *args: Any, kind: str, fmt: str, filters: str, seed: int, splits: str, **options: Any) -> None:
        try:
            parsed_filters = json.loads(filters)
            ratios = json.loads(splits) if splits else None
        except json.JSONDecodeError as exc:
            raise CommandError(f"--filters and --splits take JSON: {exc}") from exc
        if not isinstance(parsed_filters, dict) or not isinstance(ratios, dict | None):
            raise CommandError("--filters and --splits take a JSON object.")
        try:
            dataset = dataset_create(
                kind=kind,
                format=fmt,
                filters=parsed_filters,
                seed=seed,
                split_ratios=ratios,
                license=options["license"],
                enqueue=False,
            )
        except DatasetError as exc:
            raise CommandError(str(exc)) from exc
        dataset = dataset_build(dataset_id=dataset.pk)
        if dataset.status != DatasetStatus.READY:
            raise CommandError(f"Dataset {dataset.pk} is {dataset.status}: {dataset.error}")
        self.stdout.write(f"Dataset {dataset.pk}: {dataset.row_count} {kind} rows, left out {dataset.skipped or {}}.")
        for split, info in dataset.files.items():
            self.stdout.write(f"  {split}: {info['rows']} rows  {info['path']}  sha256 {info['sha256']}")
