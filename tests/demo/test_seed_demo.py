"""`manage.py seed_demo`: what `make demo` shows a first-time user."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from reviews.imports.services import REFERENCE_SOURCES
from reviews.models import Conversation, Decision, ReviewItem, Score, ScoringModel
from tests.imports.test_reference_conversations import shipped_rows

# Real commits, as `make demo` does them: tasks run in-process right after each commit.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def seed():
    def run(n: int = 40, *options: str) -> str:
        out = StringIO()
        call_command("seed_demo", "--conversations", str(n), *options, stdout=out)
        return out.getvalue()

    return run


def test_demo_users_log_in_with_the_demo_password(client, settings, seed):
    settings.DEMO_PASSWORD = "s3cret-demo"
    seed(40, "--no-train")

    for username in ("admin", "senior", "reviewer"):
        assert client.login(username=username, password="s3cret-demo"), username


def test_demo_trains_a_first_model_that_scores_the_open_backlog(seed):
    seed(40)

    # 40 flagged, and as many the detectors let pass; the model learnt from Oversight's reference conversations too
    assert Conversation.objects.exclude(source__name__in=REFERENCE_SOURCES).count() == 80
    shipped = shipped_rows()
    assert Conversation.objects.filter(source__name__in=REFERENCE_SOURCES).count() == shipped
    model = ScoringModel.objects.get(status="active")
    assert model.metrics["per_label"]["harmful"]["support"] > 0 and model.metrics["reference"]
    items = ReviewItem.objects.exclude(conversation__source__name__in=REFERENCE_SOURCES)
    routed = items.count()
    decided = items.filter(status="done")
    open_items = items.filter(status="open")
    assert decided.count() == int(40 * 0.6)
    # Every decided item has its decision; a double-reviewed one may have a second (the demo senior's).
    assert Decision.objects.filter(item__in=decided).values("item").distinct().count() == decided.count()
    assert open_items.count() == routed - decided.count() > 0
    # Open items are ranked by the model's risk, not the detectors' fallback.
    producers = set(Score.objects.filter(conversation__review_items__in=open_items).values_list("producer", flat=True))
    assert f"model-v{model.version}" in producers
    for item in open_items:
        assert item.risk == Score.objects.get(conversation=item.conversation, producer=f"model-v{model.version}").risk


def test_seeding_twice_adds_nothing(seed):
    seed(40, "--no-train")
    output = seed(40, "--no-train")

    assert "0 new, 80 already there" in output
    assert Conversation.objects.count() == 80
