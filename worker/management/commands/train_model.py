from argparse import ArgumentTypeError, BooleanOptionalAction
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviews.models import Dataset
from reviews.scoring.training_data import DatasetUnusable, snapshot_decision_ids
from reviews.taskqueue import TRAIN_QUEUE, TRAIN_TASK, enqueue


def positive_int(text: str) -> int:
    value = int(text) if text.strip().isdigit() else 0
    if value < 1:
        raise ArgumentTypeError(f"expected a whole number of conversations, 1 or more; got {text!r}")
    return value


class Command(BaseCommand):
    help = "Train a new rescoring head from decisions (on the worker when a broker is set, else here)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--exclude-imported", action="store_true", help="Train on reviewers' decisions only.")
        parser.add_argument("--here", action="store_true", help="Train in this process even when a broker is set.")
        parser.add_argument("--dataset", type=int, help="Train on this classifier snapshot's rows (its id).")
        parser.add_argument(
            "--fine-tune",
            action=BooleanOptionalAction,
            default=None,
            help="Train the encoder end to end too (default: on where the worker has CUDA, off on a CPU).",
        )
        parser.add_argument(
            "--fine-tune-rows",
            type=positive_int,
            metavar="N",
            help="Fine-tune on a random sample of N training conversations (default: all on CUDA, 6,000 on a CPU).",
        )
        parser.add_argument(
            "--no-reference",
            action="store_true",
            help="Leave out the reference conversations Oversight ships (reviews/imports/reference.py: benign "
            "requests, flagged user turns and their look-alikes), which training otherwise imports and learns from.",
        )
        parser.add_argument(
            "--no-loso", action="store_true", help="Skip the leave-one-source-out figures (one extra head per source)."
        )

    def handle(
        self,
        *args: Any,
        exclude_imported: bool,
        here: bool,
        dataset: int | None,
        fine_tune: bool | None,
        fine_tune_rows: int | None,
        no_loso: bool,
        no_reference: bool,
        **options: Any,
    ) -> None:
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
                model = model_train(
                    include_imported=not exclude_imported,
                    dataset=snapshot,
                    fine_tune=fine_tune,
                    fine_tune_rows=fine_tune_rows,
                    loso=not no_loso,
                    reference=not no_reference,
                )
            except NotEnoughLabels as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(model_report(model))
            return
        enqueue(
            TRAIN_TASK,
            dataset,
            not exclude_imported,
            False,
            fine_tune,
            not no_loso,
            fine_tune_rows,
            not no_reference,
            queue=TRAIN_QUEUE,
        )
        self.stdout.write("Training queued on the score worker; the new version appears in status 'ready'.")


def _cells(m: dict[str, Any], keys: tuple[str, ...] = ("auroc", "auprc", "ece")) -> str:
    return " ".join(f"{m[k]:>7.3f}" if m.get(k) is not None else f"{'-':>7}" for k in keys)


def model_report(model: Any) -> str:
    """The metrics `model_train` stored, as text: outputs, categories, leave-one-source-out, comparison."""
    metrics = model.metrics
    lines = [
        f"Scoring model v{model.version} is ready ({metrics['train_size']} train, {metrics['val_size']} validation "
        f"conversations, split by {metrics['split']}, {metrics['epochs']} epochs; encoder {model.encoder}).",
        *(
            ["Among them, Oversight's reference conversations (reviews/imports/reference.py; --no-reference)."]
            if metrics.get("reference")
            else []
        ),
        "",
        f"{'output (calibrated)':<22} {'pos':>6} {'n':>6} {'AUROC':>7} {'AUPRC':>7} {'ECE':>7}",
    ]
    for name, m in metrics["outputs"].items():
        lines.append(f"{name:<22} {m['positives']:>6} {m['support']:>6} {_cells(m)}")
    lines += ["", f"{'category':<22} {'pos':>6} {'n':>6} {'AUROC':>7} {'AUPRC':>7} {'ECE':>7}"]
    for label, m in metrics["per_label"].items():
        if label in metrics["outputs"] or label == "harmful":  # the outputs, and the risk's older name
            continue
        lines.append(f"{label:<22} {m['positives']:>6} {m['support']:>6} {_cells(m)}")
    if metrics.get("loso"):
        lines += [
            "",
            "Leave one source out (trained without the source and the other sources' near-duplicates of its",
            "requests, `shared`; evaluated on all its rows): AUROC",
        ]
        outputs = ("request_harmful", "complied", "harmful_compliance", "risk")
        lines.append(f"{'source':<24} {'rows':>6} {'shared':>6} " + " ".join(f"{o[:18]:>18}" for o in outputs))
        for source, row in metrics["loso"].items():
            cells = [row.get(o, {}).get("auroc") for o in outputs]
            shown = " ".join(f"{c:>18.3f}" if c is not None else f"{'-':>18}" for c in cells)
            lines.append(f"{source:<24} {row['rows']:>6} {row.get('shared', '-'):>6} {shown}")
    comparison = metrics.get("comparison")
    if comparison:
        auprc = comparison["harmful_compliance_auprc"]
        c, a, d = auprc["candidate"], auprc["active"], auprc["difference"]
        lines += [
            "",
            f"Against the active v{comparison['against']} on {comparison['rows']} common validation rows "
            f"({comparison['positives']} harmful compliance): harmful-compliance AUPRC "
            f"{c['value']:.3f} [{c['low']:.3f}, {c['high']:.3f}] against {a['value']:.3f} "
            f"[{a['low']:.3f}, {a['high']:.3f}]; difference 95% CI [{d['low']:+.3f}, {d['high']:+.3f}]",
        ]
    return "\n".join(lines)
