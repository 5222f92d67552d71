from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviews.imports import FORMATS, ImportFormatError
from reviews.imports.services import dataset_import


class Command(BaseCommand):
    help = (
        "Import one file of a labelled dataset: conversations through ingest, labels as imported decisions with the "
        "verdict grid's targets. Formats: "
        + ", ".join(FORMATS)
        + ". reviews/imports/README.md maps each onto the grid; a malformed file imports nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("format", choices=sorted(FORMATS), help="The dataset format (see the list above).")
        parser.add_argument(
            "path",
            type=Path,
            help="One data file. Some formats read a companion beside it: gptfuzz question_list.csv, stormfront "
            "all_files.tar.gz; coconot and jbb-behaviors take the label from the file name.",
        )
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
