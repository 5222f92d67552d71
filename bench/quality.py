"""How good is a head bootstrapped from the public labeled sets in ../shared/data?

1. Imports every labeled set (through `import_dataset`'s service) into a throw-away
   SQLite database, trains a head on all of them (the split is by conversation) and
   prints validation AUROC / AUPRC / F1 / ECE per label.
2. Generalisation across data sets: trains on everything except DiaSafety, and
   evaluates on DiaSafety's validation split, which the head never saw in any form.

Run from the repository root (a few minutes on 2 CPU cores; encoding dominates):

    .venv/bin/python bench/quality.py
"""

from __future__ import annotations

import sys

# Run as a file: put the repository root first on sys.path, so `bench._harness` imports as a package.
if __package__ in (None, ""):
    sys.path[0] = str(__import__("pathlib").Path(__file__).resolve().parent.parent)

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"

# (format, path under DATA, source name)
SETS = [
    ("xstest-prompts", "xstest/xstest_prompts.csv", "xstest-prompts"),
    ("xstest-completions", "xstest/model_completions/xstest_v2_completions_gpt4.csv", "xstest-gpt4"),
    ("xstest-completions", "xstest/model_completions/xstest_v2_completions_llama2new.csv", "xstest-llama2"),
    (
        "xstest-completions",
        "xstest/automated_evaluation_labels/xstest_v2_completions_mistralinstruct_gpteval.csv",
        "xstest-mistral",
    ),
    ("harmbench", "harmbench/harmbench_behaviors_text_all.csv", "harmbench"),
    ("jbb-behaviors", "jailbreakbench/harmful-behaviors.csv", "jbb"),
    ("jbb-behaviors", "jailbreakbench/benign-behaviors.csv", "jbb"),
    ("jbb-artifacts", "jailbreakbench/jbb_attack_artifacts_dev.jsonl", "jbb-artifacts"),
    ("diasafety", "diasafety/train.json", "diasafety-train"),
    ("diasafety", "diasafety/val.json", "diasafety-val"),
    ("convabuse", "convabuse/ConvAbuseEMNLPtrain.csv", "convabuse"),
    ("convabuse", "convabuse/ConvAbuseEMNLPvalid.csv", "convabuse"),
]


def setup_django(db_path: Path) -> None:
    os.environ.pop("REDIS_URL", None)
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "oversight.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def print_metrics(title: str, per_label: dict[str, dict[str, float | int | None]]) -> None:
    print(f"\n{title}\n{'label':<18} {'pos':>5} {'n':>6} {'AUROC':>7} {'AUPRC':>7} {'F1':>6} {'ECE':>6}")
    for label, m in per_label.items():
        cells = " ".join(
            f"{m[k]:>7.3f}" if m.get(k) is not None else f"{'-':>7}" for k in ("auroc", "auprc", "f1", "ece")
        )
        print(f"{label:<18} {m['positives']:>5} {m['support']:>6} {cells}")


def main() -> None:
    if not DATA.is_dir():
        sys.exit(f"The shared datasets are not at {DATA}.")
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(Path(tmp) / "quality.sqlite3")
        import numpy as np

        from reviews.imports.services import dataset_import
        from reviews.models import Conversation
        from reviews.scoring.training_data import label_names, training_examples
        from worker.scoring import embed
        from worker.training import TrainConfig, metrics_by_label, train_head
        from worker.versions import model_train

        started = time.perf_counter()
        for fmt, relative, source in SETS:
            summary = dataset_import(fmt=fmt, path=DATA / relative, source_name=source)
            print(f"imported {relative}: {summary.accepted} conversations, {summary.labeled} labeled")

        model = model_train()
        print_metrics(
            f"Head v{model.version} trained on all sets: {model.metrics['train_size']} train, "
            f"{model.metrics['val_size']} validation conversations, {model.metrics['epochs']} epochs",
            model.metrics["per_label"],
        )

        labels = label_names()
        examples = training_examples()
        sources = dict(Conversation.objects.values_list("pk", "source__name"))
        vectors = embed([e.conversation_id for e in examples])

        def arrays(rows: list) -> tuple[np.ndarray, np.ndarray]:
            features = np.stack([vectors[e.conversation_id] for e in rows])
            targets = np.array([[label in e.labels for label in labels] for e in rows], dtype=np.float32)
            return features, targets

        rest = [e for e in examples if not sources[e.conversation_id].startswith("diasafety")]
        held_out = [e for e in examples if sources[e.conversation_id] == "diasafety-val"]
        result = train_head(*arrays(rest), TrainConfig())
        import torch

        features, targets = arrays(held_out)
        with torch.inference_mode():
            probs = torch.sigmoid(result.head(torch.from_numpy(features))).numpy()
        per_label = metrics_by_label(probs, targets, labels)
        shown = {k: v for k, v in per_label.items() if v["positives"]}
        print_metrics(
            f"Trained without DiaSafety ({result.train_size} train), evaluated on DiaSafety val ({len(held_out)})",
            shown,
        )
        print(f"\ntotal {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
