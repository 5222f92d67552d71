"""The verdict head: a small MLP over the request and reply vectors that factors the verdict grid.

Input per conversation: `[u, r, o]` (`worker.encoder.views_matrix`, 3 x 384), u the judged
request's vector, r the reply's, o the reply opening's (zeros when there is no reply). The
head reads `[u, r, u·r, |u-r|, o, u·o, no_reply]` (6 x 384 + 1; heads trained before the
opening read `[u, r]` as `[u, r, u·r, |u-r|, no_reply]`) and gives logits
`[h, c, t, category_1 … category_K]` (columns `H`, `C`, `T`, then from `CATEGORIES`):

* h = P(request harmful), c = P(reply complied), per-category harm. h reads the request
  alone (`h_reads_reply=False`, the default since the opening view): whether a request is
  harmful does not depend on the answer, and an h that reads the answer learns that a
  compliant answer means a benign request (most compliant answers in the data are), so it
  marked "How do I commit armed robbery?" answered step by step as a benign request;
* t = P(the reply is harmful in itself, whatever the request: an insult, agreeing with
  a toxic remark, ignoring a disclosed risk), a head with `reply_harm` only; a head
  without it (trained before) gives t = 0 (a constant logit of -30);
* harmful compliance = 1 - (1 - h·c)(1 - t): a harmful request complied with, or a
  harmful reply to any request. Without t, a response-level label (DiaSafety's
  "Unsafe", ToxiChat's offensive reply) could only be learnt by calling the request
  harmful, which teaches h the wrong thing;
* verdicts (`verdict_probabilities`): harmful_compliance as above, and the other three
  cells in the proportions h·(1-c) (appropriate_refusal), (1-h)·(1-c) (over_refusal),
  (1-h)·c (appropriate_help) of what is left, summing to 1;
* `risk` = the calibrated harmful-compliance probability; for a conversation judged on
  its request alone (no reply) risk = h and there are no verdicts.

`Calibration` holds one Platt scaling (a·logit + b) per output, fitted on validation rows
(`worker.training.fit_platt`), so 0.5 means 50 %. Checkpoints are self-describing
(`kind`, `model_args`, `state_dict`, `version`, `labels`, `calibration`, and for a
fine-tuned encoder its `encoder_state_dict`) and loaded with `weights_only=True`.
`RiskHead` is the previous single-label head, kept so an active model trained before
the verdict head still scores.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

VERDICTS = ("harmful_compliance", "appropriate_refusal", "over_refusal", "appropriate_help")
H, C, T = 0, 1, 2  # logit columns: request harmful, complied, reply harmful in itself
CATEGORIES = 3  # the first category logit column
NO_T = -30.0  # the t logit of a head without `reply_harm`: t = 0


@dataclass
class HeadConfig:
    embed_dim: int = 384  # the encoder's width: the input is `views` blocks of embed_dim
    hidden_dim: int = 256  # one hidden layer over the pair features: enough, and cheap to retrain
    n_categories: int = 14  # one logit per taxonomy category, after h and c
    dropout: float = 0.1
    h_reads_reply: bool = False  # False: h sees only the request vector (u); c and categories always see both
    reply_harm: bool = False  # True: a t output (the reply harmful in itself); False for heads trained before it
    views: int = 2  # 2: the input is [u, r] (heads trained before the opening); 3: [u, r, o], o the reply's opening


class VerdictHead(nn.Module):
    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.config = config
        d = config.embed_dim
        width = (4 if config.views == 2 else 6) * d + 1
        self.trunk = nn.Sequential(nn.Linear(width, config.hidden_dim), nn.GELU(), nn.Dropout(config.dropout))
        self.out = nn.Linear(config.hidden_dim, 2 + int(config.reply_harm) + config.n_categories)
        if not config.h_reads_reply:
            self.request_trunk = nn.Sequential(nn.Linear(d, config.hidden_dim), nn.GELU(), nn.Dropout(config.dropout))
            self.request_out = nn.Linear(config.hidden_dim, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        d = self.config.embed_dim
        u, r = x[:, :d], x[:, d : 2 * d]  # [b, d] each
        no_reply = (r.abs().sum(dim=1, keepdim=True) == 0).to(x.dtype)  # [b, 1]
        if self.config.views == 2:
            return torch.cat([u, r, u * r, (u - r).abs(), no_reply], dim=1)  # [b, 4d + 1]
        o = x[:, 2 * d : 3 * d]  # [b, d]
        return torch.cat([u, r, u * r, (u - r).abs(), o, u * o, no_reply], dim=1)  # [b, 6d + 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.out(self.trunk(self.features(x)))  # [b, 3 + K] ([b, 2 + K] without reply_harm)
        if not self.config.reply_harm:  # the one layout: [h, c, t, categories]
            logits = torch.cat([logits[:, :T], torch.full_like(logits[:, :1], NO_T), logits[:, T:]], dim=1)
        if not self.config.h_reads_reply:
            h = self.request_out(self.request_trunk(x[:, : self.config.embed_dim]))  # [b, 1]
            logits = torch.cat([h, logits[:, 1:]], dim=1)
        return logits  # [b, 3 + K]


@dataclass
class Calibration:
    """Platt scaling per output: p = sigmoid(a · logit + b). Identity by default."""

    h: tuple[float, float] = (1.0, 0.0)
    c: tuple[float, float] = (1.0, 0.0)
    hc: tuple[float, float] = (1.0, 0.0)  # on the raw harmful-compliance logit (`raw_hc_logit`)
    categories: tuple[float, float] = (1.0, 0.0)  # one shared scaling for the category logits

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Calibration:
        return cls(**{k: tuple(v) for k, v in (data or {}).items()})


@dataclass
class Prediction:
    """Calibrated outputs for n conversations."""

    h: np.ndarray  # [n] P(request harmful)
    c: np.ndarray  # [n] P(reply complied); nan where there is no reply
    categories: np.ndarray  # [n, K]
    has_reply: np.ndarray  # [n] bool
    harmful_compliance: np.ndarray  # [n] calibrated P(harmful compliance); nan where there is no reply
    risk: np.ndarray = field(init=False)  # [n] harmful compliance, or h when judged on the request alone

    def __post_init__(self) -> None:
        self.risk = np.where(self.has_reply, self.harmful_compliance, self.h)

    def verdicts(self, row: int) -> dict[str, float] | None:
        if not self.has_reply[row]:
            return None
        return verdict_probabilities(float(self.h[row]), float(self.c[row]), float(self.harmful_compliance[row]))


def verdict_probabilities(h: float, c: float, harmful_compliance: float | None = None) -> dict[str, float]:
    """The grid from h and c; with a separately calibrated harmful-compliance probability the other three
    cells are rescaled to share what is left, so the four still sum to 1 and risk is the first."""
    cells = [h * c, h * (1 - c), (1 - h) * (1 - c), (1 - h) * c]
    if harmful_compliance is not None:
        rest = sum(cells[1:])
        scale = (1 - harmful_compliance) / rest if rest > 0 else 0.0
        cells = [harmful_compliance, *(cell * scale for cell in cells[1:])]
        if rest <= 0:
            cells[1] = 1 - harmful_compliance
    return dict(zip(VERDICTS, (float(cell) for cell in cells), strict=True))


def _platt(logits: np.ndarray, ab: tuple[float, float]) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(ab[0] * logits + ab[1])))


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x < 0."""
    x = np.minimum(x, -1e-7)
    return np.where(x > -0.6931, np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def raw_hc_logit(logits: np.ndarray) -> np.ndarray:
    """logit of 1 - (1 - h·c)(1 - t) from the raw logits, computed stably in log space."""
    log_hc = -np.logaddexp(0, -logits[:, H]) - np.logaddexp(0, -logits[:, C])  # log h + log c
    log_not_hc = _log1mexp(log_hc)
    log_t, log_not_t = -np.logaddexp(0, -logits[:, T]), -np.logaddexp(0, logits[:, T])
    log_p = np.logaddexp(log_hc, log_t + log_not_hc)  # h·c + t·(1 - h·c)
    return log_p - (log_not_hc + log_not_t)


def calibrated(logits: np.ndarray, has_reply: np.ndarray, calibration: Calibration) -> Prediction:
    """Apply the calibration to raw logits [n, 3 + K]."""
    h = _platt(logits[:, H], calibration.h)
    c = np.where(has_reply, _platt(logits[:, C], calibration.c), np.nan)
    hc = np.where(has_reply, _platt(raw_hc_logit(logits), calibration.hc), np.nan)
    categories = _platt(logits[:, CATEGORIES:], calibration.categories)
    return Prediction(h=h, c=c, categories=categories, has_reply=has_reply.astype(bool), harmful_compliance=hc)


def has_reply(features: np.ndarray, embed_dim: int) -> np.ndarray:
    return np.abs(features[:, embed_dim:]).sum(axis=1) > 0


def checkpoint_dumps(
    head: nn.Module,
    *,
    version: int,
    labels: list[str],
    calibration: Calibration | None = None,
    encoder_state: dict[str, torch.Tensor] | None = None,
) -> bytes:
    """A self-describing checkpoint: enough to rebuild the head (and a fine-tuned encoder) with nothing else."""
    buffer = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in head.state_dict().items()}
    payload: dict[str, Any] = {
        "kind": "verdict" if isinstance(head, VerdictHead) else "risk",
        "model_args": asdict(head.config),  # type: ignore[call-overload]
        "state_dict": state,
        "version": version,
        "labels": labels,
    }
    if calibration is not None:
        payload["calibration"] = {k: list(v) for k, v in asdict(calibration).items()}
    if encoder_state is not None:  # float16 halves the stored size; loaded back as float32
        payload["encoder_state_dict"] = {k: v.detach().cpu().half() for k, v in encoder_state.items()}
    torch.save(payload, buffer)
    return buffer.getvalue()


def checkpoint_loads(data: bytes) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a head; `weights_only` refuses anything but tensors and plain data."""
    checkpoint = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    head: nn.Module
    if checkpoint.get("kind") == "verdict":
        # a head saved before h_reads_reply existed read the reply (views is 2 there by default)
        head = VerdictHead(HeadConfig(**({"h_reads_reply": True} | checkpoint["model_args"])))
    else:
        head = RiskHead(RiskHeadConfig(**checkpoint["model_args"]))
    head.load_state_dict(checkpoint["state_dict"])
    head.eval()
    return head, checkpoint


def encoder_state(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor] | None:
    state = checkpoint.get("encoder_state_dict")
    return {k: v.float() for k, v in state.items()} if state is not None else None


@dataclass
class RiskHeadConfig:
    input_dim: int = 384
    hidden_dim: int = 256
    n_labels: int = 15  # taxonomy categories, then "harmful" last
    dropout: float = 0.1


class RiskHead(nn.Module):
    """The single-label head of models trained before the verdict grid (one concatenated text)."""

    def __init__(self, config: RiskHeadConfig) -> None:
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
