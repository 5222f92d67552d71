from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviews.models import Dataset
from reviews.scoring.training_data import DatasetUnusable, snapshot_decision_ids
from reviews.taskqueue import TRAIN_QUEUE, TRAIN_TASK, enqueue


class Command(BaseCommand):
    help = "Train a new rescoring head from decisions (on the worker when a broker is set, else here)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--exclude-imported", action="store_true", help="Train on reviewers' decisions only.")
        parser.add_argument("--here", action="store_true", help="Train in this process even when a broker is set.")
        parser.add_argument("--dataset", type=int, help="Train on this classifier snapshot's rows (its id).")

    def handle(self, *args: Any, exclude_imported: bool, here: bool, dataset: int | None, **options: Any) -> None:
        snapshot = Dataset.objects.filter(pk=dataset).first() if dataset is not None else None
        if dataset is not None:
            if snapshot is None:
                raise CommandError(f"No dataset {dataset}.")
            try:
                snapshot_decision_ids(dataset=snapshot)
            except DatasetUnusable as exc:
                raise CommandError(str(exc)) from exc
        if here:
            from worker.versions import NotEnoughLabels, model_train

            try:
                model = model_train(include_imported=not exclude_imported, dataset=snapshot)
            except NotEnoughLabels as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(_report(model))
            return
        enqueue(TRAIN_TASK, dataset, not exclude_imported, queue=TRAIN_QUEUE)
        self.stdout.write("Training queued on the score worker; the new version appears in status 'ready'.")


def _report(model: Any) -> str:
    lines = [
        f"Scoring model v{model.version} is ready ({model.metrics['train_size']} train, "
        f"{model.metrics['val_size']} validation, {model.metrics['epochs']} epochs)."
    ]
    lines.append(f"{'label':<20} {'pos':>5} {'AUROC':>7} {'AUPRC':>7} {'F1':>6} {'ECE':>6}")
    for label, m in model.metrics["per_label"].items():
        cells = [m.get(k) for k in ("auroc", "auprc", "f1", "ece")]
        shown = " ".join(f"{c:>7.3f}" if c is not None else f"{'-':>7}" for c in cells)
        lines.append(f"{label:<20} {m['positives']:>5} {shown}")
    return "\n".join(lines)
