import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviews.audit import ChainReport, audit_chain_verify
from reviews.models import AuditEvent

HASH = re.compile(r"[0-9a-f]{64}")


class Command(BaseCommand):
    help = (
        "Walk the audit trail's hash chain and recompute every hash; exit non-zero at the first broken link. "
        "Prints the event count and the head (newest event's) hash. The chain cannot show events cut from its "
        "end, nor a chain its table's owner recomputed whole: keep the printed head somewhere else and pass it "
        "back with --expect."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--expect",
            metavar="HASH",
            help="Head hash kept from an earlier run (or /metrics, or the beat log): exit non-zero unless the "
            "head is still exactly this one. The message says whether that hash is still in the chain (events "
            "were appended since) or gone (events up to it were rewritten or removed).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        expected = options["expect"]
        if expected is not None and not HASH.fullmatch(expected.strip().lower()):
            raise CommandError("--expect takes a head hash: 64 hexadecimal characters, as this command prints.")
        report = audit_chain_verify()
        if report.broken_at is not None:
            raise CommandError(
                f"Audit chain broken at event {report.broken_at}: {report.problem} "
                f"({report.events} events before it are intact)."
            )
        where = f"event {report.last_id}" if report.last_id is not None else "no events yet"
        self.stdout.write(f"{report.events} events, chain intact, head {report.last_hash} ({where})")
        if expected is not None:
            self._compare(report, expected.strip().lower())

    def _compare(self, report: ChainReport, expected: str) -> None:
        if report.last_hash == expected:
            self.stdout.write("head matches the expected hash")
            return
        kept = AuditEvent.objects.filter(hash=expected).values_list("pk", flat=True).first()
        if kept is not None:
            after = AuditEvent.objects.filter(pk__gt=kept).count()
            how = f"that hash is still in the chain, {after} event(s) after it (appended since it was kept?)"
        else:
            how = (
                "that hash is not in the chain: events up to it were rewritten (hashes recomputed) or removed, "
                "or it was kept from another database"
            )
        raise CommandError(f"Audit head is {report.last_hash}, not the expected {expected}: {how}.")
