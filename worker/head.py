"""The classification head: a small MLP over frozen sentence embeddings, one logit per label."""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn


@dataclass
class HeadConfig:
    input_dim: int = 384  # the encoder's width
    hidden_dim: int = 256  # one hidden layer: enough over a sentence embedding, cheap to retrain
    n_labels: int = 15  # one logit per taxonomy category, then "harmful" last
    dropout: float = 0.1


class RiskHead(nn.Module):
    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.config = config
        self.net = nn.Sequential(
            nn.Linear(config.input_dim, config.hidden_dim),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden_dim, config.n_labels),
        )

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.net(embeddings)  # [b, 384] -> [b, n_labels] logits


def checkpoint_dumps(head: RiskHead, *, version: int, labels: list[str]) -> bytes:
    """A self-describing checkpoint: enough to rebuild the head with nothing else."""
    buffer = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in head.state_dict().items()}
    torch.save({"model_args": asdict(head.config), "state_dict": state, "version": version, "labels": labels}, buffer)
    return buffer.getvalue()


def checkpoint_loads(data: bytes) -> tuple[RiskHead, dict[str, Any]]:
    """Rebuild a head; `weights_only` refuses anything but tensors and plain data."""
    checkpoint = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    head = RiskHead(HeadConfig(**checkpoint["model_args"]))
    head.load_state_dict(checkpoint["state_dict"])
    head.eval()
    return head, checkpoint
