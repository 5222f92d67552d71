from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviews.imports import FORMATS, ImportFormatError
from reviews.imports.services import dataset_import


class Command(BaseCommand):
    help = "Import a labeled public dataset: conversations through ingest, labels as imported decisions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("format", choices=sorted(FORMATS))
        parser.add_argument("path", type=Path)
        parser.add_argument("--source", required=True, help="Source name the conversations are filed under.")

    def handle(self, *args: Any, format: str, path: Path, source: str, **options: Any) -> None:
        try:
            summary = dataset_import(fmt=format, path=path, source_name=source)
        except ImportFormatError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Read {summary.read} conversations from {path}: {summary.accepted} new, "
            f"{summary.duplicates} already there, {summary.labeled} labeled."
        )
