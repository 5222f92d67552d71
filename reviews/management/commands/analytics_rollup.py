from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from reviews.analytics.rollup import analytics_rollup


class Command(BaseCommand):
    help = "Bring the analytics rollups up to date (beat does this every few minutes); --full rebuilds them all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--full", action="store_true", help="Recompute every hour from the start of the data.")

    def handle(self, *args: Any, full: bool, **options: Any) -> None:
        result = analytics_rollup(full=full)
        self.stdout.write(
            f"Recomputed {result.hours} hours and {result.days} days: {result.rows} rollup rows "
            f"in {result.seconds:.1f}s."
        )
