from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviews.models import ScoringModel
from reviews.scoring.model_registry import PromotionError, model_promote


class Command(BaseCommand):
    help = "Make a trained scoring model version active; the open backlog is rescored in the background."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version", type=int)

    def handle(self, *args: Any, version: int, **options: Any) -> None:
        model = ScoringModel.objects.filter(version=version).first()
        if model is None:
            raise CommandError(f"No scoring model v{version}.")
        try:
            backlog = model_promote(model=model)
        except PromotionError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Scoring model v{version} is active; {len(backlog)} open conversations queued for rescoring."
        )
