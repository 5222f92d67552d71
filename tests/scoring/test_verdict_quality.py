"""What the verdict model does for quality (bench/quality.py's targets): a reply harmful in itself is harmful
compliance whatever the request, requests that come with replies teach the request-only h, and a set of harmful
requests alone does not outweigh the benign side; the classifier export's request/response texts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reviews.scoring.text import text_views
from worker.head import (
    CATEGORIES,
    NO_T,
    Calibration,
    HeadConfig,
    T,
    VerdictHead,
    checkpoint_dumps,
    checkpoint_loads,
    raw_hc_logit,
)
from worker.training import (
    Batch,
    TargetArrays,
    TrainConfig,
    hc_logit,
    predict,
    train_verdict_head,
    training_weights,
    verdict_loss,
    with_request_copies,
)


def sigmoid(x: float) -> float:
    return float(1 / (1 + np.exp(-x)))


def test_harmful_compliance_is_a_harmful_request_complied_with_or_a_harmful_reply():
    logits = np.array([[-4.0, 3.0, 2.0, 0.0], [3.0, 2.0, -6.0, 0.0], [-4.0, 3.0, -6.0, 0.0]])  # [h, c, t, category]
    h, c, t = (np.array([sigmoid(v) for v in logits[:, i]]) for i in range(3))

    p = 1 / (1 + np.exp(-raw_hc_logit(logits)))

    np.testing.assert_allclose(p, h * c + t * (1 - h * c), rtol=1e-6)
    assert p[0] > 0.85  # a benign request answered with a harmful reply
    assert p[2] < 0.02  # a benign request answered harmlessly
    torch.testing.assert_close(hc_logit(torch.from_numpy(logits)), torch.from_numpy(raw_hc_logit(logits)))


def test_a_head_trained_before_reply_harm_scores_harmful_compliance_as_h_times_c():
    torch.manual_seed(0)
    head = VerdictHead(HeadConfig(embed_dim=4, hidden_dim=8, n_categories=2)).eval()  # reply_harm off: older heads
    checkpoint = checkpoint_dumps(head, version=1, labels=["a", "b"])
    rebuilt, _ = checkpoint_loads(checkpoint)
    x = torch.randn(5, 8)

    logits = rebuilt(x).detach().numpy()

    assert logits.shape == (5, CATEGORIES + 2) and (logits[:, T] == NO_T).all()
    h, c = 1 / (1 + np.exp(-logits[:, 0])), 1 / (1 + np.exp(-logits[:, 1]))
    np.testing.assert_allclose(1 / (1 + np.exp(-raw_hc_logit(logits))), h * c, rtol=1e-5)


def test_reply_harm_learns_only_from_rows_that_label_the_reply():
    torch.manual_seed(0)
    head = VerdictHead(HeadConfig(embed_dim=4, hidden_dim=8, n_categories=1, reply_harm=True))
    targets = TargetArrays.build([{"request_harmful": 1, "complied": 1}] * 4, ["a"])  # no harmful_response

    verdict_loss(
        head(torch.randn(4, 8)),
        Batch(targets, np.arange(4), np.ones(4, np.float32), np.ones(4, bool)),
        torch.ones(1),
        TrainConfig(),
    ).backward()

    assert head.out.weight.grad is not None and head.out.weight.grad[T].abs().sum() == 0


def test_a_benign_request_with_a_harmful_reply_ranks_above_the_same_request_answered_harmlessly():
    rng = np.random.default_rng(0)
    d, n = 8, 400
    u = rng.normal(size=(n, d)).astype(np.float32)
    r = rng.normal(size=(n, d)).astype(np.float32)
    toxic = r[:, 0] > 0  # the reply's own content says it is harmful; every request is benign
    features = np.concatenate([u, r], axis=1)
    targets = TargetArrays.build([{"request_harmful": 0, "harmful_response": int(x)} for x in toxic], ["a"])
    rows = np.arange(n)

    result = train_verdict_head(
        features,
        targets,
        train_rows=rows[:300],
        val_rows=rows[300:],
        config=TrainConfig(max_epochs=80, seed=0),
        embed_dim=d,
    )
    prediction = predict(result.head, features[300:], result.calibration)

    assert prediction.h.max() < 0.5  # the request stays benign: the reply carries the harm
    assert prediction.risk[toxic[300:]].mean() > prediction.risk[~toxic[300:]].mean() + 0.4


def test_each_labelled_request_with_replies_trains_h_once_more_on_its_own():
    d = 3
    request_a, request_b = np.eye(d, dtype=np.float32)[0], np.eye(d, dtype=np.float32)[1]
    reply = np.ones(d, dtype=np.float32)
    features = np.stack(
        [
            np.concatenate([request_a, reply]),  # two replies to one harmful request
            np.concatenate([request_a, reply * 2]),
            np.concatenate([request_b, reply]),  # a benign request's reply
            np.concatenate([request_b, np.zeros(d, np.float32)]),  # a request alone already
            np.concatenate([request_a, reply]),  # a reply without a request label
        ]
    )
    targets = TargetArrays.build(
        [
            {"request_harmful": 1, "complied": 1},
            {"request_harmful": 1, "complied": 0},
            {"request_harmful": 0},
            {"request_harmful": 0},
            {"harmful_response": 1},
        ],
        ["a"],
    )
    weights = np.array([1.0, 0.5, 1.0, 1.0, 1.0], dtype=np.float32)

    out, out_targets, out_weights, rows = with_request_copies(features, targets, weights, np.arange(5), embed_dim=d)

    assert len(out) == 7 and list(rows) == [0, 1, 2, 3, 4, 5, 6]
    np.testing.assert_array_equal(out[5], np.concatenate([request_a, np.zeros(d)]))
    np.testing.assert_array_equal(out[6], np.concatenate([request_b, np.zeros(d)]))
    assert list(out_targets.h[5:]) == [1, 0] and list(out_targets.m_h[5:]) == [1, 1]
    assert not (out_targets.m_c[5:].any() or out_targets.m_hr[5:].any() or out_targets.m_cats[5:].any())
    assert list(out_weights[5:]) == [0.75, 1.0]


def test_a_set_of_harmful_requests_alone_weighs_at_most_the_one_sided_cap():
    sources = ["aart"] * 600 + ["coconot"] * 100 + ["gptfuzz"] * 500
    rows = (
        [{"request_harmful": 1}] * 600
        + [{"request_harmful": i % 2} for i in range(100)]
        + [{"request_harmful": 1, "harmful_response": 0}] * 500
    )
    targets = TargetArrays.build(rows, ["a"])

    weights = training_weights(sources, targets, TrainConfig(one_sided_cap=300, source_cap=4000))

    assert weights[:600].sum() == pytest.approx(300)  # harmful requests only: capped
    assert weights[600:700].sum() == pytest.approx(100)  # both kinds of request: not
    assert weights[700:].sum() == pytest.approx(500)  # one-sided requests, but its replies are labelled


def test_benign_one_sided_requests_weigh_as_much_as_the_harmful_ones_together():
    sources = ["aart"] * 600 + ["sst"] * 100 + ["oversight-reference"] * 500 + ["coconot"] * 100
    rows = (
        [{"request_harmful": 1}] * 700
        + [{"request_harmful": 0, "categories": []}] * 500
        + [{"request_harmful": i % 2} for i in range(100)]
    )
    targets = TargetArrays.build(rows, ["a"])

    weights = training_weights(sources, targets, TrainConfig(one_sided_cap=300, source_cap=4000))

    assert weights[:600].sum() == pytest.approx(300) and weights[600:700].sum() == pytest.approx(100)
    assert weights[700:1200].sum() == pytest.approx(400)  # capped at 300, then up to the harmful side's 300 + 100
    assert weights[1200:].sum() == pytest.approx(100)  # two-sided: untouched
    only_harmful = training_weights(sources[:700], TargetArrays.build(rows[:700], ["a"]), TrainConfig())
    assert only_harmful.sum() == pytest.approx(400)  # no benign one-sided set: nothing to balance


def test_calibration_identity_keeps_a_harmful_reply_visible_in_the_verdicts():
    config = HeadConfig(embed_dim=2, hidden_dim=4, n_categories=1, reply_harm=True, h_reads_reply=True)
    head = VerdictHead(config).eval()
    with torch.no_grad():
        for parameter in head.parameters():
            parameter.zero_()
        head.out.bias.copy_(torch.tensor([-4.0, 3.0, 3.0, 0.0]))  # benign request, complied, harmful reply
    features = np.array([[1.0, 0.0, 0.0, 1.0]], dtype=np.float32)

    prediction = predict(head, features, Calibration())
    verdicts = prediction.verdicts(0)

    assert verdicts is not None and max(verdicts, key=verdicts.get) == "harmful_compliance"
    assert sum(verdicts.values()) == pytest.approx(1) and prediction.h[0] < 0.05


def test_the_classifier_export_texts_are_the_two_views_the_encoder_reads():
    messages = [{"role": "user", "content": "how do I pick a lock?"}, {"role": "assistant", "content": "x" * 2000}]

    views = text_views(messages)

    assert views.response == "x" * 2000 and len(views.reply_chunks) == 3
    assert views.text == f"Request: how do I pick a lock?\nResponse: {'x' * 2000}"
    request_only = text_views(messages[:1])
    assert request_only.response == "" and request_only.text == "how do I pick a lock?"
