from typing import Any

from django.core.management.base import BaseCommand, CommandError

from reviews.audit import audit_chain_verify


class Command(BaseCommand):
    help = (
        "Walk the audit trail's hash chain and recompute every hash; exit non-zero at the first broken link. "
        "The chain cannot show events cut from its end: keep the printed last hash somewhere else to compare."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_chain_verify()
        if report.broken_at is not None:
            raise CommandError(
                f"Audit chain broken at event {report.broken_at}: {report.problem} "
                f"({report.events} events before it are intact)."
            )
        self.stdout.write(f"{report.events} events, chain intact")
        if report.last_id is not None:
            self.stdout.write(f"last event {report.last_id}, hash {report.last_hash}")
