from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviews.models import ScoringModel
from reviews.scoring.model_registry import PromotionError, PromotionNeedsConfirmation, model_promote


class Command(BaseCommand):
    help = "Make a trained scoring model version active; the open backlog is rescored in the background."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version", type=int)
        parser.add_argument(
            "--force", action="store_true", help="Promote even when it is worse than the active model on common rows."
        )

    def handle(self, *args: Any, version: int, force: bool, **options: Any) -> None:
        model = ScoringModel.objects.filter(version=version).first()
        if model is None:
            raise CommandError(f"No scoring model v{version}.")
        try:
            backlog = model_promote(model=model, force=force)
        except PromotionNeedsConfirmation as exc:
            raise CommandError(f"{exc} Pass --force to promote it anyway.") from exc
        except PromotionError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Scoring model v{version} is active; {len(backlog)} open conversations queued for rescoring."
        )
