"""`bench/quality.py --fine-tune`: the issue's targets measured with a fine-tuned encoder, and the rows as a file.

The device machine (a GPU) has neither Django nor `../shared/data`, so `--export-rows` writes the labelled rows the
importers read here to one gzipped JSON-lines file (`var/device/`), and `--rows` reads them back there instead.

One fine-tuning run serves every target honestly: the encoder trains (`worker.finetune.fine_tune_views`, the
product's own loop) on every row except all of XSTest, DiaSafety, the JailbreakBench artifacts and GPTFuzz's
evaluate split, so no target's rows, nor the other copies of its prompts in XSTest, ever reach the encoder. Every row
is then encoded with the tuned weights, and the report trains its heads on those vectors as it does on the frozen
encoder's (each target still holding out its own rows from the head).
"""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

KEPT_FROM_ENCODER = ("xstest-prompts", "xstest-completions", "diasafety", "jbb-artifacts")


def kept_from_encoder(row: Any) -> bool:
    return row.source in KEPT_FROM_ENCODER or (row.source == "gptfuzz" and "evaluate" in row.file)


def save_rows(rows: list[Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(vars(row), ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {path} ({path.stat().st_size / 2**20:.1f} MiB)")


def read_rows(path: Path, row_type: type) -> list[Any]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        rows = [row_type(**json.loads(line)) for line in lines]
    print(f"read {len(rows)} rows from {path}")
    return rows


def tuned_features(rows: list[Any], categories: list[str], overrides: dict[str, Any]) -> np.ndarray:
    """[u, r, o] of every row from an encoder fine-tuned on the rows no target evaluates."""
    from reviews.scoring.text import text_views
    from worker.finetune import FineTuneConfig, fine_tune_views
    from worker.targets import TargetArrays
    from worker.training import TrainConfig, training_weights

    config = replace(FineTuneConfig.for_device(overrides.get("device")), **overrides)  # a CPU gets its sample
    targets = TargetArrays.build([r.targets for r in rows], categories)
    weights = training_weights([r.source for r in rows], targets, TrainConfig())
    views = [text_views(r.messages) for r in rows]
    train = {i: views[i] for i, row in enumerate(rows) if not kept_from_encoder(row)}
    started = time.perf_counter()
    tuned = fine_tune_views(train, targets, weights=weights, config=config)
    kept = f"{len(rows) - len(train)} kept out: {', '.join(KEPT_FROM_ENCODER)}, gptfuzz evaluate"
    print(
        f"fine-tuned the encoder on {min(len(train), config.max_rows or len(train))} of {len(train)} rows ({kept}), "
        f"{tuned.steps} steps on {tuned.device}, "
        f"{time.perf_counter() - started:.0f}s; {config}",
        flush=True,
    )
    started = time.perf_counter()
    features = tuned.encoder().encode_views(views)
    print(f"encoded {len(rows)} rows with the tuned encoder in {time.perf_counter() - started:.0f}s", flush=True)
    return features
