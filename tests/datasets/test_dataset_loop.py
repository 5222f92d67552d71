"""The loop from the datasets page: train a rescoring head from a classifier snapshot, compare, promote."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from reviews.datasets.builder import dataset_build, dataset_create
from reviews.datasets.lineage import lineage_decision_ids
from reviews.demo.data import demo_label, generate_conversations
from reviews.demo.seed import demo_seed
from reviews.ingest.schemas import ConversationIn
from reviews.ingest.services import conversations_ingest
from reviews.models import (
    AuditEvent,
    Dataset,
    Escalation,
    EscalationStatus,
    ItemStatus,
    ModelStatus,
    ReviewItem,
    ScoringModel,
)
from reviews.scoring.retraining import MetricPair
from reviews.workspace.decisions import decision_record
from worker.training import TrainConfig
from worker.versions import model_train

pytestmark = pytest.mark.django_db


@pytest.fixture
def labeled(source_token, reviewer, django_capture_on_commit_callbacks) -> None:
    """60 demo conversations scored by the fallback; 40 of the routed ones decided with their demo labels."""
    generated = generate_conversations(60, seed=11)
    with django_capture_on_commit_callbacks(execute=True):
        payloads = [ConversationIn.model_validate(c) for c in generated]
        ids = conversations_ingest(source=source_token[0], conversations=payloads).ids
    by_id = dict(zip(ids, generated, strict=True))
    for item in ReviewItem.objects.filter(conversation_id__in=ids).order_by("pk")[:40]:
        label = demo_label(by_id[item.conversation_id])
        decision_record(
            item=item, reviewer=reviewer, verdict=label["verdict"], categories=label["categories"], severity=1
        )


def _snapshot(kind: str) -> Dataset:
    return dataset_build(dataset_id=dataset_create(kind=kind, format="jsonl", enqueue=False).pk)


@pytest.fixture
def classifier(labeled) -> Dataset:
    snapshot = _snapshot("classifier")
    assert snapshot.status == "ready" and snapshot.row_count >= 20
    return snapshot


def _login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _train(client: Client, dataset: Dataset, django_capture_on_commit_callbacks: Any) -> Any:
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("reviews:dataset-train", args=[dataset.pk]), HTTP_HX_REQUEST="true")


TRAIN_BUTTON = "Train rescoring model from this snapshot"


def test_train_button_is_shown_to_admins_on_ready_classifier_snapshots_only(classifier, admin_user, outsider):
    eval_snapshot = _snapshot("eval")
    pending = dataset_create(kind="classifier", enqueue=False)
    html = _login(admin_user).get(reverse("reviews:datasets")).content.decode()

    assert html.count(TRAIN_BUTTON) == 1
    assert reverse("reviews:dataset-train", args=[classifier.pk]) in html
    for other in (eval_snapshot, pending):
        assert reverse("reviews:dataset-train", args=[other.pk]) not in html

    outsider.user_permissions.add(Permission.objects.get(codename="view_dataset"))
    ml_engineer = User.objects.get(pk=outsider.pk)
    page = _login(ml_engineer).get(reverse("reviews:datasets"))
    assert page.status_code == 200 and TRAIN_BUTTON not in page.content.decode()


def test_only_admins_may_train_or_promote(classifier, reviewer, senior, outsider, django_capture_on_commit_callbacks):
    model = model_train(config=TrainConfig(max_epochs=5, patience=2), dataset=classifier)
    outsider.user_permissions.add(Permission.objects.get(codename="view_dataset"))
    ml_engineer = User.objects.get(pk=outsider.pk)
    for user in (reviewer, senior, ml_engineer):
        client = _login(user)
        assert _train(client, classifier, django_capture_on_commit_callbacks).status_code == 403, user
        promote = client.post(reverse("reviews:scoring-model-promote", args=[model.pk]))
        assert promote.status_code == 403, user
    assert Client().post(reverse("reviews:dataset-train", args=[classifier.pk])).status_code == 302
    assert ScoringModel.objects.count() == 1
    assert not AuditEvent.objects.filter(action="model_training_requested").exists()
    assert not AuditEvent.objects.filter(action="model_promoted").exists()


def test_training_an_eval_snapshot_is_refused_with_a_clear_message(
    labeled, admin_user, django_capture_on_commit_callbacks
):
    snapshot = _snapshot("eval")

    response = _train(_login(admin_user), snapshot, django_capture_on_commit_callbacks)

    assert response.status_code == 422
    body = response.content.decode()
    assert f'id="dataset-{snapshot.pk}"' in body
    assert "holds eval rows; train on a classifier snapshot" in body
    assert not ScoringModel.objects.exists()
    assert not AuditEvent.objects.filter(action="model_training_requested").exists()


def test_training_from_the_page_creates_a_ready_model_from_the_snapshot(
    classifier, admin_user, django_capture_on_commit_callbacks
):
    response = _train(_login(admin_user), classifier, django_capture_on_commit_callbacks)

    assert response.status_code == 200 and "Training from snapshot" in response.content.decode()
    assert 'hx-trigger="every 5s"' in response.content.decode()  # with a real worker, the row looks again
    model = ScoringModel.objects.get()  # in-process: the task ran on commit
    assert model.status == ModelStatus.READY and model.training_dataset == classifier
    assert model.metrics["train_size"] + model.metrics["val_size"] == classifier.row_count
    row = _login(admin_user).get(reverse("reviews:dataset-row", args=[classifier.pk]), HTTP_HX_REQUEST="true")
    body = row.content.decode()
    assert f'id="scoring-model-{model.pk}"' in body and f"Promote v{model.version}" in body
    assert f'hx-confirm="Promote scoring model v{model.version}? It becomes the active model' in body
    assert "no model is active yet" in body
    event = AuditEvent.objects.get(action="model_training_requested")
    assert event.actor == admin_user and event.target_id == str(classifier.pk)
    assert event.data["decisions"] == len(lineage_decision_ids(dataset=classifier))


def test_page_shows_new_metrics_beside_the_active_models_and_promotes(
    classifier, admin_user, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    config = TrainConfig(max_epochs=20, patience=3)
    active = model_train(config=config)
    active.status = ModelStatus.ACTIVE
    active.save()
    candidate = model_train(config=config, dataset=classifier)
    client = _login(admin_user)

    with django_assert_max_num_queries(16):
        html = client.get(reverse("reviews:datasets")).content.decode()

    assert f"beside the active model v{active.version}" in html
    assert f"v{active.version} (active)" in html
    harmful = candidate.metrics["per_label"]["harmful"]
    assert f"{harmful['positives']} / {harmful['support']}" in html
    for value in (harmful["auroc"], active.metrics["per_label"]["harmful"]["auroc"]):
        if value is not None:
            assert f"{value:.3f}" in html
    assert f"Promote v{candidate.version}" in html

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reviews:scoring-model-promote", args=[candidate.pk]), HTTP_HX_REQUEST="true")
        if response.status_code == 409:  # worse than the active model on the common rows: the admin confirms
            assert f"Promote v{candidate.version} anyway" in response.content.decode()
            response = client.post(
                reverse("reviews:scoring-model-promote", args=[candidate.pk]),
                {"confirm": "yes"},
                HTTP_HX_REQUEST="true",
            )

    assert response.status_code == 200
    assert f"Scoring model v{candidate.version} is active" in response.content.decode()
    candidate.refresh_from_db()
    active.refresh_from_db()
    assert candidate.status == ModelStatus.ACTIVE and active.status == ModelStatus.RETIRED
    event = AuditEvent.objects.get(action="model_promoted")
    assert event.actor == admin_user and event.target_id == str(candidate.pk)


def test_the_model_page_shows_each_source_held_out(classifier, admin_user):
    loso = {
        "xstest-prompts": {"rows": 450, "shared": 1350, "request_harmful": {"auroc": 0.758}, "risk": {"auroc": 0.761}},
        "gptfuzz": {"rows": 6574, "shared": 0, "complied": {"auroc": 0.9}, "risk": {"auroc": 0.843}},
    }
    ScoringModel.objects.create(
        version=7,
        encoder="all-MiniLM-L6-v2",
        status=ModelStatus.READY,
        training_dataset=classifier,
        metrics={"train_size": 80, "val_size": 20, "per_label": {}, "loso": loso},
    )

    html = _login(admin_user).get(reverse("reviews:datasets")).content.decode()

    assert "Leave one source out: how v7 does on each of its 2 sources when trained without it" in html
    section = html[html.index('class="model-loso"') :]
    gptfuzz, xstest = section.index(">gptfuzz<"), section.index(">xstest-prompts<")
    assert gptfuzz < xstest  # sorted by name
    row = section[xstest : section.index("</tr>", xstest)]
    assert [cell.split(">")[-1] for cell in row.split("</td>")[:-1]] == ["450", "1350", "0.758", "—", "—", "0.761"]


def test_promoting_a_model_that_is_not_ready_says_why(classifier, admin_user):
    model = model_train(config=TrainConfig(max_epochs=5, patience=2), dataset=classifier)
    ScoringModel.objects.filter(pk=model.pk).update(status=ModelStatus.FAILED)

    response = _login(admin_user).post(
        reverse("reviews:scoring-model-promote", args=[model.pk]), HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 409
    assert "only a ready or retired model can be promoted" in response.content.decode()
    assert not AuditEvent.objects.filter(action="model_promoted").exists()


def test_metric_trend_knows_lower_calibration_error_is_better():
    wide, narrow_high, narrow_low = (0.7, 0.95), (0.88, 0.92), (0.78, 0.82)
    assert MetricPair("auroc", 0.9, 0.8, narrow_high, narrow_low).trend == "up"
    assert MetricPair("auroc", 0.8, 0.9, narrow_low, narrow_high).trend == "down"
    assert MetricPair("ece", 0.05, 0.1, (0.04, 0.06), (0.09, 0.11)).trend == "up"
    assert MetricPair("f1", None, 0.5).trend == ""
    assert MetricPair("auroc", 0.9, 0.8, wide, narrow_low).trend == ""  # the intervals overlap


def test_the_comparison_colours_only_differences_the_intervals_support():
    from reviews.scoring.retraining import auroc_interval, model_comparison

    def model(auroc: float, positives: int, support: int) -> ScoringModel:
        metrics = {"per_label": {"harmful": {"auroc": auroc, "positives": positives, "support": support}}}
        return ScoringModel(version=1, metrics=metrics)

    # 0.001 apart on validation splits with 3 positives each: shown with intervals, not coloured.
    [row] = model_comparison(candidate=model(0.951, 3, 40), active=model(0.950, 3, 40))
    auroc = row.metrics[0]
    assert auroc.trend == "" and auroc.candidate_interval is not None and auroc.active_interval is not None
    # Far apart on large splits: coloured.
    [row] = model_comparison(candidate=model(0.95, 500, 1000), active=model(0.70, 500, 1000))
    assert row.metrics[0].trend == "up"
    # Without the class counts (or with one class) there is no interval, so no colour.
    assert auroc_interval(0.9, 0, 40) is None
    [row] = model_comparison(
        candidate=ScoringModel(version=2, metrics={"per_label": {"harmful": {"auroc": 0.99}}}),
        active=model(0.5, 500, 1000),
    )
    assert row.metrics[0].trend == ""


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_demo_escalations_are_raised_by_the_reviewer_resolved_by_the_senior_and_exported(client):
    summary = demo_seed(password="demo", conversations=100, train=False)

    assert summary.escalated == 2
    escalations = list(Escalation.objects.select_related("raised_by", "resolved_by", "resolution"))
    assert len(escalations) == 2
    for escalation in escalations:
        assert escalation.status == EscalationStatus.RESOLVED and escalation.item.status == ItemStatus.ESCALATED
        assert escalation.raised_by.username == "reviewer" and escalation.resolved_by.username == "senior"
        assert escalation.resolution is not None and escalation.resolution.is_final
    assert AuditEvent.objects.filter(action="escalation_resolved").count() == 2

    assert client.login(username="reviewer", password="demo")
    page = client.get(reverse("reviews:my-escalations")).content.decode()
    assert all(escape(escalation.reason) in page for escalation in escalations)
    snapshot = _snapshot("eval")
    assert {e.resolution_id for e in escalations} <= set(lineage_decision_ids(dataset=snapshot))

    again = demo_seed(password="demo", conversations=100, train=False)
    assert again.escalated == 0 and Escalation.objects.count() == 2
