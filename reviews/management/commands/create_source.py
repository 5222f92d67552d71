from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviews.ingest.sources import SourceError, source_create
from reviews.models import SourceKind


class Command(BaseCommand):
    help = "Create a source (detector) and print its API token once, on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--kind", required=True, choices=SourceKind.values)
        parser.add_argument("--description", default="")

    def handle(self, *args: Any, name: str, kind: str, description: str, **options: Any) -> None:
        try:
            issued = source_create(name=name, kind=kind, description=description)
        except SourceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Created source {name!r}. The token below is shown once; only its hash is stored.")
        self.stdout.write(issued.token)
