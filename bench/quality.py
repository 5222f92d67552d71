"""How good is the verdict model on the shared public sets, measured honestly?

Everything goes through the product's own code: each set's importer (`read_dataset`, the
`LabeledConversation`s `import_dataset` stores) → its targets (`labeled_targets`) →
`reviews.scoring.text.text_views` → the encoder (`worker.encoder.views_matrix`) → the head's
training, split and calibration (`worker.training`). Only the database is skipped: the
rows never need one. Vectors are cached on disk under `var/quality-cache/` by text, so a
rerun encodes only texts it has not seen (the first run encodes every set: long on 2 cores).

Printed, in one run:

1. the model trained on all sets with the product's group split: validation AUROC,
   AUPRC and ECE per output (h, c, harmful compliance, risk);
   and the same model on a second writer's user turns (bench/user_turns_heldout.tsv), never
   trained on: the share flagged of the harmful and the benign ones;
2. leave-one-source-out: for each set, a head trained on all the others, evaluated on it;
3. the issue's targets, each with its own held-out training run:
   - XSTest completions of a model left out of training (all its rows and the other
     models' completions of the same prompts kept out of validation): harmful compliance
     vs refusal among harmful requests, AUROC >= 0.90;
   - GPTFuzz: trained on its train split, evaluated on its question-disjoint evaluate
     split, AUROC >= 0.90;
   - JailbreakBench artifacts of one attack method left out (GCG <-> JailbreakChat):
     jailbreak success AUROC >= 0.85;
   - safe XSTest prompts (trained without XSTest) with risk >= the default threshold: <= 10 %; and, the other
     side of it, each set of harmful requests alone (HarmBench, AART, ...) left out: the share flagged;
   - DiaSafety validation when trained without DiaSafety: AUROC >= 0.75;
   - ECE of risk on the all-sets model's validation rows: <= 0.05.

Run from the repository root:

    .venv/bin/python bench/quality.py                 # everything
    .venv/bin/python bench/quality.py --encode-only   # fill the vector cache and stop
    .venv/bin/python bench/quality.py --no-loso       # skip the leave-one-source-out table
    .venv/bin/python bench/quality.py --cached-only   # only the rows whose texts are cached (says which it left out)
    .venv/bin/python bench/quality.py --fine-tune     # the same with a fine-tuned encoder (bench/quality_tuned.py)

On a device machine (no Django, no ../shared/data): here `bench/quality.py --export-rows
var/device/rows.jsonl.gz` and `bench/device_weights.py`; there, carrying `var/device`,
`PYTHONPATH=var/device python bench/quality.py --rows var/device/rows.jsonl.gz --fine-tune --threads 8`.
"""

from __future__ import annotations

import sys

# Run as a file: put the repository root first on sys.path, so `bench._harness` imports as a package.
if __package__ in (None, ""):
    sys.path[0] = str(__import__("pathlib").Path(__file__).resolve().parent.parent)

import argparse
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
CACHE = ROOT / "var" / "quality-cache"
REFERENCE_FILE = ROOT / "reviews" / "imports" / "reference" / "benign_requests.txt"
HELDOUT_TURNS = ROOT / "bench" / "user_turns_heldout.tsv"  # never trained on

