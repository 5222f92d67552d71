from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from reviews.demo.seed import demo_seed


class Command(BaseCommand):
    help = "Create demo users (admin, senior, reviewer), a demo source and synthetic flagged conversations."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--conversations", type=int, default=300)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--no-train", action="store_true", help="Skip training the first scoring model.")

    def handle(self, *args: Any, conversations: int, seed: int, no_train: bool, **options: Any) -> None:
        summary = demo_seed(password=settings.DEMO_PASSWORD, conversations=conversations, seed=seed, train=not no_train)
        self.stdout.write(
            f"Demo users {', '.join(summary.users)} (password from DEMO_PASSWORD). "
            f"Conversations: {summary.accepted} new, {summary.duplicates} already there."
        )
        if summary.decided:
            self.stdout.write(f"The demo reviewer decided {summary.decided} of them.")
        if summary.escalated:
            self.stdout.write(f"It escalated {summary.escalated}, and the demo senior resolved them.")
        if summary.model_version:
            self.stdout.write(f"Trained and promoted scoring model v{summary.model_version} from the demo labels.")
        if summary.token:
            self.stdout.write(f"Demo source token (shown once): {summary.token}")
