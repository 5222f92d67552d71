from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviews.ingest.sources import source_revoke
from reviews.models import Source


class Command(BaseCommand):
    help = "Revoke a source's API token: its requests are refused from now on; its data stays."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        source = Source.objects.filter(name=name).first()
        if source is None:
            raise CommandError(f"No source named {name!r}.")
        source_revoke(source=source)
        self.stdout.write(f"Revoked the token of source {name!r}.")