# (format, path under DATA, source: the set it belongs to, for leave-one-source-out)
SETS = [
    ("xstest-prompts", "xstest/xstest_prompts.csv", "xstest-prompts"),
    ("xstest-completions", "xstest/model_completions/xstest_v2_completions_gpt4.csv", "xstest-completions"),
    ("xstest-completions", "xstest/model_completions/xstest_v2_completions_llama2new.csv", "xstest-completions"),
    ("xstest-completions", "xstest/model_completions/xstest_v2_completions_mistralinstruct.csv", "xstest-completions"),
    ("harmbench", "harmbench/harmbench_behaviors_text_all.csv", "harmbench"),
    ("jbb-behaviors", "jailbreakbench/harmful-behaviors.csv", "jbb-behaviors"),
    ("jbb-behaviors", "jailbreakbench/benign-behaviors.csv", "jbb-behaviors"),
    ("jbb-artifacts", "jailbreakbench/jbb_attack_artifacts_dev.jsonl", "jbb-artifacts"),
    ("hh-rlhf", "hh-rlhf/harmless-base_test.jsonl.gz", "hh-rlhf"),
    ("diasafety", "diasafety/train.json", "diasafety"),
    ("diasafety", "diasafety/val.json", "diasafety"),
    ("convabuse", "convabuse/ConvAbuseEMNLPtrain.csv", "convabuse"),
    ("convabuse", "convabuse/ConvAbuseEMNLPvalid.csv", "convabuse"),
    ("gptfuzz", "gptfuzz-responses/train.csv", "gptfuzz"),
    ("gptfuzz", "gptfuzz-responses/evaluate.csv", "gptfuzz"),
    ("jailbreak-eval", "jailbreak-eval-manual/manual_data.csv", "jailbreak-eval"),
    ("toxichat", "toxichat-baheti/train.jsonl", "toxichat"),
    ("toxichat", "toxichat-baheti/dev.jsonl", "toxichat"),
    ("toxichat", "toxichat-baheti/test.jsonl", "toxichat"),
    ("coconot", "coconot/coconot_eval.jsonl", "coconot"),
    ("coconot", "coconot/coconot_contrast_eval.jsonl", "coconot"),
    ("coconot", "coconot/coconot_pref.jsonl", "coconot"),
    ("edos", "edos-sexism/edos_labelled_aggregated.csv", "edos"),
    ("hatemoji", "hatemoji/HatemojiCheck/test.csv", "hatemoji"),
    ("hatemoji", "hatemoji/HatemojiBuild/train.csv", "hatemoji"),
    ("hatemoji", "hatemoji/HatemojiBuild/validation.csv", "hatemoji"),
    ("hatemoji", "hatemoji/HatemojiBuild/test.csv", "hatemoji"),
    ("stormfront", "stormfront-hate/annotations_metadata.csv", "stormfront"),
    ("aart", "aart-adversarial/aart-v1-20231117.csv", "aart"),
    ("catqa", "catqa-harmfulqa/catqa_english.json", "catqa-harmfulqa"),
    ("harmfulqa", "catqa-harmfulqa/harmfulqa.json", "catqa-harmfulqa"),
    ("simplesafetytests", "simplesafetytests/SimpleSafetyTests - test cases.csv", "simplesafetytests"),
    ("oversight-reference", str(REFERENCE_FILE), "oversight-reference"),  # shipped with the product, not shared
    ("oversight-reference", str(REFERENCE_FILE.with_name("user_turns.txt")), "oversight-reference-user-turns"),
]
# A deterministic sample of the biggest files of short user-side texts and one-sided requests bounds the encoding
# time on two shared cores; the product's source weights give a source at most 4,000 rows' weight in training (and a
# one-sided one 300) anyway. Sets that label replies (GPTFuzz, ToxiChat, hh-rlhf) are read whole, as `train_model`
# reads them: they are what the reply outputs learn from. The sample keeps the replies to one request together.
# --full reads everything.
SAMPLE = {  # path prefix under ../shared/data: rows kept
    "edos-sexism/": 2000,
    "stormfront-hate/": 2000,
    "hatemoji/": 2000,
    "coconot/coconot_pref.jsonl": 300,
    "aart-adversarial/": 1500,
    "catqa-harmfulqa/harmfulqa.json": 1000,
}


@dataclass
class Row:
    messages: list[dict[str, Any]]
    targets: dict[str, Any]
    source: str
    file: str  # the file it came from (a split or a model)
    path: str  # the file under ../shared/data
    metadata: dict[str, Any]


