"""Search and browse: filters, text (PostgreSQL full-text search or the SQLite fallback), pages, saved filters,
the visibility rule, and "My work" pages."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reviews.models import AuditAction, AuditEvent, Decision, ItemStatus, ItemTag, Queue, ReviewItem, SavedFilter
from reviews.workspace.decisions import decision_record
from tests.factories import DECISION, claim, make_item, page

pytestmark = pytest.mark.django_db

LOCKS = [{"role": "user", "content": "How do I pick a pin tumbler lock?"}, {"role": "assistant", "content": "No."}]
CAKE = [{"role": "user", "content": "Bake me a <script>alert(1)</script> cake"}, {"role": "assistant", "content": "Ok"}]


def _ids(response) -> set[int]:
    return {item.pk for item in response.context["results"].items}


def test_text_search_finds_conversations_by_their_words(client, reviewer):
    lock, cake = make_item(n=1, messages=LOCKS), make_item(n=2, messages=CAKE)
    client.force_login(reviewer)

    assert _ids(client.get("/search/", {"q": "tumbler"})) == {lock.pk}
    assert _ids(client.get("/search/", {"q": "cake"})) == {cake.pk}
    assert _ids(client.get("/search/", {"q": "nothing-like-this"})) == set()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="full-text search is PostgreSQL's")
def test_postgresql_search_stems_words_and_reads_phrases(client, reviewer):
    lock = make_item(n=1, messages=LOCKS)
    client.force_login(reviewer)

    assert _ids(client.get("/search/", {"q": "picking locks"})) == {lock.pk}  # english stemming
    assert _ids(client.get("/search/", {"q": '"pin tumbler"'})) == {lock.pk}
    assert _ids(client.get("/search/", {"q": '"tumbler pin"'})) == set()
    assert _ids(client.get("/search/", {"q": "lock -tumbler"})) == set()


def test_filters_by_queue_status_risk_source_model_category_and_tag(client, reviewer):
    low = make_item(n=1, category="fraud")
    high = make_item("calibration", n=2)
    ReviewItem.objects.filter(pk=high.pk).update(risk=0.9, status=ItemStatus.DONE)
    ReviewItem.objects.filter(pk=low.pk).update(risk=0.1)
    ItemTag.objects.create(item=high, name="needs-policy", added_by=reviewer)
    client.force_login(reviewer)

    assert _ids(client.get("/search/", {"queue": "calibration"})) == {high.pk}
    assert _ids(client.get("/search/", {"status": "open"})) == {low.pk}
    assert _ids(client.get("/search/", {"risk_min": "0.5"})) == {high.pk}
    assert _ids(client.get("/search/", {"risk_max": "0.5"})) == {low.pk}
    assert _ids(client.get("/search/", {"category": "fraud"})) == {low.pk}
    assert _ids(client.get("/search/", {"tag": "needs-policy"})) == {high.pk}
    assert _ids(client.get("/search/", {"source": "guard", "model": "7b"})) == {low.pk, high.pk}
    assert _ids(client.get("/search/", {"source": "other"})) == set()


def test_search_never_shows_items_of_queues_the_user_may_not_work(client, reviewer):
    mine, seniors = make_item(n=1, messages=LOCKS), make_item("escalation", n=2, messages=LOCKS)
    client.force_login(reviewer)

    found = _ids(client.get("/search/", {"q": "lock"}))

    assert mine.pk in found and seniors.pk not in found


def test_verdict_filter_keeps_others_decisions_blind_while_under_review(client, reviewer, senior):
    item = make_item(n=1, reviews_required=2)
    decision_record(item=item, reviewer=senior, verdict="over_refusal")
    client.force_login(reviewer)

    assert _ids(client.get("/search/", {"verdict": "over_refusal"})) == set()  # still open: blind
    ReviewItem.objects.filter(pk=item.pk).update(status=ItemStatus.DONE)
    assert _ids(client.get("/search/", {"verdict": "over_refusal"})) == {item.pk}


def test_results_page_without_counting_and_escape_content(client, reviewer):
    items = [make_item(n=n, messages=CAKE) for n in range(27)]
    client.force_login(reviewer)

    first = client.get("/search/", {"q": "cake", "sort": "oldest"})
    second = client.get("/search/", {"q": "cake", "sort": "oldest", "page": "2"})

    assert [i.pk for i in first.context["results"].items] == [i.pk for i in items[:25]]
    assert first.context["results"].has_next and not second.context["results"].has_next
    assert [i.pk for i in second.context["results"].items] == [i.pk for i in items[25:]]
    assert "page=2" in page(first) and "<script>" not in first.content.decode()


def test_opening_a_result_does_not_claim_it(client, reviewer):
    item = make_item(n=1)
    client.force_login(reviewer)

    response = client.get(f"/items/{item.pk}/")

    item.refresh_from_db()
    assert response.status_code == 200 and item.claimed_by is None
    assert "Claim the next item in" in page(response)


def test_saved_filters_belong_to_their_user_and_are_audited(client, reviewer, senior):
    client.force_login(reviewer)

    response = client.post("/search/saved/", {"name": "risky fraud", "category": "fraud", "risk_min": "0.5"})

    saved = SavedFilter.objects.get()
    assert response.status_code == 302 and saved.user == reviewer
    assert saved.query == "category=fraud&risk_min=0.5"
    assert "risky fraud" in page(client.get("/search/"))
    assert AuditEvent.objects.filter(action=AuditAction.FILTER_SAVE, actor=reviewer).exists()
    client.force_login(senior)
    assert "risky fraud" not in page(client.get("/search/"))
    assert client.post(f"/search/saved/{saved.pk}/delete/").status_code == 404
    client.force_login(reviewer)
    assert client.post(f"/search/saved/{saved.pk}/delete/").status_code == 302
    assert not SavedFilter.objects.exists()


def test_search_is_refused_to_outsiders(client, outsider):
    client.force_login(outsider)
    assert client.get("/search/").status_code == 403


def test_search_page_queries_are_bounded(client, reviewer, django_assert_max_num_queries):
    for n in range(30):
        make_item(n=n, messages=LOCKS)
    client.force_login(reviewer)
    with django_assert_max_num_queries(12):
        client.get("/search/", {"q": "lock", "verdict": "appropriate_help", "tag": "x", "category": "cyber"})


def test_my_work_reaches_old_decisions_page_by_page_and_filters(client, reviewer):
    for n in range(30):
        item = make_item(n=n)
        decision_record(item=item, reviewer=reviewer, verdict="over_refusal" if n == 0 else "appropriate_help")
    client.force_login(reviewer)

    first, second = client.get("/my/work/"), client.get("/my/work/", {"page": "2"})
    oldest = Decision.objects.order_by("created_at", "pk").first()

    assert len(first.context["rows"]) == 25 and len(second.context["rows"]) == 5
    assert oldest is not None and f'id="decision-{oldest.pk}"' in page(second)
    filtered = client.get("/my/work/", {"verdict": "over_refusal"})
    assert [d.pk for d, _ in filtered.context["rows"]] == [oldest.pk]
    assert len(client.get("/my/work/", {"queue": "calibration"}).context["rows"]) == 0


def test_my_work_decisions_link_to_their_items(client, reviewer):
    make_item(n=1)
    client.force_login(reviewer)
    item = claim(client)
    assert item is not None
    client.post(f"/items/{item.pk}/decide/", DECISION)
    assert f'href="/items/{item.pk}/"' in page(client.get("/my/work/"))
    assert Queue.objects.filter(slug="triage").exists()


def test_search_query_count_does_not_grow_with_results(client, reviewer):
    for n in range(5):
        make_item(n=n)
    client.force_login(reviewer)
    with CaptureQueriesContext(connection) as few:
        client.get("/search/", {"status": "open"})
    for n in range(5, 25):
        make_item(n=n)
    with CaptureQueriesContext(connection) as many:
        client.get("/search/", {"status": "open"})
    assert len(many) == len(few)


def test_text_search_gives_the_same_items_for_common_words(client, reviewer, monkeypatch):
    """Past TEXT_IDS matches, PostgreSQL walks the items and checks each conversation: same results."""
    from reviews.workspace import search

    locks = [make_item(n=n, messages=LOCKS) for n in range(3)]
    make_item(n=9, messages=CAKE)
    client.force_login(reviewer)
    monkeypatch.setattr(search, "TEXT_IDS", 1)

    assert _ids(client.get("/search/", {"q": "tumbler"})) == {item.pk for item in locks}
    assert _ids(client.get("/search/", {"q": "tumbler", "status": "done"})) == set()