def heldout_turns(path: Path = HELDOUT_TURNS) -> list[Row]:
    """A second writer's user turns (label, category, message per line), scored by the all-sets model only."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, category, text = line.split("\t")
            targets = {"request_harmful": int(label), "categories": [category] if label == "1" else []}
            rows.append(Row([{"role": "user", "content": text}], targets, "heldout", path.name, path.name, {}))
    return rows


def setup_django() -> None:
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")
    os.environ["DJANGO_SETTINGS_MODULE"] = "oversight.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def load_rows(sets: list[tuple[str, str, str]]) -> list[Row]:
    from reviews.imports.formats import FORMATS, read_dataset
    from reviews.scoring.training_data import labeled_targets

    rows: list[Row] = []
    for fmt, relative, source in sets:
        path = DATA / relative
        if fmt not in FORMATS or not path.exists():
            print(f"skipped {relative}: {'no importer for ' + fmt if fmt not in FORMATS else 'not found'}")
            continue
        before = len(rows)
        for item in read_dataset(fmt, path):
            targets = labeled_targets(item)
            if not targets:
                continue
            conversation = item.conversation
            metadata = conversation.get("metadata") or {}
            rows.append(Row(conversation["messages"], targets, source, path.name, relative, metadata))
        print(f"read {relative}: {len(rows) - before} labelled conversations")
    return rows


def sample(rows: list[Row]) -> list[Row]:
    for prefix, size in SAMPLE.items():
        mine = [r for r in rows if r.path.startswith(prefix)]
        if len(mine) > size:
            keep = {id(r) for r in sorted(mine, key=_sample_key)[:size]}
            rows = [r for r in rows if not r.path.startswith(prefix) or id(r) in keep]
            print(f"sampled {size} of {len(mine)} rows of {prefix}")
    return rows


def _sample_key(row: Row) -> str:
    """The conversation up to the judged reply: the replies to one request sort together."""
    turns = row.messages[:-1] if row.messages and row.messages[-1].get("role") == "assistant" else row.messages
    return hashlib.sha256(json.dumps(turns, sort_keys=True).encode()).hexdigest()


def encode_rows(rows: list[Row], *, cached_only: bool = False) -> tuple[list[Row], np.ndarray]:
    """The rows and their [u, r, o], through the disk cache (`cached_only`: drop rows not fully cached instead)."""
    from collections import Counter

    from bench.quality_cache import TextVectorCache
    from reviews.scoring.text import text_views
    from worker.encoder import ENCODER_ID, get_encoder, view_texts, views_matrix

    views = [text_views(r.messages) for r in rows]
    cache = TextVectorCache(CACHE, ENCODER_ID)  # a text's vector depends on the encoder's weights alone
    texts = [t for v in views for t in view_texts(v)]
    todo = cache.missing(texts)
    print(f"{len(set(texts))} distinct texts, {len(todo)} not cached yet")
    if todo and cached_only:
        missing = set(todo)
        keep = [i for i, v in enumerate(views) if not (set(view_texts(v)) & missing)]
        dropped = Counter(rows[i].path for i in set(range(len(rows))) - set(keep))
        print(f"--cached-only: left out {sum(dropped.values())} rows not yet encoded (by file): {dict(dropped)}")
        print("  every figure below is on the encoded rows only: the longest replies are the last encoded")
        rows, views = [rows[i] for i in keep], [views[i] for i in keep]
    elif todo:
        started = time.perf_counter()
        cache.fill(todo, get_encoder().encode)
        print(f"encoded {len(todo)} texts in {time.perf_counter() - started:.0f}s")
    return rows, views_matrix(views, cache.encode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encode-only", action="store_true")
    parser.add_argument("--no-loso", action="store_true")
    parser.add_argument("--no-targets", action="store_true", help="skip the issue's targets (e.g. the table alone)")
    parser.add_argument("--only", help="comma-separated sources (the third column of SETS) to read, e.g. to try")
    parser.add_argument("--full", action="store_true", help="read every row (no SAMPLE): encodes ~75k texts")
    parser.add_argument("--cached-only", action="store_true", help="leave out rows whose texts are not cached yet")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a TrainConfig field (to compare)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: on a shared 2-core machine two threads thrash)"
    )
    parser.add_argument("--export-rows", type=Path, metavar="PATH", help="write the rows read (gzipped) and stop")
    parser.add_argument("--rows", type=Path, metavar="PATH", help="read the rows from --export-rows' file: no Django")
    parser.add_argument("--fine-tune", action="store_true", help="fine-tune the encoder first (bench/quality_tuned.py)")
    parser.add_argument("--ft-set", action="append", default=[], metavar="KEY=VALUE", help="a FineTuneConfig field")
    args = parser.parse_args()
    import torch

    from bench import quality_tuned

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    chosen = set(args.only.split(",")) if args.only else None
    if args.rows:
        rows = [r for r in quality_tuned.read_rows(args.rows, Row) if chosen is None or r.source in chosen]
    else:
        if not DATA.is_dir():
            sys.exit(f"The shared datasets are not at {DATA}.")
        setup_django()
        rows = load_rows([s for s in SETS if chosen is None or s[2] in chosen])
        rows = rows if args.full else sample(rows)
    if args.export_rows:
        quality_tuned.save_rows(rows, args.export_rows)
        return
    from bench.quality_report import report
    from reviews.vocabulary import TAXONOMY

    if args.fine_tune:
        tuning = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.ft_set)}
        features = quality_tuned.tuned_features(rows, list(TAXONOMY), tuning)
    else:
        rows, features = encode_rows(rows, cached_only=args.cached_only)
    if args.encode_only:
        print(f"total {time.perf_counter() - started:.0f}s")
        return
    overrides = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}
    heldout = None if args.fine_tune or args.rows else encode_rows(heldout_turns())
    report(
        rows,
        features,
        categories=list(TAXONOMY),
        loso=not args.no_loso,
        targets=not args.no_targets,
        overrides=overrides,
        heldout=heldout,
    )
    print(f"\ntotal {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
